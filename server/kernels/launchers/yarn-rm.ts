// The YARN ResourceManager, as the YARN launcher sees it: a small REST client (list apps by tag and state, read
// one app, kill one app) whose replies are checked with zod, and the ONE poller that serves every YARN kernel of
// this process. Each interval the poller asks the RM a single question — "which Atrium applications are live?"
// (`GET /ws/v1/cluster/apps?applicationTags=<common tag>&states=<live states>`) — and answers every kernel's
// poll()/waitForExit() from that reply. Only an application that left the live list costs one more request
// (its final state and diagnostics), once. Nothing here scans all applications, and no kernel polls alone.
// Touch this file when the RM REST API or the way kernels are found (tags) changes; the launcher is yarn.ts.
import { z } from 'zod';
import { consoleLogger, type KernelLogger } from '../connection';
import type { ClusterEngine } from './base';

// --- RM replies (guarded: they come from another system) ---

export const LIVE_APP_STATES = ['NEW', 'NEW_SAVING', 'SUBMITTED', 'ACCEPTED', 'RUNNING'] as const;
export const FINAL_APP_STATES = ['FINISHED', 'FAILED', 'KILLED'] as const;
const AppState = z.enum([...LIVE_APP_STATES, ...FINAL_APP_STATES]);
export type YarnAppState = z.infer<typeof AppState>;

export const YarnAppSchema = z.object({
  id: z.string().regex(/^application_\d+_\d+$/),
  user: z.string(),
  name: z.string().default(''),
  queue: z.string().default(''),
  state: AppState,
  finalStatus: z.string().default('UNDEFINED'),
  diagnostics: z.string().nullish().transform((d) => d ?? ''),
  /** Comma-separated; YARN lowercases tags. */
  applicationTags: z.string().nullish().transform((t) => t ?? ''),
  /** host:port of the AM's NodeManager web UI, once the AM container is allocated. */
  amHostHttpAddress: z.string().nullish(),
  startedTime: z.number().optional(),
  finishedTime: z.number().optional(),
});
export type YarnApp = z.infer<typeof YarnAppSchema>;

const AppsReplySchema = z.object({
  // YARN answers {"apps": null} when nothing matches.
  apps: z.union([z.null(), z.object({ app: z.array(YarnAppSchema).default([]) })]),
});
const AppReplySchema = z.object({ app: YarnAppSchema });

export class ResourceManagerError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ResourceManagerError';
  }
}

/** `GET /ws/v1/cluster/apps` → its applications. Throws ResourceManagerError on a reply of another shape. */
export function parseAppsReply(json: unknown): YarnApp[] {
  const parsed = AppsReplySchema.safeParse(json);
  if (!parsed.success) throw new ResourceManagerError(`unexpected reply to an application list: ${z.prettifyError(parsed.error)}`);
  return parsed.data.apps?.app ?? [];
}

/** `GET /ws/v1/cluster/apps/{id}` → the application. */
export function parseAppReply(json: unknown): YarnApp {
  const parsed = AppReplySchema.safeParse(json);
  if (!parsed.success) throw new ResourceManagerError(`unexpected reply for an application: ${z.prettifyError(parsed.error)}`);
  return parsed.data.app;
}

// --- the tags Atrium's applications carry (set by spark-submit, yarn-submit.ts; how they are found here) ---

/** Every Atrium application carries this tag; the poller's one query filters on it. */
export const ATRIUM_APP_TAG = 'atrium';

export const kernelTag = (kernelId: string) => `atrium-kernel-${kernelId.toLowerCase()}`;

/**
 * An installation id fit for a YARN tag: YARN allows at most 100 printable ASCII characters per tag (by default,
 * yarn.resourcemanager.application.max-tag.length) and lowercases them; "atrium-installation-" takes 20, and a
 * comma would split spark.yarn.tags.
 */
const INSTALLATION_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/;

/** The tag of every application this installation submits; the orphan sweep lists by it. */
export function installationTag(installationId: string): string {
  if (!INSTALLATION_ID.test(installationId)) {
    throw new Error(`the installation id "${installationId}" cannot be a YARN tag (1-80 letters, digits, _ or -)`);
  }
  return `atrium-installation-${installationId.toLowerCase()}`;
}

