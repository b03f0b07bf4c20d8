import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnvError, loadEnv, sparkSubmitEnv } from "./env";

describe("loadEnv", () => {
  it("uses the embedded defaults when nothing is set", () => {
    const env = loadEnv({});
    assert.equal(env.PORT, 3000);
    assert.equal(env.DATABASE_URL, undefined);
    assert.match(env.dataDir, /\.atrium$/);
  });

  it("names DATABASE_URL when it is malformed, without echoing its value", () => {
    for (const bad of ["mysql://u:hunter2@h/db", "not a url hunter2", "postgres://u:hunter2@ bad host/db"]) {
      assert.throws(
        () => loadEnv({ DATABASE_URL: bad }),
        (error: unknown) => error instanceof EnvError && /DATABASE_URL: must be a postgres/.test(error.message) && !error.message.includes("hunter2"),
        bad,
      );
    }
  });

  it("single sign-on: off by default; issuer, client id and secret all three or none, without echoing the secret; local kernels on by default", () => {
    const env = loadEnv({});
    assert.equal(env.ATRIUM_OIDC_ISSUER, undefined);
    assert.equal(env.ATRIUM_OIDC_NAME, "single sign-on");
    assert.equal(env.ATRIUM_LOCAL_KERNELS, true);
    assert.equal(loadEnv({ ATRIUM_LOCAL_KERNELS: "false" }).ATRIUM_LOCAL_KERNELS, false);
    const sso = { ATRIUM_OIDC_ISSUER: "https://sso.example.com/realms/a", ATRIUM_OIDC_CLIENT_ID: "atrium", ATRIUM_OIDC_CLIENT_SECRET: "hunter2-secret" };
    assert.equal(loadEnv(sso).ATRIUM_OIDC_CLIENT_ID, "atrium");
    assert.throws(
      () => loadEnv({ ...sso, ATRIUM_OIDC_CLIENT_ID: "" }),
      (error: unknown) => error instanceof EnvError && /set all three for single sign-on, or none/.test(error.message) && !error.message.includes("hunter2"),
    );
    assert.throws(() => loadEnv({ ...sso, ATRIUM_OIDC_ISSUER: "sso.example.com" }), (error: unknown) => error instanceof EnvError && /ATRIUM_OIDC_ISSUER: must be the provider's issuer URL/.test(error.message));
  });

  it("LDAP: off by default; a URL needs a user base, a bind DN its password, and the filter its {login}", () => {
    assert.equal(loadEnv({}).ATRIUM_LDAP_URL, undefined);
    const ldap = { ATRIUM_LDAP_URL: "ldaps://ldap.example.com", ATRIUM_LDAP_USER_BASE: "ou=people,dc=example,dc=com" };
    assert.equal(loadEnv(ldap).ATRIUM_LDAP_USER_FILTER, "(|(uid={login})(mail={login}))");
    const refused = (vars: Record<string, string>, pattern: RegExp) =>
      assert.throws(() => loadEnv(vars), (error: unknown) => error instanceof EnvError && pattern.test(error.message) && !error.message.includes("hunter2"));
    refused({ ATRIUM_LDAP_URL: "ldaps://ldap.example.com" }, /ATRIUM_LDAP_USER_BASE: is required/);
    refused({ ...ldap, ATRIUM_LDAP_URL: "https://ldap.example.com" }, /ATRIUM_LDAP_URL: must be an ldap:\/\/ or ldaps:\/\/ URL/);
    refused({ ...ldap, ATRIUM_LDAP_BIND_DN: "cn=reader,dc=example,dc=com" }, /ATRIUM_LDAP_BIND_PASSWORD: is required/);
    refused({ ...ldap, ATRIUM_LDAP_USER_FILTER: "(uid=hunter2)" }, /ATRIUM_LDAP_USER_FILTER: must be an LDAP filter containing \{login\}/);
  });

  it("passwords and identities cross the network encrypted, except to this host; sign-up domains are domains or *", () => {
    const ldap = { ATRIUM_LDAP_URL: "ldap://ldap.example.com", ATRIUM_LDAP_USER_BASE: "ou=people,dc=example,dc=com" };
    assert.throws(() => loadEnv(ldap), (error: unknown) => error instanceof EnvError && /ATRIUM_LDAP_URL: passwords would cross the network in clear/.test(error.message));
    assert.equal(loadEnv({ ...ldap, ATRIUM_LDAP_START_TLS: "true" }).ATRIUM_LDAP_START_TLS, true);
    assert.ok(loadEnv({ ...ldap, ATRIUM_LDAP_URL: "ldap://127.0.0.1:3389" }));
    const sso = { ATRIUM_OIDC_CLIENT_ID: "atrium", ATRIUM_OIDC_CLIENT_SECRET: "s" };
    assert.throws(() => loadEnv({ ...sso, ATRIUM_OIDC_ISSUER: "http://sso.example.com" }), (error: unknown) => error instanceof EnvError && /ATRIUM_OIDC_ISSUER: must be an https/.test(error.message));
    assert.ok(loadEnv({ ...sso, ATRIUM_OIDC_ISSUER: "http://localhost:3918" }));
    assert.equal(loadEnv({ ATRIUM_SSO_SIGNUP_DOMAINS: " * " }).ATRIUM_SSO_SIGNUP_DOMAINS, "*");
    assert.deepEqual(loadEnv({ ATRIUM_SSO_SIGNUP_DOMAINS: "Example.com, lab.example.com" }).ATRIUM_SSO_SIGNUP_DOMAINS, ["example.com", "lab.example.com"]);
    assert.throws(() => loadEnv({ ATRIUM_SSO_SIGNUP_DOMAINS: "@example.com" }), EnvError);
    assert.equal(loadEnv({}).ATRIUM_SSO_SIGNUP_DOMAINS, undefined);
  });

  it("treats an empty DATABASE_URL as unset", () => {
    assert.equal(loadEnv({ DATABASE_URL: "  " }).DATABASE_URL, undefined);
  });

  it("reports every bad variable at once", () => {
    assert.throws(
      () => loadEnv({ PORT: "ninety", ATRIUM_SECRET: "short", ATRIUM_ADMIN_EMAIL: "nobody" }),
      (error: unknown) =>
        error instanceof EnvError && ["PORT", "ATRIUM_SECRET", "ATRIUM_ADMIN_EMAIL"].every((name) => error.problems.some((p) => p.startsWith(name))),
    );
  });

  it("Kubernetes: off by default; a kubeconfig or in-cluster needs a kernel image; pvc homes need Kubernetes and a file-server image", () => {
    const none = loadEnv({});
    assert.equal(none.ATRIUM_K8S_KUBECONFIG, undefined);
    assert.equal(none.ATRIUM_K8S_IN_CLUSTER, false);
    assert.equal(none.ATRIUM_K8S_NAMESPACE, "atrium-kernels");
    const ok = loadEnv({ ATRIUM_K8S_IN_CLUSTER: "true", ATRIUM_K8S_KERNEL_IMAGE: "registry.example.com/atrium/kernel:1.0", ATRIUM_K8S_NAMESPACE: "atrium-{team}" });
    assert.equal(ok.ATRIUM_K8S_HOME_SIZE, "10Gi");
    assert.equal(ok.ATRIUM_K8S_LAUNCH_TIMEOUT_SECONDS, 300);
    const problems = (source: Record<string, string>): string => {
      try {
        loadEnv(source);
        return "";
      } catch (error) {
        assert.ok(error instanceof EnvError);
        return error.message;
      }
    };
    assert.match(problems({ ATRIUM_K8S_KUBECONFIG: "/etc/kube/config" }), /ATRIUM_K8S_KERNEL_IMAGE: is required/);
    assert.match(problems({ ATRIUM_HOME_STORE: "pvc" }), /ATRIUM_HOME_STORE=pvc needs Kubernetes/);
    assert.match(problems({ ATRIUM_HOME_STORE: "pvc", ATRIUM_K8S_IN_CLUSTER: "1", ATRIUM_K8S_KERNEL_IMAGE: "k:1" }), /ATRIUM_K8S_FILESERVER_IMAGE: is required/);
    assert.match(problems({ ATRIUM_K8S_NAMESPACE: "atrium-{user}" }), /ATRIUM_K8S_NAMESPACE/);
    assert.match(problems({ ATRIUM_K8S_KERNEL_IMAGE: "img; rm -rf /" }), /ATRIUM_K8S_KERNEL_IMAGE/);
    assert.match(problems({ ATRIUM_K8S_HOME_SIZE: "ten gigs" }), /ATRIUM_K8S_HOME_SIZE/);
    assert.match(problems({ ATRIUM_POSIX_ID_BASE: "0" }), /ATRIUM_POSIX_ID_BASE: must be at least 1000/);
    assert.equal(loadEnv({ ATRIUM_POSIX_ID_BASE: "200000" }).ATRIUM_POSIX_ID_BASE, 200000);
  });

  it("spark-submit gets the ATRIUM_YARN_* settings, else the standard Hadoop and Spark variables", () => {
    assert.deepEqual(sparkSubmitEnv(loadEnv({})), {});
    const standard = { HADOOP_CONF_DIR: "/etc/hadoop", YARN_CONF_DIR: "/etc/yarn", SPARK_HOME: "/opt/spark", SPARK_CONF_DIR: "/etc/spark", PYSPARK_ARCHIVES_PATH: "local:/opt/spark/python/lib/pyspark.zip" };
    assert.deepEqual(sparkSubmitEnv(loadEnv(standard)), standard);
    const atrium = loadEnv({
      ...standard,
      ATRIUM_YARN_HADOOP_CONF_DIR: "/srv/conf",
      ATRIUM_YARN_SPARK_HOME: "/srv/spark",
      ATRIUM_YARN_SPARK_CONF_DIR: "/srv/spark-conf",
      ATRIUM_YARN_PYSPARK_ARCHIVES_PATH: "hdfs:///libs/pyspark.zip,hdfs:///libs/py4j.zip",
    });
    assert.deepEqual(sparkSubmitEnv(atrium), {
      SPARK_HOME: "/srv/spark",
      HADOOP_CONF_DIR: "/srv/conf",
      YARN_CONF_DIR: "/srv/conf",
      SPARK_CONF_DIR: "/srv/spark-conf",
      PYSPARK_ARCHIVES_PATH: "hdfs:///libs/pyspark.zip,hdfs:///libs/py4j.zip",
    });
  });
});
