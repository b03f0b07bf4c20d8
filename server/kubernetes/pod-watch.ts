// One watch of Atrium's pods per namespace, shared by every kernel and file server in it (never a poll per
// kernel): list once, then watch from the list's resourceVersion with bookmarks; when the server ends the
// watch (its timeout) it resumes from the last version seen; when that version is too old (410 Gone) or the
// watch fails, it lists again (with a growing, randomized back-off while the API server is unreachable) and
// tells subscribers about pods that vanished meanwhile — after checking each one really is gone, so a pod
// created just after a list is never declared deleted.
// start()/stop() bound the loop; a subscriber's error is logged and survived.
// Touch this file when Atrium needs more than pods from a watch.
import type { V1Pod } from '@kubernetes/client-node';
import { consoleLogger, type KernelLogger } from '../kernels/connection';
import { KubeError, type KubeApi } from './api';

/** What subscribers of one pod hear: its latest object, or that it is gone. */
export type PodEvent = { type: 'updated'; pod: V1Pod } | { type: 'deleted'; pod?: V1Pod };
type Listener = (event: PodEvent) => void;

const WATCH_TIMEOUT_SECONDS = 300;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

export interface PodWatcherOptions {
  api: KubeApi;
  namespace: string;
  labelSelector: string;
  logger?: KernelLogger;
}

export class PodWatcher {
  readonly namespace: string;
  readonly labelSelector: string;
  private readonly api: KubeApi;
  private readonly logger: KernelLogger;
  private readonly pods = new Map<string, V1Pod>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private resourceVersion: string | undefined;
  private stopped = true;
  private running: Promise<void> | undefined;
  private current: AbortController | undefined;
  private wake: (() => void) | undefined;
  private syncedOnce: Promise<void>;
  private markSynced!: () => void;
  private failures = 0;
  /** Why the last list or watch failed (a 403 names the missing permission), for the errors of waiters. */
  private lastError: string | undefined;
  /** Lists and watch requests made (tests check that kernels share them). */
  requests = 0;

  constructor(options: PodWatcherOptions) {
    this.api = options.api;
    this.namespace = options.namespace;
    this.labelSelector = options.labelSelector;
    this.logger = options.logger ?? consoleLogger;
    this.syncedOnce = new Promise((resolve) => (this.markSynced = resolve));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.abort();
    this.wake?.();
    await this.running;
    this.running = undefined;
  }

  /** Resolves once the first list is in (or rejects after `ms`): before that, "not seen" means nothing. */
  async synced(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.syncedOnce,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new KubeError(
                  `the pods of namespace ${this.namespace} could not be listed within ${ms} ms${this.lastError ? ` (${this.lastError})` : ''}`,
                  0,
                  'Timeout',
                ),
              ),
            ms,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The latest version of a pod this watcher has seen (undefined: not seen, or deleted). */
  get(name: string): V1Pod | undefined {
    return this.pods.get(name);
  }

  /** Every pod seen whose labels include `labels`. */
  matching(labels: Record<string, string>): V1Pod[] {
    return [...this.pods.values()].filter((pod) => Object.entries(labels).every(([k, v]) => pod.metadata?.labels?.[k] === v));
  }

