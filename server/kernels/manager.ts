// The kernel manager: starts, lists, interrupts, restarts and stops kernels for the signed-in user, keeps
// every kernel's row in Postgres current, and reattaches to live kernels when the portal restarts.
// Ownership is checked in the query (findKernel with the owner), so another user's kernel is "not found".
import { randomUUID } from "node:crypto";
import os from "node:os";
import type { Database } from "@/db";
import { claimAbandonedLaunch, claimKernelPortalHost, kernelsOfSilentHosts, markEngineDead, notePortalHostAlive, releaseLaunchLeases, findKernel, launchLeaseFromNow, listLiveKernels, liveKernelIdsAmong, markKernelDead, touchKernelActivity, updateKernel, updateKernelUnlessDead, type KernelEndReason, type KernelRow } from "@/db/queries/kernels";
import { findUserById, type UserRow } from "@/db/queries/users";
import type { SavedInputRequest } from "@/db/schema";
import { open, seal } from "@/server/crypto/secret-box";
import { AppError } from "@/server/errors";
import { log } from "@/server/log";
import { Periodic } from "@/server/periodic";
import { KernelRequestError, type KernelConnection, type KernelLogger } from "./connection";
import { LaunchError, launchAndConfirm, type KernelProcess, type LaunchRequest, type LauncherRegistry } from "./launchers/base";
import { launcherName, type Kernelspec } from "./kernelspecs";
import type { NotebookKernelspec } from "@/server/notebooks/nbformat";
import { LiveKernel, kernelConnection, type ExecutionState } from "./live-kernel";
import type { LiveRunView, OutputRecorder } from "./output-recorder";
import { KernelStateWriter } from "./state-writer";
import { LaunchLeases } from "./launch-leases";
import { admitKernel, chargedTeamOf } from "@/server/quota/service";
import { chooseSize, sizeTableOf, type SizeTable } from "@/server/quota/sizes";
import { kernelMetrics } from "@/server/usage/metrics";

export interface KernelModel {
  id: string;
  name: string;
  last_activity: string;
  execution_state: ExecutionState;
  connections: number;
}

export interface StartRequest {
  name?: string;
  env?: Record<string, string>;
  size?: string;
  /** A kernel of the same user this one takes the place of (the portal's UI changing a notebook's kernel): see admitKernel. */
  replaces?: string;
}

export interface KernelManagerOptions {
  db: Database;
  secret: string;
  launchers: LauncherRegistry;
  kernelspecs: Map<string, Kernelspec>;
  defaultKernelspec?: string;
  /** Working directory for a user's kernels (their home folder). */
  homeOf?: (user: UserRow) => Promise<string | undefined>;
  /** Records every kernel's outputs (durable outputs). */
  recorder?: OutputRecorder;
  startupDeadlineMs?: number;
  launchDeadlineMs?: number;
  /** How soon a kernel whose cluster could not be asked at reattach is looked at again. */
  clusterRecheckMs?: number;
  /** How often this process renews its launches' leases (and looks for launches stopped elsewhere). */
  launchLeaseRenewMs?: number;
  /**
   * This portal's host (default: the OS host name). A local kernel is a process of the host that started it: only a
   * portal on that host can reach, signal or judge it, so replicas on other hosts leave it alone.
   */
  portalHost?: string;
  /** How long a portal host may go unheard before its local kernels are presumed gone with it (default 10 minutes). */
  hostSilentAfterMs?: number;
}

/** restoreOne's answer when the cluster could not say whether the engine lives: nothing is concluded. */
const CLUSTER_UNREACHABLE = Symbol("cluster unreachable");
const CLUSTER_RECHECK_MS = 30_000;

const ACTIVITY_WRITE_INTERVAL_MS = 5_000;
/** Kernels reattached at once after a portal restart (each is a poll of its launcher, and a connection). */
const RESTORE_WIDTH = 8;
/** How often a running process looks for launches another process left behind. */
const ABANDONED_LAUNCH_CHECK_MS = 30_000;
/** How often a running process looks for kernels it holds that another replica stopped (see stopKernelsEndedElsewhere). */
const ENDED_ELSEWHERE_CHECK_MS = 10_000;
/** How often a portal says its host is alive (portal_hosts), and how often it looks for hosts gone silent. */
const HOST_ALIVE_EVERY_MS = 30_000;
const SILENT_HOSTS_CHECK_MS = 60_000;
/**
 * A host unheard for this long is presumed gone, with its local kernels: long enough for a portal's restart or
 * upgrade on a machine whose kernels outlive it, short enough that a replaced container's kernels do not hold quota
 * for long. A host that comes back after all ends their processes with its orphan sweep.
 */
const HOST_SILENT_AFTER_MS = 10 * 60_000;

const kernelLogger: KernelLogger = {
  debug: (message, fields) => log.debug(message, fields ?? ""),
  warn: (message, fields) => log.warn(message, fields ?? ""),
  error: (message, fields) => log.error(message, fields ?? ""),
};

export class KernelManager {
  private readonly live = new Map<string, LiveKernel>();
  private readonly lastActivityWrite = new Map<string, number>();
  private readonly stateWriters = new Map<string, KernelStateWriter>();
  private readonly pendingStarts = new Map<string, Promise<unknown>>();
  private readonly restarts = new Map<string, Promise<void>>();
  /** The connection of each kernel being started or restarted here, until it answers (closing it ends the wait). */
  private readonly launchingConnections = new Map<string, KernelConnection>();
  /** Starts a stop cancelled, and why (their error says so rather than how the launch broke off). */
  private readonly cancelledLaunches = new Map<string, string>();
  private readonly leases: LaunchLeases;
  /** Timers that look again at kernels another process was launching when this one restored (see restoreAll). */
  /** The next look at a kernel not taken up yet (launching elsewhere, or its cluster not answering): one per kernel. */
  private readonly rechecks = new Map<string, NodeJS.Timeout>();
  /** Kernels being reattached here right now, and those reattaches (detachAll waits for them). */
  private readonly restoring = new Set<string>();
  /**
   * Kernels whose engine this process is replacing or taking up right now: a restart from the moment it holds
   * messages, a take-up from the moment it claims the row. A death then is the kernel's, whatever the row says.
   */
  private readonly ownLaunches = new Set<string>();
  /** Kernels this process is claiming or taking up (a restart of them is refused meanwhile). */
  private readonly takingUp = new Set<string>();
  /** The engine id each held kernel's row named when this process attached or launched it. */
  private readonly recordedEngines = new Map<string, string | null>();
  private readonly restores = new Map<string, Promise<RestoreOutcome>>();
  /** The loops that look at what other replicas did (watchOtherReplicas), until detachAll(). */
  private otherReplicaWatches: Periodic<number>[] = [];
  private readonly portalHost: string;
  /** When this process last wrote that its host is alive (Date.now()). */
  private hostNotedAt = 0;
  /** Set by detachAll(): nothing more is taken up, and a reattach cut short marks nothing dead. */
  private detaching = false;

  constructor(private readonly options: KernelManagerOptions) {
    this.portalHost = options.portalHost ?? os.hostname();
    // A launch here whose kernel was stopped through another replica is abandoned at the next renewal.
    this.leases = new LaunchLeases(options.db, options.launchLeaseRenewMs, (id, detail) => {
      if (this.pendingStarts.has(id) || this.restarts.has(id)) this.cancelLaunch(id, detail ?? "stopped through another portal replica");
    });
  }

