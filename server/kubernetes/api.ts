// Atrium's one door to a Kubernetes API server: credentials (a kubeconfig file, the pod's service account, or
// a bearer token), the few calls the launcher and the PVC store make, each with a deadline, and typed errors
// (KubeError with the HTTP status and Kubernetes' own reason and message). Also raw requests through the API
// server's pod proxy subresource, streamed both ways (the PVC store's file server is reached that way, so
// Atrium never needs a route to pod IPs for files).
// Touch this file when Atrium needs another verb: add it to the Role in kernel-launchers/kubernetes/deploy too.
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import {
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1PodList,
  type V1Secret,
} from '@kubernetes/client-node';

export const DEFAULT_KUBE_TIMEOUT_MS = 15_000;

/** Why a Kubernetes call failed: `status` is the HTTP status (0 when the server was not reached). */
export class KubeError extends Error {
  readonly status: number;
  /** Kubernetes' machine-readable reason (NotFound, AlreadyExists, Forbidden, Expired...). */
  readonly reason: string | undefined;

  constructor(message: string, status: number, reason?: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'KubeError';
    this.status = status;
    this.reason = reason;
  }
}

export const isNotFound = (error: unknown) => error instanceof KubeError && error.status === 404;
export const isConflict = (error: unknown) => error instanceof KubeError && error.status === 409;

/** How Atrium authenticates to the API server. */
export type KubeCredentials =
  | { kind: 'kubeconfig'; file: string; context?: string }
  | { kind: 'in-cluster' }
  /** An API URL, its CA and a bearer token (e.g. a ServiceAccount token from TokenRequest). */
  | { kind: 'token'; server: string; caPem?: string; token: string };

export function loadKubeConfig(credentials: KubeCredentials): KubeConfig {
  const kc = new KubeConfig();
  switch (credentials.kind) {
    case 'kubeconfig':
      kc.loadFromFile(credentials.file);
      if (credentials.context) kc.setCurrentContext(credentials.context);
      break;
    case 'in-cluster':
      kc.loadFromCluster();
      break;
    case 'token':
      kc.loadFromOptions({
        clusters: [{ name: 'cluster', server: credentials.server, caData: credentials.caPem && Buffer.from(credentials.caPem).toString('base64'), skipTLSVerify: false }],
        users: [{ name: 'atrium', token: credentials.token }],
        contexts: [{ name: 'atrium', cluster: 'cluster', user: 'atrium' }],
        currentContext: 'atrium',
      });
      break;
  }
  if (!kc.getCurrentCluster()) throw new Error('the Kubernetes configuration names no cluster (check ATRIUM_K8S_KUBECONFIG and ATRIUM_K8S_CONTEXT)');
  return kc;
}

/** Kubernetes' Status body, when the error carries one. */
function statusOf(body: unknown): { reason?: string; message?: string } {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return { message: body.slice(0, 500) };
    }
  }
  if (value && typeof value === 'object') {
    const { reason, message } = value as { reason?: unknown; message?: unknown };
    return { reason: typeof reason === 'string' ? reason : undefined, message: typeof message === 'string' ? message : undefined };
  }
  return {};
}

/** Any failure of a client-node call as a KubeError naming what was attempted. */
export function toKubeError(error: unknown, what: string): KubeError {
  if (error instanceof KubeError) return error;
  const e = error as { code?: unknown; body?: unknown; message?: unknown };
  if (typeof e?.code === 'number' && e.code >= 100) {
    const status = statusOf(e.body);
    return new KubeError(`${what}: ${status.message ?? `HTTP ${e.code}`}`, e.code, status.reason, error);
  }
  return new KubeError(`${what}: the API server could not be reached (${String(e?.message ?? error)})`, 0, undefined, error);
}

async function withDeadline<T>(what: string, ms: number, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new KubeError(`${what}: the API server did not answer within ${ms} ms`, 0, 'Timeout')), ms);
      }),
    ]);
  } catch (error) {
    throw toKubeError(error, what);
  } finally {
    clearTimeout(timer);
  }
}

export interface ProxyRequest {
  namespace: string;
  pod: string;
  port: number;
  method: string;
  /** Path and query below the pod's root, starting with '/'. */
  path: string;
  headers?: Record<string, string>;
  /** Streamed to the pod; the caller owns errors of its own stream (see onBodyError). */
  body?: Readable | Buffer;
  timeoutMs?: number;
}

export class KubeApi {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly server: string;
  private readonly timeoutMs: number;

  constructor(kc: KubeConfig, options: { timeoutMs?: number } = {}) {
    this.kc = kc;
    this.core = kc.makeApiClient(CoreV1Api);
    this.server = kc.getCurrentCluster()!.server.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
  }

  createPod(namespace: string, body: V1Pod): Promise<V1Pod> {
    return withDeadline(`creating pod ${namespace}/${body.metadata?.name}`, this.timeoutMs, () => this.core.createNamespacedPod({ namespace, body }));
  }

