import { defineConfig } from "@playwright/test";
import { clusterSuite } from "../support/playwright-common";
import { artifactsDir, k8sPort } from "./support";

// The Kubernetes end-to-end suite (`npm test -- k8s-e2e`, as root): a real control plane (etcd, kube-apiserver,
// controller-manager, scheduler) and the node harness (e2e/clusters/kubernetes), started by the global setup on
// instance 8, and a portal of its own (`atrium start` on its own port and data dir) whose kernels are pods and
// whose homes are PersistentVolumeClaims. The global setup starts the portal too, after the cluster (see
// support.ts); there is no webServer. Screenshots under e2e/.artifacts/k8s-<port>/. The spec skips unless this
// config runs it (the default config ignores e2e/kubernetes).
process.env.ATRIUM_K8S_E2E = "1";
const support = "./support.ts"; // its default export is both hooks: start the cluster and the portal, then stop them

export default defineConfig(clusterSuite({ artifactsDir, port: k8sPort, support }));