  get kernelspecs(): Map<string, Kernelspec> {
    return this.options.kernelspecs;
  }

  get defaultKernelspec(): string {
    return this.options.defaultKernelspec ?? (this.kernelspecs.has("python3") ? "python3" : [...this.kernelspecs.keys()][0] ?? "python3");
  }

  /** What a new notebook records as its kernelspec (nbformat's metadata.kernelspec): the named one, else the default. */
  notebookKernelspec(name = this.defaultKernelspec): NotebookKernelspec | undefined {
    const spec = this.kernelspecs.get(name)?.spec;
    return spec && { name, display_name: spec.display_name, language: spec.language };
  }

  /** Starts a kernel and resolves once it answers (the Jupyter API's POST /api/kernels). */
  async start(user: UserRow, request: StartRequest): Promise<KernelModel> {
    const { id, started } = await this.begin(user, request);
    await started;
    const live = this.live.get(id);
    // Just started and held here: its model is in memory (no read behind the row's update).
    if (live) return modelOf(id, live.kernelspec, new Date(), live.executionState, live);
    return this.model(await this.requireRow(user, id));
  }

  /**
   * Admits and begins a launch; resolves with the kernel id as soon as the kernel is admitted, while the
   * launch goes on (`started` settles when it ends). The portal's own UI uses this to show launch phases.
   */
  async begin(user: UserRow, request: StartRequest): Promise<{ id: string; started: Promise<void> }> {
    const name = request.name || this.defaultKernelspec;
    const kernelspec = this.kernelspecs.get(name);
    if (!kernelspec) {
      throw new AppError("NOT_FOUND", `There is no kernel named "${name}". Available: ${[...this.kernelspecs.keys()].join(", ")}.`);
    }
    const { db } = this.options;
    // Unnamed: the default of the sizes offered (a default size the launcher cannot run is not offered).
    const size = chooseSize(sizeTableOf(kernelspec.spec.metadata.atrium), request.size ?? this.offeredSizes(kernelspec).defaultSize);
    if ("error" in size) throw new AppError("BAD_REQUEST", size.error);
    const launcher = launcherName(kernelspec);
    const sizeRefusal = this.options.launchers.sizeRefusal(launcher, size);
    if (sizeRefusal) throw new AppError("BAD_REQUEST", sizeRefusal.charAt(0).toUpperCase() + sizeRefusal.slice(1));
    this.refuseIfPaused(kernelspec);
    const team = await chargedTeamOf(db, user.id);
    const id = randomUUID();
    // Quota admission inserts the kernel row (and its usage session) in the transaction that checks the limits.
    // The client's KERNEL_* variables are kept for restarts (on any replica), as Jupyter Server keeps a kernel's
    // env: sealed, as they may hold secrets.
    const sealedClientEnv = request.env && Object.keys(request.env).length > 0 ? seal(this.options.secret, JSON.stringify(request.env)) : undefined;
    const portalHost = this.options.launchers.isHostBound(launcher) ? this.portalHost : null;
    // A local kernel's row names a host other replicas must hear from (or presume it gone): heard from now.
    if (portalHost) await this.noteHostAlive({ ifOlderThanMs: HOST_ALIVE_EVERY_MS });
    await admitKernel(db, { kernelId: id, userId: user.id, team, kernelspec: name, launcher, portalHost, size, sealedClientEnv, replaces: request.replaces });
    // The replaced kernel's row ended with the admission; its process goes now, beside the new launch.
    if (request.replaces) void this.stopReplaced(request.replaces, id, user);
    this.leases.hold(id); // the row was inserted with a lease; renewed while this launch runs
    const launchStartedAt = Date.now();
    const started = this.launch(user, id, kernelspec, request.env, size.name).then(
      () => kernelMetrics().launchFinished(team?.name ?? null, name, "started", (Date.now() - launchStartedAt) / 1000),
      (error: unknown) => {
        const timedOut = error instanceof AppError && error.code === "LAUNCH_TIMEOUT";
        kernelMetrics().launchFinished(team?.name ?? null, name, timedOut ? "timeout" : "failed", (Date.now() - launchStartedAt) / 1000);
        throw error;
      },
    );
    this.pendingStarts.set(id, started);
    void started.catch(() => {}).finally(() => {
      this.pendingStarts.delete(id);
      this.cancelledLaunches.delete(id);
      this.leases.release(id);
    });
    return { id, started };
  }

  /** Where a kernel is: its state, and while it starts, the launch phase (submitted, accepted by YARN, ...). */
  async status(user: UserRow, id: string) {
    const row = await this.requireRow(user, id);
    const live = this.live.get(id);
    return {
      id: row.id,
      kernelspec: row.kernelspec,
      state: live?.executionState ?? row.state,
      /** While starting: the launch phase; when dead: why. */
      detail: row.stateDetail,
      endReason: row.endReason,
      engineId: row.engineId,
      sizeProfile: row.sizeProfile,
      createdAt: row.createdAt,
      startedAt: row.startedAt,
    };
  }

  private async launch(user: UserRow, id: string, kernelspec: Kernelspec, env: Record<string, string> | undefined, sizeProfile?: string) {
    const { db } = this.options;
    // Where the launch was when it timed out (waiting for a node, for YARN's queue...): said with the timeout.
    let lastPhase: string | undefined;
    try {
      const cwd = await this.options.homeOf?.(user);
      // A stop that came before the launcher took the launch up had nothing to cancel: nothing is launched then.
      if (this.cancelledLaunches.has(id)) throw new LaunchError("LAUNCH_FAILED", `kernel ${id} was stopped before it was launched`, { kernelId: id });
      const { kernel, connection } = await this.confirmLaunch(
        id,
        { kernelId: id, kernelspec, username: user.username, env, sizeProfile, cwd },
        {
          launchMs: this.options.launchDeadlineMs,
          startupMs: this.options.startupDeadlineMs,
          // Launch phases reach the kernel's row, where the notebook page reads them.
          onPhase: (phase: string) => {
            lastPhase = phase.slice(0, 1000);
            void updateKernel(db, id, { stateDetail: lastPhase }).catch(() => {});
          },
          ...this.launchSteps(id),
        },
      );
      const liveKernel = this.hold(new LiveKernel(id, user.id, kernelspec.name, kernel, this.eventsFor(id), kernelLogger, connection));
      liveKernel.executionState = "idle";
      const now = new Date();
      await this.updateUnlessStopped(id, kernel, { state: "idle", stateDetail: null, startedAt: now, lastActivityAt: now, launchLeaseUntil: null });
      log.info(`kernel ${id} (${kernelspec.name}) started for ${user.username} as ${kernel.engineId}`);
    } catch (error) {
      if (!this.live.has(id)) this.recordedEngines.delete(id);
      const timedOut = error instanceof LaunchError && error.code === "LAUNCH_TIMEOUT";
      const message = `${error instanceof Error ? error.message : String(error)}${timedOut && lastPhase ? ` (the launch was last: ${lastPhase})` : ""}`;
      // Whatever got started is stopped, and the row says why the launch failed. launchAndConfirm already
      // stopped a kernel it could not confirm; one that got further is held here.
      // A launch a stop cancelled leaves the row to that stop, which records its own reason.
      const stoppedBy = this.cancelledLaunches.get(id);
      this.cancelledLaunches.delete(id);
      if (this.live.has(id)) await this.stopKernel(id, "launch_failed", message);
      else if (!stoppedBy) await markKernelDead(db, { id, reason: "launch_failed", detail: message });
      if (stoppedBy) throw new AppError("CONFLICT", `The kernel was stopped while it started (${stoppedBy}).`);
      log.warn(`kernel ${id} (${kernelspec.name}) for ${user.username} failed to start: ${message}`);
      if (timedOut) {
        throw new AppError("LAUNCH_TIMEOUT", `The kernel did not start in time and was stopped (${message}). Try again; if it keeps happening, tell an admin.`);
      }
      throw new AppError("LAUNCH_FAILED", `The kernel could not start: ${message}`);
    }
  }

