// Small helpers every HomeStore shares: a per-process lock on a target path, so two store instances for the
// same user (one per request) serialize their final check-and-rename (it does not span replicas), and the
// name/parent split of user-relative paths.
const targetLocks = new Map<string, Promise<void>>();

/** Runs `task` after every earlier task on the same key; keys are store-specific (host path, HDFS path). */
export async function withTargetLock<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = targetLocks.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => mine);
  targetLocks.set(key, tail);
  await previous;
  try {
    return await task();
  } finally {
    release();
    if (targetLocks.get(key) === tail) targetLocks.delete(key);
  }
}

export function nameOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

export function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash === -1 ? '' : rel.slice(0, slash);
}