  /** Hears every change of pod `name` until the returned function is called. */
  subscribe(name: string, listener: Listener): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(name) === set) this.listeners.delete(name);
    };
  }

  /**
   * Takes a pod object Atrium got from its own call (create, read) when it is newer than what the watch saw,
   * so a subscriber never waits for the watch to learn what Atrium already knows.
   */
  observe(pod: V1Pod): void {
    const name = pod.metadata?.name;
    if (!name) return;
    const known = this.pods.get(name);
    if (known && Number(known.metadata?.resourceVersion) >= Number(pod.metadata?.resourceVersion)) return;
    this.set(pod);
  }

  private set(pod: V1Pod): void {
    const name = pod.metadata!.name!;
    this.pods.set(name, pod);
    this.notify(name, { type: 'updated', pod });
  }

  private remove(name: string, pod?: V1Pod): void {
    const last = this.pods.get(name) ?? pod;
    this.pods.delete(name);
    this.notify(name, { type: 'deleted', pod: last });
  }

  private notify(name: string, event: PodEvent): void {
    for (const listener of [...(this.listeners.get(name) ?? [])]) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error('a pod listener failed', { pod: `${this.namespace}/${name}`, error: String(error) });
      }
    }
  }

  /** Lists, then tells about pods that vanished since (confirmed one by one: a list can predate a create). */
  private async relist(): Promise<void> {
    this.requests++;
    const list = await this.api.listPods(this.namespace, this.labelSelector);
    const listed = new Set<string>();
    for (const pod of list.items) {
      const name = pod.metadata?.name;
      if (!name) continue;
      listed.add(name);
      const known = this.pods.get(name);
      if (!known || known.metadata?.resourceVersion !== pod.metadata?.resourceVersion) this.set(pod);
    }
    for (const name of [...this.pods.keys(), ...this.listeners.keys()]) {
      if (listed.has(name)) continue;
      const now = await this.api.readPod(this.namespace, name);
      if (now) this.observe(now);
      else if (this.pods.has(name) || this.listeners.has(name)) this.remove(name);
    }
    this.resourceVersion = list.metadata?.resourceVersion;
    this.markSynced();
  }

  /** One watch, until the server closes it or it fails. Resolves with what to do next. */
  private watchOnce(): Promise<'resume' | 'relist'> {
    return new Promise((resolve) => {
      let outcome: 'resume' | 'relist' = 'resume';
      this.requests++;
      this.api
        .watchPods(
          this.namespace,
          { labelSelector: this.labelSelector, resourceVersion: this.resourceVersion, timeoutSeconds: WATCH_TIMEOUT_SECONDS },
          (type, object) => {
            const pod = object as V1Pod;
            if (type === 'ERROR') {
              // 410 Gone: our version is older than the server keeps; anything else: start over too.
              const status = object as { code?: number; message?: string };
              if (status.code !== 410) this.logger.warn('the pod watch reported an error', { namespace: this.namespace, error: status.message });
              outcome = 'relist';
              this.current?.abort();
              return;
            }
            const version = pod?.metadata?.resourceVersion;
            if (version) this.resourceVersion = version;
            if (type === 'BOOKMARK' || !pod?.metadata?.name) return;
            this.failures = 0;
            if (type === 'DELETED') this.remove(pod.metadata.name, pod);
            else this.set(pod);
          },
          (error: unknown) => {
            if (error && !this.stopped && !(error instanceof Error && error.name === 'AbortError')) {
              if (this.failures++ % 30 === 0) this.logger.warn('the pod watch ended with an error', { namespace: this.namespace, error: String(error) });
              outcome = 'relist';
            }
            resolve(outcome);
          },
        )
        .then(
          (controller) => {
            this.current = controller;
            if (this.stopped) controller.abort();
          },
          () => resolve('relist'),
        );
    });
  }

  private async loop(): Promise<void> {
    let next: 'resume' | 'relist' = 'relist';
    while (!this.stopped) {
      try {
        if (next === 'relist') {
          await this.relist();
          this.failures = 0;
        }
        const started = Date.now();
        next = await this.watchOnce();
        // A watch the server ended after a while is routine (its timeout): resume at once. One that ended at
        // once would spin: back off like a failure.
        if (next === 'resume' && Date.now() - started > 1_000) continue;
        if (next === 'resume') this.failures++;
      } catch (error) {
        this.lastError = error instanceof Error ? error.message : String(error);
        if (this.failures++ % 30 === 0) this.logger.error('listing pods failed', { namespace: this.namespace, error: String(error) });
        next = 'relist';
      }
      if (this.stopped) break;
      // Back off before listing again, growing while the API server keeps failing, randomized so replicas spread.
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.failures, 6));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ceiling / 2 + Math.random() * (ceiling / 2));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}

/** One watcher per namespace, made on first use, all stopped together. */
export class PodWatchers {
  private readonly watchers = new Map<string, PodWatcher>();
  private stopped = false;

  constructor(private readonly options: { api: KubeApi; labelSelector: string; logger?: KernelLogger }) {}

  forNamespace(namespace: string): PodWatcher {
    if (this.stopped) throw new Error('the pod watchers are stopped');
    let watcher = this.watchers.get(namespace);
    if (!watcher) {
      watcher = new PodWatcher({ ...this.options, namespace });
      this.watchers.set(namespace, watcher);
      watcher.start();
    }
    return watcher;
  }

  get all(): PodWatcher[] {
    return [...this.watchers.values()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.watchers.values()].map((w) => w.stop()));
  }
}