  /**
   * What a start and a restart do as soon as the kernel is launched: open the connection that will carry its
   * traffic (confirmed ready on it), and save its launch state while it finishes starting, so a portal that
   * stops now finds it from its row on the next start (reattached, or seen dead) instead of leaving it running.
   */
  private launchSteps(id: string) {
    return {
      connect: (launched: KernelProcess) => {
        const connection = kernelConnection(id, launched, kernelLogger);
        this.launchingConnections.set(id, connection); // until the launch settles (see confirmLaunch)
        return connection;
      },
      onLaunched: (launched: KernelProcess) => {
        this.recordedEngines.set(id, launched.engineId);
        return this.updateUnlessStopped(id, launched, { engineId: launched.engineId, sealedLaunchState: seal(this.options.secret, JSON.stringify(launched.serialize())) });
      },
    };
  }

  /** launchAndConfirm, with the launch's connection known here until it settles (a stop may close it). */
  private async confirmLaunch(id: string, request: LaunchRequest, options: Parameters<typeof launchAndConfirm>[2]) {
    try {
      return await launchAndConfirm(this.options.launchers, request, options);
    } finally {
      this.launchingConnections.delete(id);
    }
  }

  /** Writes a launching kernel's row, unless it was stopped meanwhile (culler, admin): then the launch fails. */
  private async updateUnlessStopped(id: string, kernel: KernelProcess, fields: Parameters<typeof updateKernelUnlessDead>[2]): Promise<void> {
    if (!(await updateKernelUnlessDead(this.options.db, id, fields))) {
      throw new LaunchError("LAUNCH_FAILED", `kernel ${id} was stopped while it started`, { kernelId: id, engineId: kernel.engineId });
    }
  }

  /**
   * The sizes a kernelspec offers that its launcher can run (the start dialog's choices): a size a YARN driver could
   * never start in is left out, and a default left out gives way to the first size that remains.
   */
  offeredSizes(kernelspec: Kernelspec): SizeTable {
    const table = sizeTableOf(kernelspec.spec.metadata.atrium);
    const launcher = launcherName(kernelspec);
    const sizes = table.sizes.filter((size) => !this.options.launchers.sizeRefusal(launcher, size));
    if (sizes.length === 0) return table; // none runs: each start says why
    return { sizes, defaultSize: sizes.some((s) => s.name === table.defaultSize) ? table.defaultSize : sizes[0]!.name };
  }

  /** Cluster kernels paused on this portal (a copied database): refused with words a user can act on. */
  private refuseIfPaused(kernelspec: Kernelspec): void {
    if (this.options.launchers.refusalFor(kernelspec)) {
      throw new AppError("CONFLICT", "Kernels on YARN and Kubernetes are paused on this portal until an administrator confirms its installation (the portal's log says how). Kernels already running keep running; local kernels can be started.");
    }
  }

  /**
   * A cluster kernel's row while cluster kernels are paused here (a copied database): its engine may be the
   * original installation's, so this process neither reattaches, marks dead, takes up nor kills it.
   */
  private isPaused(row: KernelRow): boolean {
    return this.options.launchers.pausedLauncher(row.launcher) !== undefined;
  }

  /**
   * A local kernel whose process is another portal host's: this process can neither reach, signal nor judge it (its
   * pid means nothing here), so it neither reattaches, marks dead, takes up nor kills it; that host's portal does.
   */
  private onAnotherHost(row: KernelRow): boolean {
    return row.portalHost !== null && row.portalHost !== this.portalHost;
  }

  /** The user's own live kernels; every live kernel for an admin. */
  async list(user: UserRow): Promise<KernelModel[]> {
    const rows = await listLiveKernels(this.options.db, { ownerId: scopeOf(user) });
    return rows.map((r) => this.model(r.kernel));
  }

  async get(user: UserRow, id: string): Promise<KernelModel> {
    return this.model(await this.requireRow(user, id));
  }

  /**
   * The live kernel for a client connection (WebSocket), interrupt and restart; NOT_FOUND for anyone but its owner.
   * Admins see, stop and account for every kernel, but do not run code in one: it would run as its owner.
   */
  async attach(user: UserRow, id: string): Promise<LiveKernel> {
    // A kernel held here knows its owner: no database round trip on the way to a WebSocket.
    const held = this.live.get(id);
    if (held && !held.isDead && held.ownerId === user.id) return held;
    let row = await this.requireRow(user, id, "owner");
    const start = this.pendingStarts.get(id);
    if (start) {
      // Started here: the row as the start left it (idle, or dead if it failed), not as it was before.
      await start.catch(() => {});
      row = await this.requireRow(user, id, "owner");
    }
    const kernel = this.live.get(id) ?? (await this.attachFromRow(row));
    if (!kernel || kernel.isDead) throw new AppError("NOT_FOUND", `Kernel ${id} is not running.`);
    return kernel;
  }

  /**
   * A running kernel this process does not hold (another replica started it after this one booted) is attached
   * here from its row, as at boot, so any replica serves any kernel. One still launching elsewhere is not yet.
   */
  private async attachFromRow(row: KernelRow): Promise<LiveKernel | undefined> {
    if (row.state === "dead") return undefined;
    if (this.onAnotherHost(row)) {
      throw new AppError("CONFLICT", `Kernel ${row.id} runs on another Atrium server ("${row.portalHost}") than the one this request reached ("${this.portalHost}"), and only that server can reach it. Try again (each user's requests should stay on one server: if this keeps happening, tell an admin), or stop the kernel and start a new one.`);
    }
    if (this.isPaused(row)) {
      throw new AppError("CONFLICT", `Kernel ${row.id} runs on a cluster, and kernels on YARN and Kubernetes are paused on this portal until an administrator confirms its installation (the portal's log says how). The kernel keeps running; if this is the original installation, moved, it is reattached once an administrator confirms that and the portal restarts.`);
    }
    if (isLaunching(row) && !this.restores.has(row.id)) {
      throw new AppError("CONFLICT", `Kernel ${row.id} is still ${row.state} on another portal replica; connect again in a few seconds.`);
    }
    const outcome = await (this.restores.get(row.id) ?? this.restoreOrMarkDead(row));
    if (outcome === "unreachable") {
      throw new AppError("UNAVAILABLE", `Kernel ${row.id} runs on a cluster whose API cannot be reached from this portal right now; the kernel is left running. Try again in a minute; if this persists, an administrator should check the portal's access to the cluster.`);
    }
    return this.live.get(row.id);
  }

