// Maps user paths to host paths for the local store, and refuses any that leave the home.
//
// A user path is resolved through the real path of its nearest existing ancestor, and anything that lands
// outside the home's real path is refused, so a link inside the home (to a file or a folder) cannot reach
// the rest of the host. Operations on an entry itself (delete, rename) resolve only its parent and never
// follow the entry, so a stray link can still be removed without touching what it points to.
//
// Known limit: the check and the operation are separate system calls. A process that can create links in
// the home at the same moment (a kernel running as the same OS user) could race them; on the embedded
// default such a process can already read what the Atrium process can, so this guards against mistakes and
// uploaded links rather than a hostile local user.

import { promises as fs } from 'node:fs';
import path from 'node:path';

import { StorageError, describePath } from './errors';
import { fromFsError, isErrno, storageError } from './fs-errors';

async function exists(hostPath: string): Promise<boolean> {
  try {
    await fs.lstat(hostPath);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return false;
    throw error;
  }
}

/** Takes normalized user paths (see paths.ts); returns host paths that stay inside the home. */
export class HomeConfinement {
  constructor(private readonly root: string) {}

  async realHome(): Promise<string> {
    try {
      return await fs.realpath(this.root);
    } catch (error) {
      if (!isErrno(error, 'ENOENT', 'ENOTDIR')) throw fromFsError(error, '');
      throw new StorageError(
        'UNAVAILABLE',
        'Your home folder has not been created yet. Sign in again; if it persists, tell an administrator.',
        { cause: error },
      );
    }
  }

  /** Also used by list() for links it finds in a folder. */
  refuseOutside(home: string, realPath: string, rel: string): void {
    const inside = realPath === home || realPath.startsWith(home.endsWith(path.sep) ? home : home + path.sep);
    if (inside) return;
    throw new StorageError(
      'PERMISSION_DENIED',
      `${describePath(rel)} leads outside your home folder through a link, so it cannot be used. ` +
        'Copy the file into your home folder instead.',
      { path: rel },
    );
  }

  /**
   * Host path for `rel` with every link in its existing part resolved, after checking it stays in the home.
   * The missing tail (for a write or mkdir) is appended as plain names, which cannot leave the folder.
   */
  async resolve(rel: string): Promise<{ home: string; hostPath: string }> {
    const home = await this.realHome();
    const segments = rel === '' ? [] : rel.split('/');
    for (let existing = segments.length; existing >= 0; existing--) {
      let real: string;
      try {
        real = await fs.realpath(path.join(home, ...segments.slice(0, existing)));
      } catch (error) {
        if (isErrno(error, 'ENOENT', 'ENOTDIR')) continue;
        throw fromFsError(error, rel);
      }
      this.refuseOutside(home, real, rel);
      const firstMissing = segments[existing];
      if (firstMissing !== undefined) {
        // realpath failed on it yet lstat finds it: a dangling link, whose target we cannot vouch for.
        if (await exists(path.join(real, firstMissing))) {
          throw new StorageError(
            'PERMISSION_DENIED',
            `${describePath(rel)} goes through a link whose target is missing or outside your home folder. Remove or fix the link.`,
            { path: rel },
          );
        }
      }
      return { home, hostPath: path.join(real, ...segments.slice(existing)) };
    }
    // Only reachable if the home vanished after realHome(); report it the same way.
    await this.realHome();
    throw storageError('UNAVAILABLE', rel);
  }

  /** Host path of the entry itself: its parent resolved and checked, its own name never followed. */
  async resolveEntry(rel: string): Promise<string> {
    if (rel === '') return this.realHome();
    const slash = rel.lastIndexOf('/');
    const { hostPath } = await this.resolve(slash === -1 ? '' : rel.slice(0, slash));
    return path.join(hostPath, rel.slice(slash + 1));
  }
}
