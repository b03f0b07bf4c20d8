// Starts Atrium's services for this process: the data dir, the secret, the database (migrated), the first
// admin. Used by the web server and by CLI commands that work on the database directly.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { openDatabase, type OpenDatabase } from "@/db";
import { countActiveAdmins, findUserByEmail } from "@/db/queries/users";
import type { Env } from "./env";
import { createUser, changeRole, setDisabled } from "./identity/users";
import { systemActor } from "./identity/actor";
import type { Services } from "./services";
import { log } from "./log";
import { startKernels } from "./kernels/start";
import { LocalHomeStores, type HomeStores } from "./storage/homes";
import { WebHdfsHomeStores } from "./storage/webhdfs-homes";
import { PvcHomeStores } from "./storage/pvc-homes";
import { BUNDLED_FILESERVER_POD_TEMPLATE } from "./storage/pvc-fileserver";
import { loadPodTemplate } from "./kubernetes/pods";
import { kubernetesFromEnv, type Kubernetes } from "./kubernetes/setup";
import { applyPosixIdBase } from "./identity/posix-ids";
import { reserveConfiguredServiceUsernames } from "./identity/names";
import { warnOfServiceNamedUsers } from "./identity/users";
import { DirectoryLeaverCheck } from "./auth/directory-leavers";
import { signInHousekeeping } from "./auth/housekeeping";
import { entriesStillThere, ldapSettingsFromEnv } from "./auth/ldap";

export interface Booted {
  services: Services;
  database: OpenDatabase;
  close(): Promise<void>;
}

export async function bootServices(env: Env): Promise<Booted> {
  fs.mkdirSync(env.dataDir, { recursive: true, mode: 0o700 });
  const secret = env.ATRIUM_SECRET ?? readOrCreateSecret(env.dataDir);
  const database = await openDatabase({
    url: env.DATABASE_URL,
    pgliteDir: path.join(env.dataDir, "pgdata"),
    connectTimeoutSeconds: env.ATRIUM_DB_CONNECT_TIMEOUT_SECONDS,
  });
  const secureCookies = env.ATRIUM_PUBLIC_URL?.startsWith("https:") ?? false;
  let kubernetes: Kubernetes | undefined;
  let homes: HomeStores;
  let kernels: Awaited<ReturnType<typeof startKernels>>;
  try {
    await applyPosixIdBase(database.db, env.ATRIUM_POSIX_ID_BASE);
    reserveConfiguredServiceUsernames(env);
    await warnOfServiceNamedUsers(database.db);
    kubernetes = kubernetesFromEnv(env, database.db);
    homes = createHomeStores(env, kubernetes);
    kernels = await startKernels(env, database.db, secret, homes, kubernetes);
  } catch (error) {
    await kubernetes?.stop();
    await database.close();
    throw error;
  }
  // Users linked to the directory whose entries are gone (people who left) are disabled, every interval.
  const ldap = ldapSettingsFromEnv(env);
  const leavers =
    ldap && env.ATRIUM_LDAP_LEAVER_CHECK_MINUTES > 0
      ? new DirectoryLeaverCheck({ db: database.db, issuer: ldap.url, entriesStillThere: (subjects) => entriesStillThere(ldap, subjects), intervalMs: env.ATRIUM_LDAP_LEAVER_CHECK_MINUTES * 60_000 })
      : undefined;
  leavers?.start();
  const housekeeping = signInHousekeeping(database.db);
  housekeeping.start();
  const services: Services = {
    env,
    db: database.db,
    dbKind: database.kind,
    secret,
    sessionCookieName: secureCookies ? "__Secure-atrium.session" : "atrium.session",
    secureCookies,
    kernels: kernels.manager,
    homes,
  };
  return {
    services,
    database,
    close: async () => {
      await leavers?.stop();
      await housekeeping.stop();
      await kernels.stop();
      if (homes instanceof PvcHomeStores) await homes.close();
      await kubernetes?.stop();
      await database.close();
    },
  };
}