  async interrupt(user: UserRow, id: string): Promise<void> {
    const kernel = await this.attach(user, id);
    try {
      await kernel.process.interrupt();
    } catch (error) {
      // Its process ended before the death was noticed here: gone, as for a kernel that is not there.
      if (error instanceof LaunchError && error.code === "KERNEL_DEAD") throw new AppError("NOT_FOUND", `Kernel ${id} is not running.`);
      // An interrupt_request sent that the kernel did not answer in time (busy in native code, say): sent, as
      // Jupyter Server treats it; the kernel acts on it when it can.
      if (error instanceof KernelRequestError && error.code === "REQUEST_TIMEOUT") {
        log.warn(`kernel ${id}: no interrupt_reply in time; the interrupt was sent`);
        return;
      }
      throw error;
    }
  }

  async restart(user: UserRow, id: string): Promise<KernelModel> {
    const row = await this.requireRow(user, id, "owner");
    const kernel = await this.attach(user, id);
    const kernelspec = this.kernelspecs.get(row.kernelspec);
    if (!kernelspec) throw new AppError("CONFLICT", `The kernelspec ${row.kernelspec} no longer exists; stop this kernel and start a new one.`);
    // Refused before anything is stopped: the kernel keeps running.
    this.refuseIfPaused(kernelspec);
    if (this.restoring.has(id) || this.takingUp.has(id)) throw new AppError("CONFLICT", `Kernel ${id} is being taken over by this portal (its launch was left by another); restart it again in a few seconds.`);
    // A second restart while one runs (a double click, two tabs) waits for that one: one new process, not two.
    let restarting = this.restarts.get(id);
    if (!restarting) {
      this.leases.hold(id);
      restarting = this.restartProcess(kernel, row, kernelspec, user).finally(() => {
        this.restarts.delete(id);
        this.leases.release(id);
      });
      this.restarts.set(id, restarting);
    }
    await restarting;
    return this.get(user, id);
  }

  /**
   * Replaces a held kernel's process. A stop may land at any point (its owner, an admin, the culler): from then on
   * the row stays dead, whatever was started for the restart is killed, and the restart fails saying so.
   */
  private async restartProcess(kernel: LiveKernel, row: KernelRow, kernelspec: Kernelspec, user: UserRow): Promise<void> {
    const { db } = this.options;
    const id = kernel.id;
    const stoppedMeanwhile = () => this.live.get(id) !== kernel;
    // The kernel is gone, as Jupyter Server answers for a kernel that is not there (clients drop it then).
    const wasStopped = () => new AppError("NOT_FOUND", `Kernel ${id} was stopped while it restarted.`);
    // A requested restart is not announced as "restarting" on iopub (JupyterLab reads that as an automatic restart
    // after a crash, and the client that asked would think its kernel died): clients hear "starting" once the old
    // process is let go (other windows stop waiting for what it had), and the new kernel's "idle" once it answers.
    // The row says "restarting" first: a failure here leaves the kernel running as it was (a state write later
    // cannot overwrite "restarting": the state writer writes only to a running row).
    // From here clients' messages wait for the new process (a stop refuses them); if the restart gives up before
    // the old process is touched, they go to it after all.
    kernel.holdSends();
    try {
      await this.stateWriters.get(id)?.flush();
      await this.options.recorder?.kernelEnded(id);
      if (stoppedMeanwhile()) throw wasStopped();
      if (!(await updateKernelUnlessDead(db, id, { state: "restarting", launchLeaseUntil: launchLeaseFromNow() }))) {
        // Stopped through its row (another replica's culler or admin): this process lets go of it too.
        if (!stoppedMeanwhile()) {
          this.forget(id);
          await stopProcessOf(kernel);
        }
        throw wasStopped();
      }
    } catch (error) {
      kernel.releaseHeld();
      throw error;
    }
    kernel.executionState = "restarting";
    // From here the old process's messages are not listened to.
    kernel.beginRestart();
    kernel.tellClients("starting");
    this.ownLaunches.add(id);
    let launched: { kernel: KernelProcess; connection?: KernelConnection } | undefined;
    // Every step from here is inside the try: whatever fails, the held messages and the row do not wait for ever.
    try {
      const owner = (await findUserById(db, row.ownerId)) ?? user;
      const old = kernel.process;
      await old.kill().catch((error) => log.warn(`kernel ${id}: kill before restart failed: ${error}`));
      await old.cleanup().catch(() => {});
      const cwd = await this.options.homeOf?.(owner);
      // A stop during the kill had no launch to cancel yet: nothing new is launched for a stopped kernel.
      if (stoppedMeanwhile()) throw wasStopped();
      launched = await this.confirmLaunch(
        id,
        { kernelId: id, kernelspec, username: owner.username, env: clientEnvOf(this.options.secret, row), sizeProfile: row.sizeProfile ?? undefined, cwd },
        { launchMs: this.options.launchDeadlineMs, startupMs: this.options.startupDeadlineMs, ...this.launchSteps(id) },
      );
      if (stoppedMeanwhile()) throw wasStopped();
      await kernel.replaceProcess(launched.kernel, launched.connection);
      await this.updateUnlessStopped(id, launched.kernel, { state: "idle", stateDetail: null, launchLeaseUntil: null });
      // The row says idle now; a held cell may already have made the kernel busy, which the writer must still write.
      this.stateWriterOf(id).rowSays("idle");
      // A stop that came while the row was written found the old process: the new one is this restart's to stop.
      if (stoppedMeanwhile()) throw wasStopped();
    } catch (error) {
      // The new process is stopped whatever happened: once the restart fails, nothing would find it.
      if (launched) await stopProcess(id, launched.kernel, launched.connection);
      if (stoppedMeanwhile()) throw wasStopped();
      await stopProcessOf(kernel);
      this.forget(id);
      // What was sent for the new process (held, now refused) and the busy time end with the kernel.
      await this.settleState(id);
      await this.options.recorder?.kernelEnded(id);
      await markKernelDead(db, { id, reason: "launch_failed", detail: `restart failed: ${(error as Error).message}` });
      throw new AppError("LAUNCH_FAILED", `The kernel could not be restarted: ${(error as Error).message}`);
    } finally {
      this.ownLaunches.delete(id);
    }
  }

  /** Stops a kernel of the user's (or, for an admin, anyone's); returns its row as it was, for the caller's audit. */
  async shutdown(user: UserRow, id: string, reason: KernelEndReason = "stopped"): Promise<KernelRow> {
    const row = await this.requireRow(user, id);
    const by = row.ownerId === user.id ? user.username : `admin ${user.email}`;
    await this.stopKernel(id, reason, reason === "stopped" ? `stopped by ${by}` : reason);
    // A start it cancelled has let go of the kernel once it settles (promptly: nothing waits for the engine).
    await this.pendingStarts.get(id)?.catch(() => {});
    return row;
  }

