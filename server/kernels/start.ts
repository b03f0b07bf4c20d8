// Assembles kernel support for this process: the kernelspecs, the launchers they name, and the manager,
// then reattaches kernels that outlived the last portal process.
import os from "node:os";
import path from "node:path";
import { listTeams, yarnQueueOfUser } from "@/db/queries/teams";
import { checkInstallation } from "@/db/queries/installation";
import { recentPodNamespaces } from "@/db/queries/kernels";
import { log } from "@/server/log";
import { namespaceFor } from "@/server/kubernetes/names";
import type { Database } from "@/db";
import { sparkSubmitEnv, type Env } from "@/server/env";
import { BUNDLED_KERNELSPECS_DIR, loadKernelspecs } from "./kernelspecs";
import { LauncherRegistry } from "./launchers/base";
import { LocalLauncher } from "./launchers/local";
import { RemoteLocalLauncher } from "./launchers/remote-local";
import { YarnLauncher } from "./launchers/yarn";
import { KubernetesLauncher } from "./launchers/kubernetes";
import type { Kubernetes } from "@/server/kubernetes/setup";
import { PvcHomeStores } from "@/server/storage/pvc-homes";
import { ResponseListener } from "./launch-protocol/response-listener";
import type { RemoteLauncherOptions } from "./launchers/remote";
import { KernelManager } from "./manager";
import { COPIED_DATABASE, OrphanSweeper } from "./orphan-sweeper";
import { OutputRecorder, spillDirOf } from "./output-recorder";
import { resolveKernelPython } from "./python-runtime";
import type { HomeStores } from "@/server/storage/homes";
import { Culler } from "@/server/culler/culler";
import { kernelMetrics } from "@/server/usage/metrics";

