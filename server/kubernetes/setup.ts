// Kubernetes for this portal process, from ATRIUM_K8S_*: the API client and the one pod watcher per namespace,
// shared by the kernel launcher and the PVC home store, and the users' identities (POSIX ids and team) both
// need. Absent (undefined) when Kubernetes is not configured, and then nothing Kubernetes is registered.
import type { Database } from "@/db";
import { teamNameOfUser } from "@/db/queries/teams";
import { findPosixIdentity } from "@/db/queries/users";
import type { Env } from "@/server/env";
import { log } from "@/server/log";
import { KubeApi, loadKubeConfig, type KubeCredentials } from "./api";
import { LABELS, MANAGED_BY, selectorOf } from "./names";
import { PodWatchers } from "./pod-watch";

export interface Kubernetes {
  api: KubeApi;
  watchers: PodWatchers;
  /** The user's uid/gid and team; undefined for an unknown user. */
  identityOf(username: string): Promise<{ uid: number; gid: number; team: string | null } | undefined>;
  stop(): Promise<void>;
}

/** Every pod Atrium manages carries this label; each namespace's one watch selects on it. */
export const MANAGED_PODS_SELECTOR = selectorOf({ [LABELS.managedBy]: MANAGED_BY });

export function credentialsFromEnv(env: Env): KubeCredentials | undefined {
  if (env.ATRIUM_K8S_KUBECONFIG) return { kind: "kubeconfig", file: env.ATRIUM_K8S_KUBECONFIG, context: env.ATRIUM_K8S_CONTEXT };
  if (env.ATRIUM_K8S_IN_CLUSTER) return { kind: "in-cluster" };
  return undefined;
}

export function kubernetesFor(credentials: KubeCredentials, db: Database, options: { timeoutMs?: number } = {}): Kubernetes {
  const api = new KubeApi(loadKubeConfig(credentials), { timeoutMs: options.timeoutMs });
  const watchers = new PodWatchers({
    api,
    labelSelector: MANAGED_PODS_SELECTOR,
    logger: {
      debug: (message, fields) => log.debug(message, fields ?? ""),
      warn: (message, fields) => log.warn(message, fields ?? ""),
      error: (message, fields) => log.error(message, fields ?? ""),
    },
  });
  return {
    api,
    watchers,
    identityOf: async (username) => {
      const ids = await findPosixIdentity(db, username);
      return ids && { uid: ids.uid, gid: ids.gid, team: await teamNameOfUser(db, username) };
    },
    stop: () => watchers.stop(),
  };
}

/** Kubernetes from the environment, or undefined when ATRIUM_K8S_KUBECONFIG / ATRIUM_K8S_IN_CLUSTER are unset. */
export function kubernetesFromEnv(env: Env, db: Database): Kubernetes | undefined {
  const credentials = credentialsFromEnv(env);
  return credentials && kubernetesFor(credentials, db, { timeoutMs: env.ATRIUM_K8S_TIMEOUT_SECONDS * 1000 });
}