  private async stopReplaced(replaced: string, by: string, user: UserRow): Promise<void> {
    try {
      await this.stopKernel(replaced, "stopped", `replaced by kernel ${by} (${user.username})`);
    } catch (error) {
      log.error(`kernel ${replaced}: replaced by ${by}, but its process could not be stopped (the orphan sweep ends it): ${String(error)}`);
    }
  }

  /** Stops a kernel by id, whoever owns it: for the manager's own policies (culling, quotas). */
  async stopKernel(id: string, reason: KernelEndReason, detail: string): Promise<void> {
    if (this.pendingStarts.has(id) || this.restarts.has(id)) this.cancelLaunch(id, detail);
    const kernel = this.live.get(id);
    this.forget(id);
    if (kernel) {
      await stopProcessOf(kernel);
    } else {
      await this.stopHeldElsewhere(id, reason, detail);
    }
    await this.settleState(id);
    await this.options.recorder?.kernelEnded(id);
    await markKernelDead(this.options.db, { id, reason, detail });
  }

  /**
   * Ends a start or restart in progress here without waiting for it: a launch waiting for its engine (a queued YARN
   * application) is abandoned, a kernel not yet answering loses its connection. Either way the launch kills what it
   * started, and the row (dead by then) is not revived.
   */
  private cancelLaunch(id: string, detail: string): void {
    if (this.pendingStarts.has(id)) this.cancelledLaunches.set(id, detail);
    this.options.launchers.cancel(id, `the kernel was stopped while it started (${detail})`);
    void this.launchingConnections.get(id)?.close();
  }

  /**
   * A kernel another replica holds (the culler, or an admin, on this one): record the end first, so the holder
   * sees a death it expected rather than "died", then kill it through the launcher's saved state.
   */
  private async stopHeldElsewhere(id: string, reason: KernelEndReason, detail: string): Promise<void> {
    const row = await findKernel(this.options.db, { id });
    if (!row || row.state === "dead") return;
    await markKernelDead(this.options.db, { id, reason, detail });
    // Still being launched by another process, which has not saved it yet (a spark-submit under way): that process
    // sees the row dead at its next lease renewal or launch step, and abandons the launch, killing what it started.
    if (!row.sealedLaunchState) return;
    if (this.onAnotherHost(row)) {
      // Its pid means nothing here: the portal on its host sees the row ended and stops it (stopKernelsEndedElsewhere).
      log.info(`kernel ${id}: marked ${reason} here; the portal on host "${row.portalHost}" stops its process`);
      return;
    }
    if (this.isPaused(row)) {
      // Ended in this database only: its engine may be the original installation's. If this is the original, moved,
      // the orphan sweep stops the engine once `installation keep-id` confirms it.
      log.warn(`kernel ${id}: marked ${reason} here; its engine ${row.engineId ?? "(unknown)"} is left running: cluster kernels are paused on this portal`);
      return;
    }
    try {
      const process = await this.options.launchers.restore(JSON.parse(open(this.options.secret, row.sealedLaunchState)) as unknown);
      await process.kill();
      await process.cleanup().catch(() => {});
    } catch (error) {
      log.warn(`kernel ${id}: could not stop it through its saved state: ${(error as Error).message}`);
    }
  }

  /**
   * After a portal restart: reattach every kernel that is still alive; mark the rest dead with the reason.
   * Kernels are looked at RESTORE_WIDTH at a time; the portal does not wait for a running cell to end (a busy
   * kernel answers kernel_info only then). A kernel still starting or restarting is taken up only if this process
   * claims it (its launcher is gone: lease given up or lapsed); one another live process is still launching (a
   * replica during a rolling deploy) is left to it, and looked at again once its lease would lapse.
   * A kernel started by another replica after this boot is attached when a client of it first comes here (attach).
   */
  async restoreAll(): Promise<{ restored: number; dead: number; launchingElsewhere: number; paused: number; unreachable: number; onOtherHosts: number }> {
    await this.noteHostAlive();
    const silent = await this.endKernelsOfSilentHosts();
    const rows = (await listLiveKernels(this.options.db)).map((r) => r.kernel).filter((row) => !this.isHeldHere(row.id));
    let restored = 0;
    let dead = silent;
    let launchingElsewhere = 0;
    let paused = 0;
    let unreachable = 0;
    let onOtherHosts = 0;
    await forEachBounded(rows, RESTORE_WIDTH, async (row) => {
      const outcome = isLaunching(row) ? await this.takeUpIfAbandoned(row) : await this.restoreOrMarkDead(row);
      if (outcome === "held elsewhere") {
        launchingElsewhere++;
        this.recheckAfterLease(row);
      } else if (outcome === "reattached") restored++;
      else if (outcome === "dead") dead++;
      else if (outcome === "paused") paused++;
      else if (outcome === "unreachable") unreachable++;
      else if (outcome === "on another host") onOtherHosts++;
    });
    if (rows.length || silent) {
      log.info(`kernels after restart: ${restored} reattached, ${dead} found dead, ${launchingElsewhere} still being launched elsewhere, ${paused} paused, ${unreachable} on a cluster that did not answer (looked at again soon), ${onOtherHosts} local kernels of other portal hosts (left to them)`);
    }
    if (paused) log.warn(`${paused} YARN and Kubernetes kernels in this database were left as they are (not reattached, not marked dead, not stopped): cluster kernels are paused on this portal`);
    return { restored, dead, launchingElsewhere, paused, unreachable, onOtherHosts };
  }

  /**
   * While this process runs, it looks at what other replicas did, until detachAll(): it takes up launches another
   * process left behind after this one booted (a replica that stopped or died mid-launch during a rolling deploy),
   * stops the kernels it holds that another replica stopped (stopKernelsEndedElsewhere), says its host is alive, and
   * ends the local kernels of hosts gone silent (endKernelsOfSilentHosts).
   */
  watchOtherReplicas(intervals: { abandonedLaunchesMs?: number; endedElsewhereMs?: number; silentHostsMs?: number } = {}): void {
    if (this.otherReplicaWatches.length > 0 || this.detaching) return;
    this.otherReplicaWatches = [
      new Periodic("look for launches left behind", intervals.abandonedLaunchesMs ?? ABANDONED_LAUNCH_CHECK_MS, () => this.takeUpAbandonedLaunches()),
      new Periodic("look for kernels stopped through another replica", intervals.endedElsewhereMs ?? ENDED_ELSEWHERE_CHECK_MS, () => this.stopKernelsEndedElsewhere()),
      new Periodic("say this portal host is alive", HOST_ALIVE_EVERY_MS, () => this.noteHostAlive().then(() => 0)),
      new Periodic("look for portal hosts gone silent", intervals.silentHostsMs ?? SILENT_HOSTS_CHECK_MS, () => this.endKernelsOfSilentHosts()),
    ];
    for (const loop of this.otherReplicaWatches) loop.start();
  }

