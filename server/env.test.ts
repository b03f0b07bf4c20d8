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
