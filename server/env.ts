// The one reader of process.env. Everything Atrium can be configured with is here, validated at boot, so a
// bad value stops the server with a message naming the variable instead of failing later in a request.
// When you add a variable, add it to the README's configuration table too.
import path from "node:path";
import { z } from "zod";
import { namespaceTemplateProblem } from "./kubernetes/names";

const port = z.coerce.number().int().min(0).max(65535);
/** A container image reference (registry/name:tag or @digest); no spaces or shell characters. */
const IMAGE = /^[a-z0-9][a-z0-9._\-/:@]{0,254}$/i;
const optionalNonEmpty = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

/** A yes/no variable: true, false, 1 or 0 (anything else is named as invalid at boot). */
const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0"])
    .default(fallback ? "true" : "false")
    .transform((v) => v === "true" || v === "1");

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("production"),
  PORT: port.default(3000),
  HOST: z.string().default("0.0.0.0"),
  ATRIUM_PUBLIC_URL: z.string().url("must be a URL such as https://atrium.example.com").optional(),
  DATABASE_URL: optionalNonEmpty.pipe(
    z
      .string()
      .refine((v) => /^postgres(ql)?:\/\/[^\s]+$/.test(v) && URL.canParse(v), {
        message: "must be a postgres:// or postgresql:// URL, e.g. postgres://atrium:secret@db.example.com:5432/atrium",
      })
      .optional(),
  ),
  ATRIUM_DATA_DIR: z.string().default("./.atrium"),
  ATRIUM_SECRET: optionalNonEmpty.pipe(
    z.string().min(32, "must be at least 32 characters (e.g. `openssl rand -hex 32`)").optional(),
  ),
  ATRIUM_ADMIN_EMAIL: optionalNonEmpty.pipe(z.string().email("must be an email address").optional()),
  ATRIUM_ADMIN_PASSWORD: optionalNonEmpty.pipe(z.string().min(8, "must be at least 8 characters").optional()),
  ATRIUM_SESSION_MAX_AGE_HOURS: z.coerce.number().positive().default(12),
  /** Single sign-on with an OpenID Connect provider (Keycloak, Okta, Entra ID, Google, Dex...): all three, or none. */
  ATRIUM_OIDC_ISSUER: optionalNonEmpty.pipe(z.string().url("must be the provider's issuer URL, e.g. https://sso.example.com/realms/analytics").optional()),
  ATRIUM_OIDC_CLIENT_ID: optionalNonEmpty,
  ATRIUM_OIDC_CLIENT_SECRET: optionalNonEmpty,
  /** What the single sign-on button says: "Continue with <name>". */
  ATRIUM_OIDC_NAME: z.string().trim().min(1).max(60).default("single sign-on"),
  /** Sign-in with directory accounts (server/auth/ldap.ts): the form's email and password are checked there first. */
  ATRIUM_LDAP_URL: optionalNonEmpty.pipe(
    z
      .string()
      .refine((v) => /^ldaps?:\/\/[^\s]+$/.test(v), { message: "must be an ldap:// or ldaps:// URL, e.g. ldaps://ldap.example.com" })
      .optional(),
  ),
  ATRIUM_LDAP_USER_BASE: optionalNonEmpty,
  ATRIUM_LDAP_USER_FILTER: z
    .string()
    .default("(|(uid={login})(mail={login}))")
    .refine((v) => v.includes("{login}") && v.startsWith("(") && v.endsWith(")"), { message: "must be an LDAP filter containing {login}, e.g. (|(uid={login})(mail={login}))" }),
  ATRIUM_LDAP_BIND_DN: optionalNonEmpty,
  ATRIUM_LDAP_BIND_PASSWORD: optionalNonEmpty,
  ATRIUM_LDAP_START_TLS: flag(false),
  ATRIUM_LDAP_TIMEOUT_SECONDS: z.coerce.number().positive().default(5),
  /** How often users linked to the directory are checked for entries that are gone (0: never). */
  ATRIUM_LDAP_LEAVER_CHECK_MINUTES: z.coerce.number().min(0).max(1440).default(15),
  /**
   * Email domains whose people get an account at their first sign-in through the OpenID provider or the directory
   * (comma-separated, or `*` for anyone the source vouches for). Unset: only users an admin added sign in that way.
   */
  ATRIUM_SSO_SIGNUP_DOMAINS: optionalNonEmpty.pipe(
    z
      .string()
      .transform((v) => (v.trim() === "*" ? ("*" as const) : v.split(",").map((d) => d.trim().toLowerCase()).filter(Boolean)))
      .refine((v) => v === "*" || v.every((d) => /^[a-z0-9.-]+\.[a-z]{2,}$/.test(d)), { message: "must be email domains separated by commas (e.g. example.com,lab.example.com), or *" })
      .optional(),
  ),
  ATRIUM_TRUST_PROXY: flag(false),
  ATRIUM_PYTHON: optionalNonEmpty,
  ATRIUM_LOCAL_KERNELS: flag(true),
  /** Local ipykernels forked from a warm interpreter (server/kernels/launchers/kernel-forker.ts); false: spawned. */
  ATRIUM_KERNEL_FORKER: flag(true),
  ATRIUM_PORTAL_HOST: optionalNonEmpty,
  ATRIUM_KERNELSPEC_DIRS: optionalNonEmpty,
  ATRIUM_LAUNCH_RESPONSE_HOST: z.string().default("127.0.0.1"),
  ATRIUM_LAUNCH_RESPONSE_PORT: port.default(0),
  ATRIUM_LAUNCH_ADVERTISED_HOST: optionalNonEmpty,
  ATRIUM_KERNEL_PORT_RANGE: z
    .string()
    .regex(/^\d{1,5}\.\.\d{1,5}$/, "must look like 40000..40999 (or 0..0 for any free port)")
    .default("0..0"),
  ATRIUM_KERNEL_STARTUP_TIMEOUT_SECONDS: z.coerce.number().positive().default(60),
  ATRIUM_DB_CONNECT_TIMEOUT_SECONDS: z.coerce.number().positive().default(10),
  ATRIUM_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  // Home folders: the local folder (embedded default) or HDFS through WebHDFS, as each analyst.
  ATRIUM_HOME_STORE: z.enum(["local", "webhdfs", "pvc"]).default("local"),
  ATRIUM_WEBHDFS_URL: optionalNonEmpty.pipe(
    z
      .string()
      .refine((v) => /^https?:\/\/[^\s]+$/.test(v) && URL.canParse(v), {
        message: "must be the NameNode's WebHDFS address, e.g. http://namenode.example.com:9870",
      })
      .optional(),
  ),
  ATRIUM_WEBHDFS_USER: optionalNonEmpty.pipe(
    z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._@/-]*$/, "must be a Hadoop user name such as atrium").optional(),
  ),
  ATRIUM_WEBHDFS_AUTH: z.enum(["simple", "kerberos"]).default("simple"),
  ATRIUM_WEBHDFS_HOME_ROOT: z
    .string()
    .default("/user")
    .refine((v) => /^\/[^:\s]*$/.test(v) && !/(^|\/)\.\.?(\/|$)/.test(v) && v.replace(/\/+/g, "") !== "", {
      message: "must be an absolute HDFS folder such as /user",
    }),
  ATRIUM_WEBHDFS_TIMEOUT_SECONDS: z.coerce.number().positive().default(30),
  // YARN kernels (the `yarn` launcher is registered only when ATRIUM_YARN_RM_URL is set).
  ATRIUM_YARN_RM_URL: optionalNonEmpty.pipe(
    z
      .string()
      .refine((v) => /^https?:\/\/[^\s]+$/.test(v) && URL.canParse(v), {
        message: "must be the ResourceManager's web address, e.g. http://rm.example.com:8088",
      })
      .optional(),
  ),
  ATRIUM_YARN_SPARK_HOME: optionalNonEmpty,
  ATRIUM_YARN_HADOOP_CONF_DIR: optionalNonEmpty,
  ATRIUM_YARN_SPARK_CONF_DIR: optionalNonEmpty,
  /** pyspark.zip and py4j for the driver, already on the cluster (hdfs:// or local:), so no launch uploads them. */
  ATRIUM_YARN_PYSPARK_ARCHIVES_PATH: optionalNonEmpty,
  // The standard Hadoop and Spark client variables: used when the ATRIUM_YARN_* ones above are not set.
  HADOOP_CONF_DIR: optionalNonEmpty,
  YARN_CONF_DIR: optionalNonEmpty,
  SPARK_HOME: optionalNonEmpty,
  SPARK_CONF_DIR: optionalNonEmpty,
  PYSPARK_ARCHIVES_PATH: optionalNonEmpty,
  ATRIUM_YARN_KERNEL_PYTHON: optionalNonEmpty,
  ATRIUM_YARN_SERVICE_USER: optionalNonEmpty.pipe(
    z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._@-]*$/, "must be a Hadoop user name such as atrium").optional(),
  ),
  ATRIUM_YARN_IMPERSONATE: flag(true),
  ATRIUM_YARN_DEFAULT_QUEUE: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/, "must be a YARN queue name").default("default"),
  ATRIUM_YARN_POLL_INTERVAL_SECONDS: z.coerce.number().min(0.2).max(60).default(2),
  ATRIUM_YARN_LAUNCH_TIMEOUT_SECONDS: z.coerce.number().positive().default(300),
  ATRIUM_CULL_INTERVAL_SECONDS: z.coerce.number().min(0.5).max(3600).default(30),
  ATRIUM_ORPHAN_SWEEP_SECONDS: z.coerce.number().min(5).max(86_400).default(300),
  // Users' POSIX ids (Kubernetes pods run as them): new users get uids from this base on.
  ATRIUM_POSIX_ID_BASE: optionalNonEmpty
    .transform((v) => (v === undefined ? undefined : Number(v)))
    .pipe(z.number().int("must be a whole number").min(1000, "must be at least 1000 (never root or a system id)").max(2_000_000_000).optional()),
  // Kubernetes kernels and PVC homes (the `kubernetes` launcher is registered only when ATRIUM_K8S_KUBECONFIG or
  // ATRIUM_K8S_IN_CLUSTER is set).
  ATRIUM_K8S_KUBECONFIG: optionalNonEmpty,
  ATRIUM_K8S_CONTEXT: optionalNonEmpty,
  ATRIUM_K8S_IN_CLUSTER: flag(false),
  ATRIUM_K8S_NAMESPACE: z
    .string()
    .default("atrium-kernels")
    .refine((v) => namespaceTemplateProblem(v) === undefined, { message: "must be a namespace name, optionally with {team}, e.g. atrium-{team}" }),
  ATRIUM_K8S_KERNEL_IMAGE: optionalNonEmpty.pipe(z.string().regex(IMAGE, "must be an image reference such as registry.example.com/atrium/kernel:1.0").optional()),
  ATRIUM_K8S_KERNEL_IMAGES: optionalNonEmpty.pipe(
    z
      .string()
      .refine((v) => v.split(",").every((i) => IMAGE.test(i.trim())), { message: "must be a comma-separated list of image references" })
      .optional(),
  ),
  ATRIUM_K8S_KERNEL_PYTHON: z.string().min(1).default("python3"),
  ATRIUM_K8S_LAUNCHER_SCRIPT: z.string().regex(/^\/[^\0\s]+\.py$/, "must be the absolute path of launch_kernel.py in the kernel image").default("/opt/atrium/launch_kernel.py"),
  ATRIUM_K8S_HOME_MOUNT: z.string().regex(/^\/[A-Za-z0-9._\-/]+$/, "must be an absolute path such as /home/atrium").default("/home/atrium"),
  ATRIUM_K8S_STORAGE_CLASS: optionalNonEmpty.pipe(z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a storage class name").optional()),
  ATRIUM_K8S_HOME_SIZE: z.string().regex(/^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/, "must be a Kubernetes quantity such as 10Gi").default("10Gi"),
  ATRIUM_K8S_FILESERVER_IMAGE: optionalNonEmpty.pipe(z.string().regex(IMAGE, "must be an image reference").optional()),
  ATRIUM_K8S_FILESERVER_PYTHON: z.string().min(1).default("python3"),
  ATRIUM_K8S_FILESERVER_SCRIPT: z.string().regex(/^\/[^\0\s]+\.py$/, "must be the absolute path of fileserver.py in the file-server image").default("/opt/atrium/fileserver.py"),
  ATRIUM_K8S_FILESERVER_IDLE_SECONDS: z.coerce.number().min(5).max(86_400).default(300),
  ATRIUM_K8S_LAUNCH_TIMEOUT_SECONDS: z.coerce.number().positive().default(300),
  ATRIUM_K8S_UNSCHEDULABLE_GRACE_SECONDS: z.coerce.number().min(0).max(3600).default(0),
  ATRIUM_K8S_TIMEOUT_SECONDS: z.coerce.number().positive().default(15),
});