  /**
   * Kernels held here whose rows say they ended (another replica's culler or admin stopped them, or their owner was
   * deleted): their processes are stopped here. That replica stopped a cluster kernel's engine itself; a local
   * kernel on another host it could not reach, so the portal holding it does that, within a check's interval.
   */
  async stopKernelsEndedElsewhere(): Promise<number> {
    if (this.detaching) return 0;
    const held = [...this.live.keys()].filter((id) => !this.isLaunchingHere(id) && !this.ownLaunches.has(id) && !this.takingUp.has(id));
    if (held.length === 0) return 0;
    const live = new Set(await liveKernelIdsAmong(this.options.db, held));
    let stopped = 0;
    await forEachBounded(held, RESTORE_WIDTH, async (id) => {
      const kernel = this.live.get(id);
      // Launched, restarted or let go here meanwhile: not this check's to judge.
      if (live.has(id) || !kernel || this.detaching || this.isLaunchingHere(id) || this.ownLaunches.has(id)) return;
      log.info(`kernel ${id}: its row ended elsewhere (stopped through another portal replica, or its owner deleted); stopping its process here`);
      this.forget(id);
      await stopProcessOf(kernel);
      await this.settleState(id);
      await this.options.recorder?.kernelEnded(id);
      stopped++;
    });
    return stopped;
  }

  /** Writes that this portal's host is alive now (at most every `ifOlderThanMs`). */
  private async noteHostAlive({ ifOlderThanMs = 0 } = {}): Promise<void> {
    if (Date.now() - this.hostNotedAt < ifOlderThanMs) return;
    await notePortalHostAlive(this.options.db, this.portalHost);
    this.hostNotedAt = Date.now();
  }

  /**
   * Local kernels of portal hosts not heard from for long (a replaced container, a machine gone): presumed gone with
   * their host and marked dead, so they no longer count against quotas or show as running. If that host comes back
   * after all, its orphan sweep ends what still runs there.
   */
  async endKernelsOfSilentHosts(): Promise<number> {
    if (this.detaching) return 0;
    const silentForMs = this.options.hostSilentAfterMs ?? HOST_SILENT_AFTER_MS;
    let ended = 0;
    for (const row of await kernelsOfSilentHosts(this.options.db, { except: this.portalHost, silentForMs })) {
      const since = row.seenAt ? `since ${row.seenAt.toISOString()}` : "at all";
      const detail = `its portal host "${row.portalHost}" has not been heard from ${since}: the kernel is presumed gone with it`;
      if (await markKernelDead(this.options.db, { id: row.id, reason: "died", detail })) {
        log.warn(`kernel ${row.id}: ${detail}`);
        ended++;
      }
    }
    return ended;
  }

  /** Kernels left starting or restarting by a process that is gone, claimed here: reattached if they answer, else marked dead. */
  async takeUpAbandonedLaunches(): Promise<number> {
    // Rows held here count too: another replica may have left a restart of a kernel this process holds.
    const rows = (await listLiveKernels(this.options.db)).map((r) => r.kernel).filter((row) => isLaunching(row) && !this.isLaunchingHere(row.id) && !this.restoring.has(row.id) && !this.takingUp.has(row.id));
    let taken = 0;
    await forEachBounded(rows, RESTORE_WIDTH, async (row) => {
      const outcome = await this.takeUpIfAbandoned(row);
      if (outcome === "reattached" || outcome === "dead") taken++;
    });
    return taken;
  }

  private isLaunchingHere(id: string): boolean {
    return this.pendingStarts.has(id) || this.restarts.has(id);
  }

  /** Launched, held or being reattached by this process. */
  private isHeldHere(id: string): boolean {
    return this.isLaunchingHere(id) || this.live.has(id) || this.restoring.has(id);
  }

  /**
   * A starting or restarting kernel: taken up here if this process claims it (claimAbandonedLaunch: its launcher
   * is gone, by the database's clock, and no other process claimed it first), its lease renewed while it is.
   */
  private async takeUpIfAbandoned(row: KernelRow): Promise<RestoreOutcome> {
    if (this.detaching || this.isLaunchingHere(row.id) || this.restoring.has(row.id) || this.takingUp.has(row.id)) return "skipped";
    if (this.isPaused(row)) return "paused";
    // Its launcher is that host's portal: when that portal starts again, it takes the launch up.
    if (this.onAnotherHost(row)) return "on another host";
    this.takingUp.add(row.id); // from here a restart of it is refused, and no other look takes it up
    try {
      const claimed = await claimAbandonedLaunch(this.options.db, row.id);
      if (!claimed) {
        const now = await findKernel(this.options.db, { id: row.id });
        // Still launching: another process holds it. Otherwise its launch ended meanwhile: attached as any kernel is.
        if (now && isLaunching(now)) return "held elsewhere";
        this.takingUp.delete(row.id);
        return now && now.state !== "dead" ? await this.restoreOrMarkDead(now) : "skipped";
      }
      log.info(`kernel ${row.id}: the process launching it is gone (its launch lease ${row.launchLeaseUntil ? "lapsed" : "was given up"}); taking it up here`);
      const held = this.live.get(row.id);
      if (held) {
        // Held here: a restart another process left before it replaced this engine (it still runs as recorded)
        // ends here; one that did replace it leaves a new engine to attach, and the old one is stopped.
        if (this.recordedEngines.get(row.id) === claimed.engineId && !held.isDead) {
          const state = held.executionState === "busy" ? "busy" : "idle";
          await updateKernelUnlessDead(this.options.db, row.id, { state, stateDetail: null, launchLeaseUntil: null });
          this.stateWriterOf(row.id).rowSays(state);
          return "reattached";
        }
        this.forget(row.id);
        await stopProcessOf(held); // its clients see it end and reconnect to the new engine
      }
      this.ownLaunches.add(row.id);
      this.leases.hold(row.id);
      this.takingUp.delete(row.id); // restoreOrMarkDead's own mark (restoring) takes over
      let outcome: RestoreOutcome = "skipped";
      try {
        return (outcome = await this.restoreOrMarkDead(claimed));
      } finally {
        this.ownLaunches.delete(row.id);
        this.leases.release(row.id);
        // Claimed but not taken up (this process is stopping): the claim goes back, so the next process need not wait.
        if (outcome === "skipped") await releaseLaunchLeases(this.options.db, [row.id]).catch(() => {});
      }
    } finally {
      this.takingUp.delete(row.id);
    }
  }


  /**
   * Reattaches a kernel from its row, or marks it dead with the reason. A kernel already held or being reattached
   * here is skipped (a lease recheck and the scan for abandoned launches can meet). While this process detaches,
   * nothing is marked dead: the next process looks again.
   */
  private async restoreOrMarkDead(row: KernelRow): Promise<RestoreOutcome> {
    if (this.detaching || this.isHeldHere(row.id)) return "skipped";
    if (this.isPaused(row)) return "paused";
    if (this.onAnotherHost(row)) return "on another host";
    this.restoring.add(row.id);
    const restoring = (async (): Promise<RestoreOutcome> => {
      const reasonDead = await this.restoreOne(row);
      if (!reasonDead) {
        // A local kernel from before rows named their host: reattached here, so this is its host.
        if (row.portalHost === null && this.options.launchers.isHostBound(row.launcher)) await claimKernelPortalHost(this.options.db, row.id, this.portalHost);
        return "reattached";
      }
      if (this.detaching) return "skipped";
      if (reasonDead === CLUSTER_UNREACHABLE) {
        this.recheckLater(row, this.options.clusterRecheckMs ?? CLUSTER_RECHECK_MS);
        return "unreachable";
      }
      if (isLaunching(row)) {
        await markKernelDead(this.options.db, { id: row.id, reason: "died", detail: reasonDead });
        return "dead";
      }
      // A running kernel: dead only if its row still names the engine found dead (another replica may have restarted
      // it meanwhile); else it is looked at again.
      if (await markEngineDead(this.options.db, { id: row.id, engineId: row.engineId, detail: reasonDead })) return "dead";
      this.recheckAfterLease(row);
      return "skipped";
    })().finally(() => {
      this.restoring.delete(row.id);
      this.restores.delete(row.id);
    });
    this.restores.set(row.id, restoring);
    return restoring;
  }

