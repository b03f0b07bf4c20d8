// The on-demand file-server pod that serves one user's home volume (kernel-launchers/kubernetes/fileserver.py),
// and the way Atrium reaches it: through the API server's pod proxy, never a route to pod IPs. One pod per
// user, created on first use with a fresh secret token, scheduled beside the user's kernel pods (pod affinity
// on the user label, so a ReadWriteOnce volume can be mounted by both), and deleted after it has been idle
// for a while (Atrium's timer; the server also exits on its own after longer, in case this portal is gone).
// Readiness comes from the namespace's one pod watch plus a health request, each with a deadline.
// Touch this file when the file-server pod or its lifecycle changes; the HTTP API is in pvc-store.ts.
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeApi } from '../kubernetes/api';
import { ANNOTATIONS, LABELS, MANAGED_BY, fileServerPodName, labelValue } from '../kubernetes/names';
import { podProgress, unschedulableReason } from '../kubernetes/pod-status';
import type { PodWatcher, PodWatchers } from '../kubernetes/pod-watch';
import {
  POD_IP_ENV,
  assertPodIdentity,
  cloneJson,
  envEntries,
  literal,
  sameNodeAsUser,
  userContainerSecurityContext,
  userSecurityContext,
  type PodIdentity,
} from '../kubernetes/pods';
import { StorageError } from './errors';

export const BUNDLED_FILESERVER_POD_TEMPLATE = fileURLToPath(new URL('../../kernel-launchers/kubernetes/fileserver-pod.json', import.meta.url));
export const BUNDLED_FILESERVER_SCRIPT = fileURLToPath(new URL('../../kernel-launchers/kubernetes/fileserver.py', import.meta.url));
export const FILESERVER_CONTAINER = 'fileserver';
export const FILESERVER_PORT = 8080;
const TOKEN_ENV = 'ATRIUM_FILESERVER_TOKEN';
const HOME_VOLUME = 'home';

/** One HTTP request to a user's file server; the answer once its headers arrived (the body streams). */
export interface FileServerRequest {
  method: 'GET' | 'PUT' | 'POST';
  /** Path and query, starting with '/'. */
  path: string;
  body?: Readable | Buffer;
}

/** Where a user's file server is and how to talk to it. Implemented by the pod proxy (and a direct one for tests). */
export interface FileServerEndpoint {
  request(request: FileServerRequest): Promise<http.IncomingMessage>;
}

export interface FileServerPodPlan {
  podName: string;
  namespace: string;
  username: string;
  team: string | null;
  ids: PodIdentity;
  image: string;
  /** [python, fileserver.py] inside the image. */
  command: string[];
  token: string;
  claimName: string;
  mountPath: string;
  /** The server's own idle exit (a backstop; Atrium deletes idle pods sooner). */
  selfExitSeconds: number;
  template: V1Pod;
}

