// Assembles kernel support for this process: the kernelspecs, the launchers they name, and the manager,
// then reattaches kernels that outlived the last portal process.
import os from "node:os";
import path from "node:path";
import { yarnQueueOfUser } from "@/db/queries/teams";
import type { Database } from "@/db";
import type { Env } from "@/server/env";
import { BUNDLED_KERNELSPECS_DIR, loadKernelspecs } from "./kernelspecs";
import { LauncherRegistry } from "./launchers/base";
import { LocalLauncher } from "./launchers/local";
import { RemoteLocalLauncher } from "./launchers/remote-local";
import { YarnLauncher } from "./launchers/yarn";
import { ResponseListener } from "./launch-protocol/response-listener";
import type { RemoteLauncherOptions } from "./launchers/remote";
import { KernelManager } from "./manager";
import { OutputRecorder } from "./output-recorder";
import { resolveKernelPython } from "./python-runtime";
import type { HomeStores } from "@/server/storage/homes";
import { Culler } from "@/server/culler/culler";
import { kernelMetrics } from "@/server/usage/metrics";

export async function startKernels(env: Env, db: Database, secret: string, homes: HomeStores) {
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
  const launchers = new LauncherRegistry()
    .register(new LocalLauncher({ runtimeDir, python }))
    .register(new RemoteLocalLauncher({ ...remote, python }));
  const yarn = env.ATRIUM_YARN_RM_URL ? yarnLauncher(env, db, remote, runtimeDir) : undefined;
  if (yarn) {
    launchers.register(yarn);
    yarn.start(); // the one RM poller; restored YARN kernels below are followed by it
  }
  // Only kernelspecs whose launcher is available here are offered.
  for (const [name, spec] of kernelspecs) {
    try {
      launchers.forKernelspec(spec);
    } catch {
      kernelspecs.delete(name);
    }
  }
  const manager = new KernelManager({
    startupDeadlineMs: env.ATRIUM_KERNEL_STARTUP_TIMEOUT_SECONDS * 1000,
    db,
    secret,
    launchers,
    kernelspecs,
    recorder: new OutputRecorder(db, path.join(env.dataDir, "outputs")),
    // Local kernels start in the user's home folder, created first so the kernel can write there.
    homeOf: async (user) => {
      await homes.provision(user);
      return homes.localPathOf(user);
    },
  });
  await manager.restoreAll();
  // Idle culling, running budgets and admin stop requests: one sweep per interval; one replica acts per sweep.
  const culler = new Culler({
    db,
    intervalMs: env.ATRIUM_CULL_INTERVAL_SECONDS * 1000, // idle timeouts are minutes: the default 30 s is prompt enough
    stop: (id, reason, detail) => manager.stopKernel(id, reason, detail),
    connectionsOf: (id) => manager.liveKernel(id)?.connections ?? null,
    onStopped: (stopped) => kernelMetrics().culled(stopped.teamName, stopped.kind),
  });
  culler.start();
  return {
    manager,
    culler,
    stop: async () => {
      await culler.stop();
      await manager.detachAll();
      await yarn?.stop();
      await responses.stop();
    },
  };
}

/** The YARN launcher from ATRIUM_YARN_* (see the README's configuration table). */
function yarnLauncher(env: Env, db: Database, remote: RemoteLauncherOptions, runtimeDir: string): YarnLauncher {
  const submitEnv: Record<string, string> = {};
  if (env.ATRIUM_YARN_SPARK_HOME) submitEnv.SPARK_HOME = env.ATRIUM_YARN_SPARK_HOME;
  if (env.ATRIUM_YARN_HADOOP_CONF_DIR) submitEnv.HADOOP_CONF_DIR = submitEnv.YARN_CONF_DIR = env.ATRIUM_YARN_HADOOP_CONF_DIR;
  if (env.ATRIUM_YARN_SPARK_CONF_DIR) submitEnv.SPARK_CONF_DIR = env.ATRIUM_YARN_SPARK_CONF_DIR;
  for (const name of ["HADOOP_CONF_DIR", "YARN_CONF_DIR", "SPARK_HOME", "SPARK_CONF_DIR"]) {
    if (!submitEnv[name] && process.env[name]) submitEnv[name] = process.env[name]!;
  }
  return new YarnLauncher({
    ...remote,
    launchDeadlineMs: env.ATRIUM_YARN_LAUNCH_TIMEOUT_SECONDS * 1000,
    rmUrl: env.ATRIUM_YARN_RM_URL!,
    serviceUser: env.ATRIUM_YARN_SERVICE_USER ?? os.userInfo().username,
    sparkSubmit: env.ATRIUM_YARN_SPARK_HOME ? path.join(env.ATRIUM_YARN_SPARK_HOME, "bin", "spark-submit") : "spark-submit",
    submitEnv,
    kernelPython: env.ATRIUM_YARN_KERNEL_PYTHON,
    impersonate: env.ATRIUM_YARN_IMPERSONATE,
    defaultQueue: env.ATRIUM_YARN_DEFAULT_QUEUE,
    queueFor: (username) => yarnQueueOfUser(db, username),
    pollIntervalMs: env.ATRIUM_YARN_POLL_INTERVAL_SECONDS * 1000,
    runtimeDir: path.join(runtimeDir, "yarn"),
  });
}