  /** Looks at a kernel another process launches again soon: launched by then (attach), still launching (wait again), or abandoned (take up). */
  private recheckAfterLease(row: KernelRow): void {
    // The lease is judged by the database's clock; this clock only times the next look: when the lease would
    // lapse, and at most 10 s away, so a launch that ends sooner is attached soon after (2 s at the least).
    this.recheckLater(row, Math.min(10_000, Math.max(2_000, (row.launchLeaseUntil?.getTime() ?? 0) - Date.now() + 1_000)));
  }

  /** Looks at a kernel not taken up now (launching elsewhere, or its cluster not answering) again after `delayMs`. */
  private recheckLater(row: KernelRow, delayMs: number): void {
    // One look pending per kernel: clients retrying during a cluster outage do not multiply them.
    if (this.rechecks.has(row.id)) return;
    const timer = setTimeout(() => {
      this.rechecks.delete(row.id);
      void (async () => {
        const now = await findKernel(this.options.db, { id: row.id });
        if (!now || now.state === "dead" || this.isHeldHere(now.id) || this.detaching) return;
        // Its launch ended (the kernel runs: attached here as every live kernel is), or it is still launching:
        // claimed here if the process launching it is gone (reattached if it answers, else stopped).
        const outcome = isLaunching(now) ? await this.takeUpIfAbandoned(now) : await this.restoreOrMarkDead(now);
        if (outcome === "held elsewhere") this.recheckAfterLease(now);
      })().catch((error) => log.warn(`kernel ${row.id}: could not look at it again: ${error}`));
    }, delayMs);
    timer.unref();
    this.rechecks.set(row.id, timer);
  }

  /** Why a kernel could not be reattached (null: it was; CLUSTER_UNREACHABLE: no one can tell yet). */
  private async restoreOne(row: KernelRow): Promise<string | null | typeof CLUSTER_UNREACHABLE> {
    if (!row.sealedLaunchState) return isLaunching(row) ? `the portal stopped while it was ${row.state}` : "no saved connection state";
    let held: LiveKernel | undefined;
    try {
      const saved = JSON.parse(open(this.options.secret, row.sealedLaunchState)) as unknown;
      const process = await this.options.launchers.restore(saved);
      const status = await process.poll();
      if (!status.alive) {
        // What it left (a finished pod's object, an ended application's watch) goes with it.
        await process.cleanup().catch(() => {});
        return `died while the portal was down: ${status.reason}`;
      }
      // Cells still running are recorded on from where their stored outputs end, from the first message heard.
      await this.options.recorder?.resume(row.id);
      this.recordedEngines.set(row.id, row.engineId);
      const kernel = (held = this.hold(new LiveKernel(row.id, row.ownerId, row.kernelspec, process, this.eventsFor(row.id), kernelLogger)));
      // A busy kernel stays busy (the culler spares it, its busy time counts) until its iopub says otherwise.
      if (row.state === "busy") kernel.assumeState("busy");
      else kernel.executionState = "idle";
      // A cell that waits on input() is asked again of the clients that attach (only a busy kernel waits on one).
      if (row.state === "busy" && row.openInput) kernel.restoreOpenInput(row.openInput);
      // A row stopped meanwhile (its owner, the culler, another replica) is not revived: this process lets go.
      const stoppedMeanwhile = async () => {
        if (this.live.get(row.id) === kernel) {
          this.forget(row.id);
          await stopProcessOf(kernel);
        }
        return "stopped while it was reattached";
      };
      if (!isLaunching(row)) {
        // Ready means this process hears its iopub too (a client's first cell must not lose output); an idle
        // kernel answers at once. A busy one answers when its cell ends: that is not waited for. Either way, once
        // it answered, any cell it ran before is over (its iopub, ordered, has been heard up to the answer): runs
        // taken up above that never saw their end (it came while no portal listened) are finished then.
        const ready = kernel.ready().then(
          () => this.options.recorder?.resumedRunsEnded(row.id),
          (error: Error) => log.warn(`kernel ${row.id} reattached but not answering yet: ${error.message}`),
        );
        if (row.state !== "busy") await ready;
        return null;
      }
      // A launch (a start, or a restart whose new process was saved) a portal left behind: it must answer within
      // the startup deadline, as a launch here must.
      try {
        await kernel.ready(this.options.startupDeadlineMs);
      } catch (error) {
        if (kernel.isDead) return `died while it was taken up: ${(error as Error).message}`;
        // Not ours to stop any more: stopped meanwhile, or this process is stopping (it closed the connection).
        if (this.live.get(row.id) !== kernel || this.detaching) {
          if (this.live.get(row.id) === kernel) this.forget(row.id);
          return null;
        }
        // Still not answering: stopped, not kept without a deadline.
        this.forget(row.id);
        await stopProcessOf(kernel);
        return `did not finish ${row.state === "restarting" ? "restarting" : "starting"}: ${(error as Error).message}`;
      }
      // Found after a portal stopped during its launch: started now, as far as culling and budgets go.
      const now = new Date();
      const fields = { state: "idle" as const, stateDetail: null, startedAt: row.startedAt ?? now, lastActivityAt: now, launchLeaseUntil: null };
      if (!(await updateKernelUnlessDead(this.options.db, row.id, fields))) return await stoppedMeanwhile();
      this.stateWriterOf(row.id).rowSays("idle");
      return null;
    } catch (error) {
      // Held but not reattached after all (a write failed): let go and stop it, as its row will say it is dead.
      if (held && this.live.get(row.id) === held) {
        this.forget(row.id);
        await stopProcessOf(held).catch(() => {});
      }
      if (!held && error instanceof LaunchError && error.code === "CLUSTER_UNREACHABLE") {
        log.warn(`${error.message}; the kernel is left as it is, and looked at again soon`);
        return CLUSTER_UNREACHABLE;
      }
      return `could not be reattached: ${(error as Error).message}`;
    }
  }

  /** Lets go of every kernel without stopping them: they keep running and the next start reattaches. */
  async detachAll(): Promise<void> {
    this.detaching = true;
    // Stopped now, waited for at the end: a take-up in progress ends promptly once the kernels are detached.
    const watchesStopped = Promise.all(this.otherReplicaWatches.map((loop) => loop.stop()));
    this.otherReplicaWatches = [];
    for (const timer of this.rechecks.values()) clearTimeout(timer);
    this.rechecks.clear();
    await this.leases.releaseAll();
    await this.options.recorder?.flushAll();
    await Promise.all([...this.stateWriters.keys()].map((id) => this.settleState(id)));
    const detached = new Set(this.live.values());
    await Promise.all([...detached].map((k) => k.detach()));
    // Reattaches in progress end promptly once their connections closed, and neither stop nor mark anything dead;
    // one that got as far as holding its kernel meanwhile has it detached here too.
    await Promise.allSettled([...this.restores.values()]);
    await Promise.all([...this.live.values()].filter((k) => !detached.has(k)).map((k) => k.detach()));
    this.live.clear();
    await watchesStopped;
  }