/** The file server's pod: the user's ids (never root), the user's claim, the token, beside the user's kernels. */
export function buildFileServerPod(plan: FileServerPodPlan): V1Pod {
  assertPodIdentity(plan.ids, plan.username);
  const pod = cloneJson(plan.template);
  const userLabel = labelValue(plan.username);
  pod.metadata = {
    ...pod.metadata,
    name: plan.podName,
    namespace: plan.namespace,
    labels: {
      ...pod.metadata?.labels,
      [LABELS.managedBy]: MANAGED_BY,
      [LABELS.component]: 'fileserver',
      [LABELS.user]: userLabel,
      ...(plan.team ? { [LABELS.team]: labelValue(plan.team) } : {}),
    },
    annotations: { ...pod.metadata?.annotations, [ANNOTATIONS.username]: plan.username },
  };
  const spec = pod.spec!;
  spec.restartPolicy = 'Never';
  spec.automountServiceAccountToken = false;
  spec.securityContext = userSecurityContext(spec.securityContext, plan.ids);
  spec.affinity = { ...spec.affinity, podAffinity: sameNodeAsUser(userLabel).podAffinity };
  spec.volumes = [...(spec.volumes ?? []).filter((v) => v.name !== HOME_VOLUME), { name: HOME_VOLUME, persistentVolumeClaim: { claimName: plan.claimName } }];
  const container = spec.containers[0]!;
  container.name = FILESERVER_CONTAINER;
  container.image = plan.image;
  container.command = plan.command.map(literal);
  container.args = undefined;
  container.ports = [{ name: 'files', containerPort: FILESERVER_PORT, protocol: 'TCP' }];
  container.securityContext = userContainerSecurityContext(container.securityContext, plan.ids);
  const ours = envEntries({
    [TOKEN_ENV]: plan.token,
    ATRIUM_FILESERVER_ROOT: plan.mountPath,
    ATRIUM_FILESERVER_PORT: String(FILESERVER_PORT),
    ATRIUM_FILESERVER_IDLE_SECONDS: String(plan.selfExitSeconds),
    HOME: plan.mountPath,
  });
  const reserved = new Set([...ours.map((e) => e.name), POD_IP_ENV.name]);
  container.env = [...(container.env ?? []).filter((e) => !reserved.has(e.name)), ...ours, POD_IP_ENV];
  container.volumeMounts = [{ name: HOME_VOLUME, mountPath: plan.mountPath }];
  return pod;
}

/** The token a running file-server pod was created with (read back after a portal restart). */
export function tokenOf(pod: V1Pod): string | undefined {
  const container = pod.spec?.containers.find((c) => c.name === FILESERVER_CONTAINER);
  const value = container?.env?.find((e) => e.name === TOKEN_ENV)?.value;
  return value && /^[A-Za-z0-9_-]{32,}$/.test(value) ? value : undefined;
}

// --- the pods and their lifecycle ---

export interface FileServerPodsOptions {
  api: KubeApi;
  watchers: PodWatchers;
  image: string;
  /** The Python and fileserver.py inside the image. */
  python: string;
  script: string;
  mountPath: string;
  template: V1Pod;
  /** Atrium deletes a file server after this long without a request. */
  idleMs: number;
  /** From creating the pod to its first healthy answer. */
  startDeadlineMs: number;
  /** Deadline of one request's answer (headers); bodies stream on. */
  requestTimeoutMs: number;
  /** How long a file server may stay unschedulable before giving up. Default 0. */
  unschedulableGraceMs?: number;
  logger?: { warn(message: string, fields?: Record<string, unknown>): void };
}

export interface FileServerTarget {
  username: string;
  namespace: string;
  team: string | null;
  ids: PodIdentity;
  claimName: string;
}

interface Running {
  namespace: string;
  pod: string;
  token: string;
  inFlight: number;
  idleTimer: NodeJS.Timeout | undefined;
}

const unavailable = (why: string, cause?: unknown) =>
  new StorageError('UNAVAILABLE', `Your home folder could not be reached: ${why}. Try again in a moment; if it keeps happening, tell an administrator.`, { cause });

/**
 * The file-server pods of this portal process. endpointFor() starts (or finds) a user's pod and hands back an
 * endpoint whose requests keep it from going idle. stop() deletes every pod it started.
 */
export class FileServerPods {
  private readonly running = new Map<string, Running>();
  private readonly starting = new Map<string, Promise<Running>>();
  private stopped = false;

  constructor(private readonly opts: FileServerPodsOptions) {}

  endpointFor(target: FileServerTarget): FileServerEndpoint {
    return {
      request: async (request) => {
        const server = await this.ensure(target);
        server.inFlight++;
        this.clearIdle(server);
        let response: http.IncomingMessage;
        try {
          response = await this.opts.api.proxy({
            namespace: server.namespace,
            pod: server.pod,
            port: FILESERVER_PORT,
            method: request.method,
            path: request.path,
            headers: { 'x-atrium-token': server.token, ...(request.body instanceof Buffer ? { 'content-length': String(request.body.length) } : {}) },
            body: request.body,
            timeoutMs: this.opts.requestTimeoutMs,
          });
        } catch (error) {
          this.release(target.username, server);
          throw error;
        }
        // The pod may have gone (idle exit, another replica's timer): forget it so the next request starts one.
        if (response.statusCode === 502 || response.statusCode === 503) this.forget(target.username, server);
        let released = false;
        const release = () => {
          if (!released) this.release(target.username, server);
          released = true;
        };
        response.once('end', release);
        response.once('close', release);
        response.once('error', release);
        return response;
      },
    };
  }