export type Env = z.output<typeof schema> & { dataDir: string };

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`Atrium cannot start: its configuration is invalid.\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "EnvError";
  }
}

/** Validates the environment. Never prints secret values back, only the variable names. */
export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  const result = schema.safeParse(source);
  if (!result.success) {
    throw new EnvError(
      result.error.issues.map((issue) => `${issue.path.join(".") || "environment"}: ${issue.message}`),
    );
  }
  const problems = [...signInProblems(result.data), ...homeStoreProblems(result.data)];
  if (problems.length > 0) throw new EnvError(problems);
  return { ...result.data, dataDir: path.resolve(result.data.ATRIUM_DATA_DIR) };
}

function signInProblems(data: z.output<typeof schema>): string[] {
  const problems: string[] = [];
  const given = [data.ATRIUM_OIDC_ISSUER, data.ATRIUM_OIDC_CLIENT_ID, data.ATRIUM_OIDC_CLIENT_SECRET].filter((v) => v !== undefined).length;
  if (given !== 0 && given !== 3) problems.push("ATRIUM_OIDC_ISSUER, ATRIUM_OIDC_CLIENT_ID and ATRIUM_OIDC_CLIENT_SECRET: set all three for single sign-on, or none");
  if (data.ATRIUM_LDAP_URL && !data.ATRIUM_LDAP_USER_BASE) problems.push("ATRIUM_LDAP_USER_BASE: is required with ATRIUM_LDAP_URL (where users are looked up, e.g. ou=people,dc=example,dc=com)");
  if (data.ATRIUM_LDAP_BIND_DN && !data.ATRIUM_LDAP_BIND_PASSWORD) problems.push("ATRIUM_LDAP_BIND_PASSWORD: is required with ATRIUM_LDAP_BIND_DN");
  // Passwords and identities cross the network here: in clear only to this host.
  if (data.ATRIUM_OIDC_ISSUER && !data.ATRIUM_OIDC_ISSUER.startsWith("https://") && !isLoopbackUrl(data.ATRIUM_OIDC_ISSUER)) {
    problems.push("ATRIUM_OIDC_ISSUER: must be an https:// URL (plain http is accepted only for a provider on this host)");
  }
  if (data.ATRIUM_LDAP_URL && data.ATRIUM_LDAP_URL.startsWith("ldap://") && !data.ATRIUM_LDAP_START_TLS && !isLoopbackUrl(data.ATRIUM_LDAP_URL)) {
    problems.push("ATRIUM_LDAP_URL: passwords would cross the network in clear; use ldaps://, or set ATRIUM_LDAP_START_TLS=true");
  }
  return problems;
}

function isLoopbackUrl(url: string): boolean {
  try {
    return ["127.0.0.1", "localhost", "[::1]"].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** Settings that only make sense together (checked after each one is valid on its own). */
function homeStoreProblems(data: z.output<typeof schema>): string[] {
  const kubernetes = data.ATRIUM_K8S_KUBECONFIG !== undefined || data.ATRIUM_K8S_IN_CLUSTER;
  if (kubernetes && !data.ATRIUM_K8S_KERNEL_IMAGE) {
    return ["ATRIUM_K8S_KERNEL_IMAGE: is required when Kubernetes is configured (the image kernel pods run, e.g. registry.example.com/atrium/kernel:1.0)"];
  }
  if (data.ATRIUM_HOME_STORE === "pvc") {
    const problems: string[] = [];
    if (!kubernetes) problems.push("ATRIUM_HOME_STORE=pvc needs Kubernetes: set ATRIUM_K8S_KUBECONFIG, or ATRIUM_K8S_IN_CLUSTER=true in a pod");
    if (!data.ATRIUM_K8S_FILESERVER_IMAGE) problems.push("ATRIUM_K8S_FILESERVER_IMAGE: is required when ATRIUM_HOME_STORE=pvc (the image of the home file server)");
    return problems;
  }
  if (data.ATRIUM_HOME_STORE !== "webhdfs") return [];
  const problems: string[] = [];
  if (!data.ATRIUM_WEBHDFS_URL) {
    problems.push("ATRIUM_WEBHDFS_URL: is required when ATRIUM_HOME_STORE=webhdfs (e.g. http://namenode.example.com:9870)");
  }
  if (data.ATRIUM_WEBHDFS_AUTH === "kerberos") {
    problems.push(
      "ATRIUM_WEBHDFS_AUTH: kerberos (SPNEGO) is not supported in this build; use simple authentication for Atrium's service user, or ATRIUM_HOME_STORE=local",
    );
  }
  return problems;
}

let cached: Env | undefined;
/** The validated environment of this process (loaded once). */
export function env(): Env {
  cached ??= loadEnv();
  return cached;
}

/** spark-submit's environment: the ATRIUM_YARN_* settings, else the standard Hadoop and Spark variables. */
export function sparkSubmitEnv(env: Env): Record<string, string> {
  const hadoopConf = env.ATRIUM_YARN_HADOOP_CONF_DIR;
  const chosen: Record<string, string | undefined> = {
    SPARK_HOME: env.ATRIUM_YARN_SPARK_HOME ?? env.SPARK_HOME,
    HADOOP_CONF_DIR: hadoopConf ?? env.HADOOP_CONF_DIR,
    YARN_CONF_DIR: hadoopConf ?? env.YARN_CONF_DIR,
    SPARK_CONF_DIR: env.ATRIUM_YARN_SPARK_CONF_DIR ?? env.SPARK_CONF_DIR,
    PYSPARK_ARCHIVES_PATH: env.ATRIUM_YARN_PYSPARK_ARCHIVES_PATH ?? env.PYSPARK_ARCHIVES_PATH,
  };
  return Object.fromEntries(Object.entries(chosen).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