export function appTags(app: YarnApp): string[] {
  return app.applicationTags.split(',').map((t) => t.trim()).filter(Boolean);
}

/** `atrium-kernel-<id>` → the kernel id (as YARN stores it: lowercased). */
const KERNEL_TAG = /^atrium-kernel-([a-z0-9][a-z0-9_-]{0,63})$/;

/**
 * A live application as the orphan sweep sees it, or undefined when it is not one to judge: it lacks the
 * installation's tag (the RM filter is not trusted alone) or holds no single parseable kernel tag. engineId is
 * the application id, exactly what a YARN kernel row's engine_id holds. A missing start time counts as "now",
 * so the sweep's grace for young engines protects an application it cannot date.
 */
export function ownEngineOf(app: YarnApp, installationTag: string, now = new Date()): ClusterEngine | undefined {
  const tags = appTags(app);
  if (!tags.includes(installationTag)) return undefined;
  const kernelIds = tags.flatMap((t) => KERNEL_TAG.exec(t)?.[1] ?? []);
  if (kernelIds.length !== 1) return undefined;
  return {
    launcher: 'yarn',
    kernelId: kernelIds[0]!,
    engineId: app.id,
    label: `YARN application ${app.id}`,
    createdAt: app.startedTime && app.startedTime > 0 ? new Date(app.startedTime) : now,
  };
}

/** The most recently started of `apps` (a restarted kernel's new application carries its old tag too). */
export function latest(apps: YarnApp[]): YarnApp | undefined {
  return apps.reduce<YarnApp | undefined>((best, app) => (!best || (app.startedTime ?? 0) > (best.startedTime ?? 0) ? app : best), undefined);
}

export const isFinal = (state: YarnAppState) => (FINAL_APP_STATES as readonly string[]).includes(state);

/** Why an application is no longer running, in YARN's own words. */
export function endReason(app: YarnApp): string {
  const diagnostics = app.diagnostics.trim().split('\n').slice(0, 8).join('\n');
  const status = app.finalStatus && app.finalStatus !== app.state ? ` (final status ${app.finalStatus})` : '';
  return `YARN application ${app.id} is ${app.state}${status}${diagnostics ? `: ${diagnostics}` : ''}`;
}

