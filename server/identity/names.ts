// Pure rules for the names Atrium derives and accepts: usernames (the identity kernels and homes run as),
// emails and team names; and the service accounts' names this installation reserves besides the built-in ones.
import os from "node:os";

/** POSIX-ish user name that YARN, HDFS and Kubernetes labels all accept. */
export const USERNAME_PATTERN = /^[a-z][a-z0-9._-]{0,31}$/;
export const TEAM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const isValidEmail = (email: string) => EMAIL_PATTERN.test(email.trim()) && email.length <= 254;

/**
 * "Ada.Lovelace+x@example.com" → "ada.lovelace", "zoë.ñ@…" → "zoe.n" (accents dropped, not the letters); a name that
 * can't be made valid falls back to "user".
 */
export function usernameFromEmail(email: string): string {
  const local = email.trim().toLowerCase().split("@")[0] ?? "";
  const plain = local.split("+")[0]!.normalize("NFKD").replace(/\p{M}/gu, "").replace(/ß/g, "ss");
  const name = plain.replace(/[^a-z0-9._-]/g, "").replace(/^[^a-z]+/, "").slice(0, 24).replace(/[._-]+$/, "");
  return USERNAME_PATTERN.test(name) ? name : "user";
}

/**
 * Names a derived username never takes: kernels and homes act as the username (YARN proxy user, HDFS owner), so
 * one taken from an email like hdfs@… must not become a cluster service's identity (an admin may still give one
 * explicitly).
 */
export const RESERVED_USERNAMES = new Set([
  "root", "daemon", "bin", "sys", "nobody", "operator", "atrium",
  "hdfs", "yarn", "mapred", "hadoop", "hive", "spark", "livy", "hbase", "zookeeper", "kafka", "oozie", "hue", "knox",
  "ranger", "impala", "kudu", "solr", "flink", "presto", "trino", "kube", "kubernetes", "system", "jupyter", "postgres",
  "dr.who", "httpfs", "kms", "ambari", "ambari-qa", "zeppelin", "atlas", "airflow", "nifi", "storm", "sqoop",
]);

/** This installation's own service users (its HDFS superuser, spark-submit's user, the portal's OS user). */
const serviceUsernames = new Set<string>();

/** Called at start with the configured service users: no person gets their name, derived or chosen. */
export function reserveServiceUsernames(names: readonly (string | undefined)[]): void {
  for (const name of names) if (name) serviceUsernames.add(name.toLowerCase());
}

/** The service users this installation is configured with, and the OS user the portal runs as. */
export function reserveConfiguredServiceUsernames(env: { ATRIUM_WEBHDFS_USER?: string; ATRIUM_YARN_SERVICE_USER?: string }): void {
  reserveServiceUsernames([env.ATRIUM_WEBHDFS_USER, env.ATRIUM_YARN_SERVICE_USER, os.userInfo().username]);
}

export function isReservedUsername(name: string): boolean {
  return RESERVED_USERNAMES.has(name) || serviceUsernames.has(name);
}

/** Candidates for a unique username: base, base2, base3, ... */
export function* usernameCandidates(base: string): Generator<string> {
  yield base;
  for (let i = 2; i < 10_000; i++) yield `${base}${i}`;
}