export async function startKernels(env: Env, db: Database, secret: string, homes: HomeStores, kubernetes?: Kubernetes) {
  const python = await resolveKernelPython({ configured: env.ATRIUM_PYTHON, dataDir: env.dataDir });
  const extraDirs = env.ATRIUM_KERNELSPEC_DIRS?.split(":").filter(Boolean) ?? [];
  const kernelspecs = await loadKernelspecs([BUNDLED_KERNELSPECS_DIR, ...extraDirs]);
  const runtimeDir = path.join(env.dataDir, "runtime");
  // One listener per process receives every remote launcher's connection info (the launch protocol).
  const responses = new ResponseListener({
    host: env.ATRIUM_LAUNCH_RESPONSE_HOST,
    port: env.ATRIUM_LAUNCH_RESPONSE_PORT,
    advertisedHost: env.ATRIUM_LAUNCH_ADVERTISED_HOST,
  });
  await responses.start();
  const remote = { responseListener: responses, portRange: env.ATRIUM_KERNEL_PORT_RANGE, launchDeadlineMs: env.ATRIUM_KERNEL_STARTUP_TIMEOUT_SECONDS * 1000 };
  const local = new LocalLauncher({ runtimeDir, python, forkKernels: env.ATRIUM_KERNEL_FORKER });
  // Warm before the first analyst asks: that kernel forks too. A forker that cannot serve only means spawning.
  if (env.ATRIUM_LOCAL_KERNELS && env.ATRIUM_KERNEL_FORKER && python) void local.warmUp().then((ready) => {
    if (!ready) log.warn("the kernel forker did not start: local kernels are spawned (slower to start); the log line before this one says why");
  });
  const launchers = new LauncherRegistry()
    .register(local)
    .register(new RemoteLocalLauncher({ ...remote, python }));
  // What this installation creates on a shared cluster carries its id (the orphan sweep's scope).
  const { id: installation, sameDatabase, unreadable } = await checkInstallation(db);
  // Only an installation with clusters (YARN, Kubernetes) has anything to sweep or refuse.
  const undecided = sameDatabase || !(env.ATRIUM_YARN_RM_URL || kubernetes)
    ? undefined
    : unreadable
      ? `Could not tell whether this database is the one installation ${installation} was made in (${unreadable}): the orphan sweep and new YARN and Kubernetes kernels are off, and the running ones are left as they are. The check is made when the portal starts: restart it once the database answers the check (installation show says when it does).`
      : COPIED_DATABASE;
  if (env.ATRIUM_YARN_RM_URL || kubernetes) log.info(`installation ${installation}: the kernels' YARN applications and pods carry this id`);
  if (undecided) {
    log.warn(undecided.trim());
    // Before anything below looks at a kernel: nothing of the cluster kernels the rows name is reattached or stopped.
    launchers.refuseClusterLaunches(undecided.trim());
  }
  const yarn = env.ATRIUM_YARN_RM_URL ? yarnLauncher(env, db, remote, runtimeDir, installation) : undefined;
  if (yarn) {
    launchers.register(yarn);
    yarn.start(); // the one RM poller; restored YARN kernels below are followed by it
  }
  // Kubernetes kernels, when ATRIUM_K8S_* configure a cluster; their pods follow the shared per-namespace watches.
  if (kubernetes) launchers.register(kubernetesLauncher(env, db, kubernetes, remote, homes, installation));
  // Only kernelspecs whose launcher is available here are offered. Local kernels run as the portal's own OS user
  // (README, "Engines"): an installation whose analysts must be kept apart turns them off. Their launchers stay, so
  // local kernels started before are still reattached, and can be stopped.
  for (const [name, spec] of kernelspecs) {
    try {
      const launcher = launchers.forKernelspec(spec);
      if (!env.ATRIUM_LOCAL_KERNELS && (launcher.name === "local" || launcher.name === "remote-local")) kernelspecs.delete(name);
    } catch {
      kernelspecs.delete(name);
    }
  }
  if (kernelspecs.size === 0) log.warn("no kernels are offered: local kernels are off (ATRIUM_LOCAL_KERNELS=false) and no YARN or Kubernetes cluster is configured");
  const manager = new KernelManager({
    portalHost: env.ATRIUM_PORTAL_HOST,
    startupDeadlineMs: env.ATRIUM_KERNEL_STARTUP_TIMEOUT_SECONDS * 1000,
    db,
    secret,
    launchers,
    kernelspecs,
    recorder: new OutputRecorder(db, spillDirOf(env.dataDir)),
    // Local kernels start in the user's home folder, created first so the kernel can write there.
    homeOf: async (user) => {
      await homes.provision(user);
      return homes.localPathOf(user);
    },
  });
  await manager.restoreAll();
  // Launches a replica leaves behind after this one booted (a rolling deploy), and kernels held here that another
  // replica stopped (a local kernel's process only this host can stop).
  manager.watchOtherReplicas();
  // Engines on a cluster no kernel owns (a failed kill, a launch a crash cut short): once now, then every interval.
  // In a copy of the database nothing is swept (the engines it does not know may be the original's), and nothing
  // new is launched on a cluster under the original's id (the original would sweep it); each sweep says so.
  const orphans = new OrphanSweeper({ db, launchers: () => launchers.all(), intervalMs: env.ATRIUM_ORPHAN_SWEEP_SECONDS * 1000, offBecause: undecided });
  void orphans.sweepOnce().catch((error: Error) => log.warn(`orphan sweep at boot failed: ${error.message}`));
  orphans.start();
  // Idle culling, running budgets and admin stop requests: one sweep per interval; one replica acts per sweep.
  const culler = new Culler({
    db,
    intervalMs: env.ATRIUM_CULL_INTERVAL_SECONDS * 1000, // idle timeouts are minutes: the default 30 s is prompt enough
    stop: (id, reason, detail) => manager.stopKernel(id, reason, detail),
    connectionsOf: (id) => manager.liveKernel(id)?.connections ?? null,
    attachedHere: () => manager.attachedKernels(),
    // Each replica renews its sightings every sweep: three sweeps missed (a replica gone) and they lapse.
    clientsSeenForMs: 3 * env.ATRIUM_CULL_INTERVAL_SECONDS * 1000,
    isPaused: (launcher) => launchers.pausedLauncher(launcher) !== undefined,
    onStopped: (stopped) => kernelMetrics().culled(stopped.teamName, stopped.kind),
  });
  culler.start();
  return {
    manager,
    culler,
    stop: async () => {
      await culler.stop();
      await orphans.stop();
      await manager.detachAll();
      await yarn?.stop();
      await responses.stop();
    },
  };
}