  /**
   * Lifts one scheduling gate of a pod, the one at `index` in its spec, only if it is still `gate` there (a JSON
   * patch's test: a pod changed meanwhile is refused with 422, never stripped of another gate).
   */
  async removeSchedulingGate(namespace: string, name: string, index: number, gate: string): Promise<V1Pod> {
    const body = [
      { op: 'test', path: `/spec/schedulingGates/${index}/name`, value: gate },
      { op: 'remove', path: `/spec/schedulingGates/${index}` },
    ];
    return withDeadline(`lifting the scheduling gate ${gate} of pod ${namespace}/${name}`, this.timeoutMs, () =>
      this.core.patchNamespacedPod({ namespace, name, body }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)),
    );
  }

  /** The pod, or undefined when it does not exist. */
  async readPod(namespace: string, name: string): Promise<V1Pod | undefined> {
    try {
      return await withDeadline(`reading pod ${namespace}/${name}`, this.timeoutMs, () => this.core.readNamespacedPod({ namespace, name }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  listPods(namespace: string, labelSelector: string): Promise<V1PodList> {
    return withDeadline(`listing pods in ${namespace}`, this.timeoutMs, () => this.core.listNamespacedPod({ namespace, labelSelector }));
  }

  /** Deletes a pod; a pod that is already gone is fine. `graceSeconds` 0 for a pod whose container ended. */
  async deletePod(namespace: string, name: string, graceSeconds: number): Promise<void> {
    try {
      await withDeadline(`deleting pod ${namespace}/${name}`, this.timeoutMs, () =>
        this.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: graceSeconds }),
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Creates a Secret (a kernel's one-time launch token: the Role lets Atrium create and delete Secrets, never read them). */
  createSecret(namespace: string, body: V1Secret): Promise<V1Secret> {
    return withDeadline(`creating secret ${namespace}/${body.metadata?.name}`, this.timeoutMs, () => this.core.createNamespacedSecret({ namespace, body }));
  }

  /** Deletes a Secret; one that is already gone is fine. */
  async deleteSecret(namespace: string, name: string): Promise<void> {
    try {
      await withDeadline(`deleting secret ${namespace}/${name}`, this.timeoutMs, () => this.core.deleteNamespacedSecret({ namespace, name }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async readClaim(namespace: string, name: string): Promise<V1PersistentVolumeClaim | undefined> {
    try {
      return await withDeadline(`reading volume claim ${namespace}/${name}`, this.timeoutMs, () =>
        this.core.readNamespacedPersistentVolumeClaim({ namespace, name }),
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  createClaim(namespace: string, body: V1PersistentVolumeClaim): Promise<V1PersistentVolumeClaim> {
    return withDeadline(`creating volume claim ${namespace}/${body.metadata?.name}`, this.timeoutMs, () =>
      this.core.createNamespacedPersistentVolumeClaim({ namespace, body }),
    );
  }

  /**
   * Starts a watch of pods; events go to `onEvent` until the server ends it (`onDone(null)`), it fails
   * (`onDone(error)`), or the returned controller aborts it. `resourceVersion` resumes from a list or bookmark.
   */
  async watchPods(
    namespace: string,
    query: { labelSelector: string; resourceVersion?: string; timeoutSeconds: number },
    onEvent: (type: string, object: unknown) => void,
    onDone: (error: unknown) => void,
  ): Promise<AbortController> {
    return new Watch(this.kc).watch(
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      { labelSelector: query.labelSelector, resourceVersion: query.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: query.timeoutSeconds },
      (type, object) => onEvent(type, object),
      onDone,
    );
  }

  /**
   * One request through the pod proxy subresource (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy/...`),
   * authenticated as Atrium; resolves with the response once its headers arrived (the body is streamed).
   * The API server drops the Authorization header before proxying, so a pod's own secret goes in another header.
   */
  async proxy(request: ProxyRequest): Promise<http.IncomingMessage> {
    const url = new URL(
      `${this.server}/api/v1/namespaces/${encodeURIComponent(request.namespace)}/pods/${encodeURIComponent(request.pod)}:${request.port}/proxy${request.path}`,
    );
    const options: https.RequestOptions = {
      method: request.method,
      hostname: url.hostname,
      port: url.port || (url.protocol === 'https:' ? 443 : 80),
      path: url.pathname + url.search,
      headers: { ...request.headers },
    };
    await this.kc.applyToHTTPSOptions(options);
    const what = `${request.method} ${request.path.split('?')[0]} on pod ${request.namespace}/${request.pod}`;
    const timeoutMs = request.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(options, (response) => {
        clearTimeout(timer);
        resolve(response);
      });
      // The deadline covers reaching the pod and its answer's headers; a long upload or download streams on.
      const timer = setTimeout(() => req.destroy(new KubeError(`${what}: no answer within ${timeoutMs} ms`, 0, 'Timeout')), timeoutMs);
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(toKubeError(error, what));
      });
      req.setNoDelay(true);
      const { body } = request;
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (error) => req.destroy(error));
        body.pipe(req);
      }
    });
  }
}