/** The host of the AM container (from `amHostHttpAddress`), if allocated. */
export function amHost(app: YarnApp): string | undefined {
  const address = app.amHostHttpAddress?.trim();
  if (!address) return undefined;
  return address.replace(/^https?:\/\//, '').replace(/:\d+$/, '') || undefined;
}

// --- the REST client ---

export interface ResourceManagerClientOptions {
  /** e.g. http://rm.example.com:8088 */
  url: string;
  /** `user.name` under simple HTTP authentication (the portal's service user). Omit for SPNEGO/anonymous. */
  user?: string;
  /** Deadline of one request. Default 10 s. */
  timeoutMs?: number;
}

const APP_ID = /^application_\d+_\d+$/;
const TAG = /^[a-z0-9][a-z0-9_.-]{0,99}$/;

export class ResourceManagerClient {
  readonly url: string;
  private readonly user: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: ResourceManagerClientOptions) {
    const url = new URL(options.url); // a bad URL fails at boot
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`the RM URL ${options.url} must be http(s)`);
    this.url = url.toString().replace(/\/+$/, '');
    this.user = options.user;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Applications carrying ANY of `tags` (YARN's semantics), optionally only in `states`. */
  async listApps(filter: { tags: string[]; states?: readonly YarnAppState[] }): Promise<YarnApp[]> {
    for (const tag of filter.tags) if (!TAG.test(tag)) throw new ResourceManagerError(`"${tag}" is not a valid application tag`);
    const query: Record<string, string> = { applicationTags: filter.tags.join(',') };
    if (filter.states?.length) query.states = filter.states.join(',');
    query.deSelects = 'resourceRequests'; // the big part of each app we never read
    return parseAppsReply(await this.request('GET', '/ws/v1/cluster/apps', query));
  }

  async getApp(appId: string): Promise<YarnApp> {
    if (!APP_ID.test(appId)) throw new ResourceManagerError(`"${appId}" is not a YARN application id`);
    return parseAppReply(await this.request('GET', `/ws/v1/cluster/apps/${appId}`));
  }

  /** Asks the RM to kill the application. An application already in a final state is left as it is. */
  async killApp(appId: string): Promise<void> {
    if (!APP_ID.test(appId)) throw new ResourceManagerError(`"${appId}" is not a YARN application id`);
    try {
      await this.request('PUT', `/ws/v1/cluster/apps/${appId}/state`, {}, { state: 'KILLED' });
    } catch (error) {
      // A finished app refuses the transition; that is the outcome we wanted.
      const app = await this.getApp(appId).catch(() => undefined);
      if (app && isFinal(app.state)) return;
      throw error;
    }
  }

  private async request(method: string, path: string, query: Record<string, string> = {}, body?: unknown): Promise<unknown> {
    const url = new URL(this.url + path);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    if (this.user) url.searchParams.set('user.name', this.user);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new ResourceManagerError(`the ResourceManager at ${this.url} did not answer ${method} ${path}: ${(error as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok) {
      throw new ResourceManagerError(`the ResourceManager answered ${method} ${path} with ${response.status}: ${text.slice(0, 500)}`, response.status);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ResourceManagerError(`the ResourceManager answered ${method} ${path} with something that is not JSON: ${text.slice(0, 200)}`);
    }
  }
}

// --- the one poller ---

/** What the poller knows about one kernel's application. */
export interface AppView {
  /** The latest report (live or final); undefined until the application is first seen. */
  app?: YarnApp;
  /** Set once the application is in a final state (or was never found): why it ended. */
  ended?: { reason: string; app?: YarnApp };
}

interface Tracked extends AppView {
  tag: string;
  appId?: string;
  since: number;
  listeners: Set<(view: AppView) => void>;
}

export interface YarnAppPollerOptions {
  client: ResourceManagerClient;
  /** The tag every Atrium application carries; the one live-list query filters on it. */
  commonTag: string;
  intervalMs?: number;
  /** How long an application may stay unseen after tracking starts before it is declared missing. Default 60 s. */
  notFoundGraceMs?: number;
  logger?: KernelLogger;
}

/**
 * One loop per process: start() begins it, stop() ends it (and resolves once the current request is over).
 * Idle (no request) while no kernel is tracked. A failed RM request is logged and survived: the kernels keep
 * their last known state (an unreachable RM does not mean dead kernels).
 */
export class YarnAppPoller {
  readonly intervalMs: number;
  private readonly client: ResourceManagerClient;
  private readonly commonTag: string;
  private readonly notFoundGraceMs: number;
  private readonly logger: KernelLogger;
  private readonly tracked = new Map<string, Tracked>();
  private running: Promise<void> | undefined;
  private stopped = true;
  private wake: (() => void) | undefined;
  /** A refresh() that came while a poll was under way: the next poll starts without waiting. */
  private wakeRequested = false;
  private failures = 0;
  /** Requests made (for tests: one per interval, whatever the number of kernels). */
  requests = 0;

  constructor(options: YarnAppPollerOptions) {
    if (!TAG.test(options.commonTag)) throw new Error(`"${options.commonTag}" is not a valid YARN application tag`);
    this.client = options.client;
    this.commonTag = options.commonTag;
    this.intervalMs = options.intervalMs ?? 2_000;
    this.notFoundGraceMs = options.notFoundGraceMs ?? 60_000;
    this.logger = options.logger ?? consoleLogger;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
    this.running = undefined;
  }

  /** Starts following the application tagged `tag` (appId when known, e.g. after a restart). */
  track(tag: string, appId?: string): void {
    if (!TAG.test(tag)) throw new Error(`"${tag}" is not a valid YARN application tag`);
    const existing = this.tracked.get(tag);
    if (existing) {
      existing.appId ??= appId;
      return;
    }
    this.tracked.set(tag, { tag, appId, since: Date.now(), listeners: new Set() });
    this.refresh();
  }

  untrack(tag: string): void {
    this.tracked.delete(tag);
  }

  view(tag: string): AppView {
    const t = this.tracked.get(tag);
    return t ? { app: t.app, ended: t.ended } : {};
  }

  appIdOf(tag: string): string | undefined {
    const t = this.tracked.get(tag);
    return t?.appId ?? t?.app?.id;
  }

  /** Called with the new view whenever the application's state or diagnostics change. Returns an unsubscribe. */
  subscribe(tag: string, listener: (view: AppView) => void): () => void {
    const t = this.tracked.get(tag);
    if (!t) return () => {};
    t.listeners.add(listener);
    return () => t.listeners.delete(listener);
  }

  /** Resolves when the application is seen ended; never resolves once `abort` fires. */
  waitForEnd(tag: string, abort: AbortSignal): Promise<{ reason: string; app?: YarnApp }> {
    return new Promise((resolve) => {
      const t = this.tracked.get(tag);
      if (!t) return; // untracked: nothing will ever be reported (the caller's abort ends the wait)
      if (t.ended) return resolve(t.ended);
      const unsubscribe = this.subscribe(tag, (view) => {
        if (!view.ended || abort.aborted) return;
        unsubscribe();
        resolve(view.ended);
      });
      abort.addEventListener('abort', unsubscribe, { once: true });
    });
  }

  /** Polls now instead of at the end of the interval (after a submit or a kill, to see the change sooner). */
  refresh(): void {
    if (this.wake) this.wake();
    else this.wakeRequested = true;
  }

  /** One round: the live-list query, then one request per application that left it. Exposed for tests. */
  async pollOnce(): Promise<void> {
    const open = [...this.tracked.values()].filter((t) => !t.ended);
    if (open.length === 0) return;
    this.requests++;
    const live = await this.client.listApps({ tags: [this.commonTag], states: LIVE_APP_STATES });
    // A kernel's tag names the newest of its applications: after a restart whose kill of the old one failed, both
    // are live, and the RM lists them in no set order.
    const byTag = new Map<string, YarnApp>();
    for (const app of live) for (const tag of appTags(app)) byTag.set(tag, latest([byTag.get(tag), app].filter((a) => a !== undefined))!);
    for (const t of open) {
      const app = t.appId ? live.find((a) => a.id === t.appId) : byTag.get(t.tag);
      if (app) {
        this.update(t, app);
        continue;
      }
      // Not live: it ended between two polls, or (just submitted) the RM does not list it yet.
      const appId = t.appId ?? t.app?.id;
      let last: YarnApp | undefined;
      try {
        this.requests++;
        last = appId ? await this.client.getApp(appId) : latest(await this.client.listApps({ tags: [t.tag] }));
      } catch (error) {
        if (!(error instanceof ResourceManagerError && error.status === 404)) throw error;
      }
      if (last) this.update(t, last);
      else if (Date.now() - t.since > this.notFoundGraceMs) {
        this.end(t, { reason: `no YARN application ${appId ?? `tagged ${t.tag}`} is known to the ResourceManager (any more)` });
      }
    }
  }

  private update(t: Tracked, app: YarnApp): void {
    if (!this.tracked.has(t.tag) || t.ended) return;
    t.appId ??= app.id;
    const changed = !t.app || t.app.state !== app.state || t.app.diagnostics !== app.diagnostics || t.app.amHostHttpAddress !== app.amHostHttpAddress;
    t.app = app;
    if (isFinal(app.state)) this.end(t, { reason: endReason(app), app });
    else if (changed) this.notify(t);
  }

  private end(t: Tracked, ended: { reason: string; app?: YarnApp }): void {
    t.ended = ended;
    this.notify(t);
  }

  private notify(t: Tracked): void {
    const view = { app: t.app, ended: t.ended };
    for (const listener of [...t.listeners]) {
      try {
        listener(view);
      } catch (error) {
        this.logger.error('a YARN application listener failed', { tag: t.tag, error: String(error) });
      }
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.pollOnce();
        if (this.failures > 0) this.logger.warn('the ResourceManager answers again', { after: this.failures });
        this.failures = 0;
      } catch (error) {
        // Logged once per outage, then every 30th failure: an RM restart must not flood the log.
        if (this.failures++ % 30 === 0) this.logger.error('polling the YARN ResourceManager failed', { error: String(error) });
      }
      if (this.stopped) break;
      if (this.wakeRequested) {
        this.wakeRequested = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.intervalMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}