  /** The user's running file server: found, or created and waited for (at most startDeadlineMs). */
  private ensure(target: FileServerTarget): Promise<Running> {
    if (this.stopped) return Promise.reject(unavailable('the portal is stopping'));
    const known = this.running.get(target.username);
    const watcher = this.opts.watchers.forNamespace(target.namespace);
    if (known) {
      const pod = watcher.get(known.pod);
      const progress = pod && podProgress(pod, FILESERVER_CONTAINER);
      if (progress?.kind === 'running' && !pod?.metadata?.deletionTimestamp) return Promise.resolve(known);
      this.forget(target.username, known);
    }
    let pending = this.starting.get(target.username);
    if (!pending) {
      pending = this.start(target, watcher).finally(() => this.starting.delete(target.username));
      this.starting.set(target.username, pending);
    }
    return pending;
  }

  private async start(target: FileServerTarget, watcher: PodWatcher): Promise<Running> {
    const deadline = Date.now() + this.opts.startDeadlineMs;
    const name = fileServerPodName(target.username);
    try {
      await watcher.synced(this.opts.startDeadlineMs);
      let pod = watcher.get(name) ?? (await this.opts.api.readPod(target.namespace, name));
      // A pod from before (this process's or another's): reuse it when it runs, else clear it away first.
      if (pod) {
        const progress = podProgress(pod, FILESERVER_CONTAINER);
        const token = tokenOf(pod);
        if (progress.kind !== 'ended' && !pod.metadata?.deletionTimestamp && token) {
          const server: Running = { namespace: target.namespace, pod: name, token, inFlight: 0, idleTimer: undefined };
          await this.waitReady(watcher, server, deadline);
          return this.hold(target.username, server);
        }
        await this.opts.api.deletePod(target.namespace, name, 0);
        await this.waitGone(watcher, name, deadline);
        pod = undefined;
      }
      const token = randomBytes(32).toString('base64url');
      const created = await this.opts.api.createPod(
        target.namespace,
        buildFileServerPod({
          podName: name,
          namespace: target.namespace,
          username: target.username,
          team: target.team,
          ids: target.ids,
          image: this.opts.image,
          command: [this.opts.python, this.opts.script],
          token,
          claimName: target.claimName,
          mountPath: this.opts.mountPath,
          selfExitSeconds: Math.max(60, Math.ceil((this.opts.idleMs * 3) / 1000)),
          template: this.opts.template,
        }),
      );
      watcher.observe(created);
      const server: Running = { namespace: target.namespace, pod: name, token, inFlight: 0, idleTimer: undefined };
      try {
        await this.waitReady(watcher, server, deadline);
      } catch (error) {
        // Nothing is left behind: a file server that did not come up is deleted.
        await this.opts.api.deletePod(target.namespace, name, 0).catch(() => {});
        throw error;
      }
      return this.hold(target.username, server);
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw unavailable(`its file server could not be started (${(error as Error).message})`, error);
    }
  }