/** The YARN launcher from ATRIUM_YARN_* (see the README's configuration table). */
function yarnLauncher(env: Env, db: Database, remote: RemoteLauncherOptions, runtimeDir: string, installationId: string): YarnLauncher {
  const submitEnv = sparkSubmitEnv(env);
  return new YarnLauncher({
    ...remote,
    installationId,
    launchDeadlineMs: env.ATRIUM_YARN_LAUNCH_TIMEOUT_SECONDS * 1000,
    rmUrl: env.ATRIUM_YARN_RM_URL!,
    serviceUser: env.ATRIUM_YARN_SERVICE_USER ?? os.userInfo().username,
    sparkSubmit: submitEnv.SPARK_HOME ? path.join(submitEnv.SPARK_HOME, "bin", "spark-submit") : "spark-submit",
    submitEnv,
    kernelPython: env.ATRIUM_YARN_KERNEL_PYTHON,
    impersonate: env.ATRIUM_YARN_IMPERSONATE,
    defaultQueue: env.ATRIUM_YARN_DEFAULT_QUEUE,
    queueFor: (username) => yarnQueueOfUser(db, username),
    pollIntervalMs: env.ATRIUM_YARN_POLL_INTERVAL_SECONDS * 1000,
    runtimeDir: path.join(runtimeDir, "yarn"),
  });
}

/** The Kubernetes launcher from ATRIUM_K8S_* (see the README's configuration table). */
function kubernetesLauncher(env: Env, db: Database, kubernetes: Kubernetes, remote: RemoteLauncherOptions, homes: HomeStores, installationId: string): KubernetesLauncher {
  if (!env.ATRIUM_K8S_KERNEL_IMAGE) throw new Error("Kubernetes kernels need ATRIUM_K8S_KERNEL_IMAGE.");
  return new KubernetesLauncher({
    ...remote,
    installationId,
    kernelNamespaces: () => kernelNamespaces(env, db),
    launchDeadlineMs: env.ATRIUM_K8S_LAUNCH_TIMEOUT_SECONDS * 1000,
    api: kubernetes.api,
    watchers: kubernetes.watchers,
    identityOf: kubernetes.identityOf,
    namespaceTemplate: env.ATRIUM_K8S_NAMESPACE,
    kernelImage: env.ATRIUM_K8S_KERNEL_IMAGE,
    allowedImages: env.ATRIUM_K8S_KERNEL_IMAGES?.split(",").map((i) => i.trim()).filter(Boolean),
    kernelPython: env.ATRIUM_K8S_KERNEL_PYTHON,
    launcherScript: env.ATRIUM_K8S_LAUNCHER_SCRIPT,
    homeMountPath: env.ATRIUM_K8S_HOME_MOUNT,
    unschedulableGraceMs: env.ATRIUM_K8S_UNSCHEDULABLE_GRACE_SECONDS * 1000,
    // With PVC homes, kernels mount the user's claim (made here if the user never signed in since).
    homeClaimOf: homes instanceof PvcHomeStores ? (username, namespace) => homes.ensureClaim(username, namespace) : undefined,
  });
}


/** Kubernetes kernels that ended this long ago are no longer looked for in their namespace. */
const SWEPT_NAMESPACE_WINDOW_MS = 7 * 24 * 3600_000;

/**
 * Where kernel pods may be: the default namespace, each team's, and the namespace of every kernel alive or ended
 * in the last week (a team renamed or deleted since leaves its kernels' namespace behind).
 */
export async function kernelNamespaces(env: Env, db: Database, now = new Date()): Promise<string[]> {
  const recorded = await recentPodNamespaces(db, new Date(now.getTime() - SWEPT_NAMESPACE_WINDOW_MS));
  const teams = (await listTeams(db)).map((team) => namespaceFor(env.ATRIUM_K8S_NAMESPACE, team.name));
  return [...new Set([namespaceFor(env.ATRIUM_K8S_NAMESPACE, null), ...teams, ...recorded])];
}