/** The one place that picks the home-folder backend; everything else holds a HomeStores. */
function createHomeStores(env: Env, kubernetes: Kubernetes | undefined): HomeStores {
  if (env.ATRIUM_HOME_STORE === "pvc") {
    // loadEnv() already refused pvc without Kubernetes or a file-server image.
    if (!kubernetes || !env.ATRIUM_K8S_FILESERVER_IMAGE) throw new Error("ATRIUM_HOME_STORE=pvc needs Kubernetes and ATRIUM_K8S_FILESERVER_IMAGE.");
    return new PvcHomeStores({
      api: kubernetes.api,
      watchers: kubernetes.watchers,
      identityOf: kubernetes.identityOf,
      namespaceTemplate: env.ATRIUM_K8S_NAMESPACE,
      storageClass: env.ATRIUM_K8S_STORAGE_CLASS,
      size: env.ATRIUM_K8S_HOME_SIZE,
      image: env.ATRIUM_K8S_FILESERVER_IMAGE,
      python: env.ATRIUM_K8S_FILESERVER_PYTHON,
      script: env.ATRIUM_K8S_FILESERVER_SCRIPT,
      mountPath: env.ATRIUM_K8S_HOME_MOUNT,
      template: loadPodTemplate(BUNDLED_FILESERVER_POD_TEMPLATE),
      idleMs: env.ATRIUM_K8S_FILESERVER_IDLE_SECONDS * 1000,
      startDeadlineMs: env.ATRIUM_K8S_LAUNCH_TIMEOUT_SECONDS * 1000,
      requestTimeoutMs: env.ATRIUM_K8S_TIMEOUT_SECONDS * 1000,
      unschedulableGraceMs: env.ATRIUM_K8S_UNSCHEDULABLE_GRACE_SECONDS * 1000,
      logger: { warn: (message, fields) => log.warn(message, fields ?? "") },
    });
  }
  if (env.ATRIUM_HOME_STORE === "webhdfs") {
    // loadEnv() already refused webhdfs without a URL; this keeps a hand-made Env from falling back silently.
    if (!env.ATRIUM_WEBHDFS_URL) throw new Error("ATRIUM_HOME_STORE=webhdfs needs ATRIUM_WEBHDFS_URL.");
    return new WebHdfsHomeStores({
      url: env.ATRIUM_WEBHDFS_URL,
      serviceUser: env.ATRIUM_WEBHDFS_USER,
      auth: env.ATRIUM_WEBHDFS_AUTH,
      homeRoot: env.ATRIUM_WEBHDFS_HOME_ROOT,
      timeoutMs: env.ATRIUM_WEBHDFS_TIMEOUT_SECONDS * 1000,
    });
  }
  return new LocalHomeStores(path.join(env.dataDir, "homes"));
}

/** The secret is generated once and kept in the data dir (mode 0600), so sessions survive restarts. */
function readOrCreateSecret(dataDir: string): string {
  const file = path.join(dataDir, "secret");
  try {
    const existing = fs.readFileSync(file, "utf8").trim();
    if (existing.length >= 32) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const secret = crypto.randomBytes(32).toString("hex");
  fs.writeFileSync(file, secret + "\n", { mode: 0o600 });
  return secret;
}

/**
 * The first admin: from ATRIUM_ADMIN_EMAIL / ATRIUM_ADMIN_PASSWORD, or with a random password printed once.
 * Runs only while there is no active admin, so it never overrides what admins did later.
 */
export async function ensureFirstAdmin(services: Services): Promise<void> {
  const { db, env } = services;
  if ((await countActiveAdmins(db)) > 0) return;
  const email = env.ATRIUM_ADMIN_EMAIL ?? "admin@atrium.local";
  const existing = await findUserByEmail(db, email);
  if (existing) {
    if (existing.role !== "admin") await changeRole(db, systemActor, existing.id, "admin");
    if (existing.disabledAt) await setDisabled(db, systemActor, existing.id, false);
    log.info(`${email} is the admin (no other active admin existed).`);
    return;
  }
  const password = env.ATRIUM_ADMIN_PASSWORD ?? crypto.randomBytes(12).toString("base64url");
  await createUser(db, systemActor, { email, name: "Administrator", password, role: "admin", username: "admin" });
  if (env.ATRIUM_ADMIN_PASSWORD) {
    log.info(`Created the first admin ${email} with the password from ATRIUM_ADMIN_PASSWORD.`);
  } else {
    // Printed exactly once: it is not stored anywhere but as a hash.
    console.log(
      `\n  First admin created.\n    Email:    ${email}\n    Password: ${password}\n  Keep it now: it will not be shown again ` +
        `(reset it later with \`npx atrium users set-password ${email}\`).\n`,
    );
  }
}
