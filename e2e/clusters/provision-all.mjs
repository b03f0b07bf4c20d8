// Fetches or builds what the cluster tests run (the Hadoop mini cluster's jars, the Spark venv, etcd and
// Kubernetes), cached under ~/.cache/atrium: a no-op when warm. `npm test` runs it before the integration tests.
import { provisionHadoop } from "./hadoop/provision.mjs";
import { ensureKubernetes } from "./kubernetes/provision.mjs";

const started = Date.now();
provisionHadoop();
await ensureKubernetes();
console.log(`[provision] test clusters ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