  /** Waits for the pod to run (failing at once if it cannot), then for the server to answer /healthz. */
  private async waitReady(watcher: PodWatcher, server: Running, deadline: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      let unschedulableSince: number | undefined;
      const check = (): boolean => {
        const pod = watcher.get(server.pod);
        if (!pod) return false;
        const progress = podProgress(pod, FILESERVER_CONTAINER);
        if (progress.kind === 'running') {
          finish();
          resolve();
          return true;
        }
        if (progress.kind === 'ended') {
          finish();
          reject(unavailable(`its file server stopped (${progress.reason})`));
          return true;
        }
        if (progress.unschedulable !== undefined) {
          unschedulableSince ??= Date.now();
          if (Date.now() - unschedulableSince >= (this.opts.unschedulableGraceMs ?? 0)) {
            finish();
            reject(unavailable(`its file server ${unschedulableReason(`${server.namespace}/${server.pod}`, progress.unschedulable)}`));
            return true;
          }
        }
        return false;
      };
      const unsubscribe = watcher.subscribe(server.pod, (event) => {
        if (event.type === 'deleted') {
          finish();
          reject(unavailable('its file server was deleted while starting'));
        } else check();
      });
      const timer = setTimeout(() => {
        finish();
        reject(unavailable(`its file server did not start within ${this.opts.startDeadlineMs} ms`));
      }, Math.max(0, deadline - Date.now()));
      const finish = () => {
        unsubscribe();
        clearTimeout(timer);
      };
      check();
    });
    // Running is not listening yet: ask until it answers, within the same deadline.
    for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
      let status: number | undefined;
      try {
        const response = await this.opts.api.proxy({
          namespace: server.namespace,
          pod: server.pod,
          port: FILESERVER_PORT,
          method: 'GET',
          path: '/healthz',
          headers: { 'x-atrium-token': server.token },
          timeoutMs: Math.max(1_000, Math.min(this.opts.requestTimeoutMs, deadline - Date.now())),
        });
        status = response.statusCode;
        response.resume();
      } catch {
        status = undefined;
      }
      if (status === 200) return;
      if (status === 401) throw unavailable('its file server does not accept this portal\'s token');
      if (Date.now() + delay > deadline) throw unavailable(`its file server did not answer within ${this.opts.startDeadlineMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  private async waitGone(watcher: PodWatcher, name: string, deadline: number): Promise<void> {
    if (!watcher.get(name)) return;
    await new Promise<void>((resolve, reject) => {
      const unsubscribe = watcher.subscribe(name, (event) => {
        if (event.type !== 'deleted') return;
        unsubscribe();
        clearTimeout(timer);
        resolve();
      });
      const timer = setTimeout(() => {
        unsubscribe();
        reject(unavailable('an old file server did not go away in time'));
      }, Math.max(0, deadline - Date.now()));
    });
  }

  private hold(username: string, server: Running): Running {
    this.running.set(username, server);
    this.armIdle(username, server);
    return server;
  }

  private release(username: string, server: Running): void {
    server.inFlight = Math.max(0, server.inFlight - 1);
    if (server.inFlight === 0 && this.running.get(username) === server) this.armIdle(username, server);
  }

  private clearIdle(server: Running): void {
    clearTimeout(server.idleTimer);
    server.idleTimer = undefined;
  }

  private armIdle(username: string, server: Running): void {
    this.clearIdle(server);
    server.idleTimer = setTimeout(() => {
      if (server.inFlight > 0 || this.running.get(username) !== server) return;
      this.forget(username, server);
      void this.opts.api
        .deletePod(server.namespace, server.pod, 0)
        .catch((error: unknown) => this.opts.logger?.warn('could not delete an idle file server', { pod: server.pod, error: String(error) }));
    }, this.opts.idleMs);
    server.idleTimer.unref();
  }

  private forget(username: string, server: Running): void {
    this.clearIdle(server);
    if (this.running.get(username) === server) this.running.delete(username);
  }

  /** The pod name of a user's running file server (tests and admins). */
  runningPod(username: string): string | undefined {
    return this.running.get(username)?.pod;
  }

  /** Deletes the user's file server now (e.g. before deleting their volume). */
  async stopFor(username: string): Promise<void> {
    const server = this.running.get(username);
    if (!server) return;
    this.forget(username, server);
    await this.opts.api.deletePod(server.namespace, server.pod, 0);
  }

  /** Deletes every file server this process holds. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.starting.values()]);
    await Promise.all([...this.running.keys()].map((username) => this.stopFor(username).catch(() => {})));
  }
}