  private stateWriterOf(id: string): KernelStateWriter {
    let writer = this.stateWriters.get(id);
    if (!writer) this.stateWriters.set(id, (writer = new KernelStateWriter(this.options.db, id)));
    return writer;
  }

  /** Writes a kernel's pending state and busy time before its end is recorded. */
  private async settleState(id: string): Promise<void> {
    const writer = this.stateWriters.get(id);
    this.stateWriters.delete(id);
    await writer?.flush();
  }

  /** Keeps a live kernel in this process, with its outputs recorded. */
  private hold(kernel: LiveKernel): LiveKernel {
    this.live.set(kernel.id, kernel);
    this.options.recorder?.attach(kernel);
    return kernel;
  }

  /** Lets go of a kernel that ended (its row and process are the caller's business). */
  private forget(id: string): void {
    this.live.delete(id);
    this.lastActivityWrite.delete(id);
    this.recordedEngines.delete(id);
  }

  /** Kernels held here with at least one client attached (the culler's sightings, see sweep.ts). */
  /** What this process holds now of the runs of a user's notebook (see OutputRecorder.liveRunsOfNotebook). */
  liveRunsOfNotebook(ownerId: string, path: string): LiveRunView[] {
    return this.options.recorder?.liveRunsOfNotebook(ownerId, path) ?? [];
  }

  attachedKernels(): string[] {
    return [...this.live.values()].filter((k) => !k.isDead && k.connections > 0).map((k) => k.id);
  }

  liveKernel(id: string): LiveKernel | undefined {
    return this.live.get(id);
  }

  private eventsFor(id: string) {
    const { db } = this.options;
    return {
      // Busy time counts for usage and for the culler (a busy kernel is not idle however silent it is).
      onState: (state: ExecutionState) => this.stateWriterOf(id).onState(state),
      onOpenInput: (openInput: SavedInputRequest | null) => void this.stateWriterOf(id).onOpenInput(openInput),
      onActivity: (atMs: number) => {
        // Activity is frequent (every output); the row is written at most every few seconds.
        const last = this.lastActivityWrite.get(id) ?? 0;
        if (atMs - last < ACTIVITY_WRITE_INTERVAL_MS) return;
        this.lastActivityWrite.set(id, atMs);
        void touchKernelActivity(db, id, new Date(atMs)).catch((error) => log.warn(`kernel ${id}: activity write failed: ${error}`));
      },
      onDeath: (status: { reason: string }) => {
        const kernel = this.live.get(id);
        const engineId = this.recordedEngines.get(id) ?? null;
        // A death during this process's own restart or take-up of the kernel is that kernel's, whatever the row says.
        const ownLaunch = this.ownLaunches.has(id);
        this.forget(id);
        log.warn(`kernel ${id} died: ${status.reason}`);
        void kernel?.detach();
        void kernel?.process.cleanup().catch(() => {});
        void this.options.recorder?.kernelEnded(id);
        // Only if the row still names the engine that died: another replica may be restarting the kernel (its old
        // engine's death is that restart's), or have restarted it already (the row names the new engine).
        // Its clients hear how it ended once that is known (LiveKernel.settledEnd): dead, or replaced by a restart.
        void this.settleState(id)
          .then(async () => {
            if (ownLaunch) {
              kernel?.settleEnd("dead");
              return void (await markKernelDead(db, { id, reason: "died", detail: status.reason }));
            }
            if (await markEngineDead(db, { id, engineId, detail: status.reason })) return kernel?.settleEnd("dead");
            // Not the kernel's end: another replica restarts it, or has, and this process attaches it again.
            const row = await findKernel(db, { id });
            if (!row || row.state === "dead") return kernel?.settleEnd("dead");
            kernel?.settleEnd("replaced");
            if (this.detaching) return;
            if (isLaunching(row)) this.recheckAfterLease(row);
            else await this.restoreOrMarkDead(row);
          })
          .catch((error) => {
            kernel?.settleEnd("dead");
            log.error(`kernel ${id}: could not record death: ${error}`);
          });
      },
    };
  }

  /** The kernel's row for its owner, or (`scope` "seen") for an admin too; NOT_FOUND for anyone else. */
  private async requireRow(user: UserRow, id: string, scope: "seen" | "owner" = "seen"): Promise<KernelRow> {
    const row = await findKernel(this.options.db, { id, ownerId: scopeOf(user) });
    if (!row) throw new AppError("NOT_FOUND", `Kernel ${id} was not found.`);
    // An admin sees every kernel (and may stop one), but works only in their own: "not found" would contradict the
    // list they just read (QA).
    if (scope === "owner" && row.ownerId !== user.id) {
      throw new AppError("FORBIDDEN", `Kernel ${id} is another user's: admins can list and stop other users' kernels, but not connect to, interrupt or restart them.`);
    }
    return row;
  }

  private model(row: KernelRow): KernelModel {
    const live = this.live.get(row.id);
    return modelOf(row.id, row.kernelspec, row.lastActivityAt, live?.executionState ?? row.state, live);
  }
}

function modelOf(id: string, kernelspec: string, lastActivity: Date, state: ExecutionState, live: LiveKernel | undefined): KernelModel {
  return { id, name: kernelspec, last_activity: lastActivity.toISOString(), execution_state: state, connections: live?.connections ?? 0 };
}

/** Stops a held kernel's process for good and lets go of it (its row is the caller's business). */
async function stopProcessOf(kernel: LiveKernel): Promise<void> {
  kernel.retireProcess();
  await stopProcess(kernel.id, kernel.process);
  await kernel.close();
}

/** Kills a kernel's process and cleans up after it (a failed kill is logged: the caller's row says what it meant). */
async function stopProcess(id: string, process: KernelProcess, connection?: KernelConnection): Promise<void> {
  await connection?.close();
  await process.kill().catch((error) => log.warn(`kernel ${id}: kill failed: ${error}`));
  await process.cleanup().catch(() => {});
}

const isLaunching = (row: KernelRow) => row.state === "starting" || row.state === "restarting";
/** The client's KERNEL_* variables a kernel was started with (see begin), for its restart. */
function clientEnvOf(secret: string, row: KernelRow): Record<string, string> | undefined {
  if (!row.sealedClientEnv) return undefined;
  try {
    return JSON.parse(open(secret, row.sealedClientEnv)) as Record<string, string>;
  } catch (error) {
    log.warn(`kernel ${row.id}: its start's KERNEL_* variables could not be read; restarting without them: ${(error as Error).message}`);
    return undefined;
  }
}

/** What became of a kernel looked at after a restart: "skipped" when this process already has it (or is stopping). */
type RestoreOutcome = "reattached" | "dead" | "held elsewhere" | "paused" | "unreachable" | "on another host" | "skipped";

/** Runs `work` on every item, at most `width` at a time. */
async function forEachBounded<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** Admins see every kernel; everyone else only their own. */
const scopeOf = (user: UserRow) => (user.role === "admin" ? undefined : user.id);
