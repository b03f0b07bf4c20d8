// Support for the Kubernetes integration tests: the real test cluster (e2e/clusters/kubernetes), a Python that
// pods can run (pods run as users' uids on this host), namespaces, the shipped RBAC manifests applied as they
// are, and ServiceAccount tokens from the TokenRequest API. Each test file starts its own cluster instance
// (its own ports, bridge and pod subnet) and stops it in after().
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAllYaml } from '@kubernetes/client-node';
import { startKubernetesCluster } from '../../e2e/clusters/kubernetes/cluster.mjs';
import { ensurePodKernelPython } from '../../e2e/support/pod-python.mjs';
import { KubeApi, loadKubeConfig } from './api';

export type TestCluster = Awaited<ReturnType<typeof startKubernetesCluster>>;

export const DEPLOY_DIR = fileURLToPath(new URL('../../kernel-launchers/kubernetes/deploy', import.meta.url));
export const BUNDLED_LAUNCHER_SCRIPT = fileURLToPath(new URL('../../kernel-launchers/python/launch_kernel.py', import.meta.url));
/** Images the test node "has" (any other fails with ErrImagePull). */
export const KERNEL_IMAGE = 'atrium/kernel:dev';
export const FILESERVER_IMAGE = 'atrium/fileserver:dev';

export const isRoot = process.getuid?.() === 0;

/** The cluster for one test file, and a Python any uid can run (made once, cached). */
export async function startTestCluster(workDir: string, instance: number): Promise<{ cluster: TestCluster; podPython: string }> {
  const podPython = ensurePodKernelPython() as string;
  const cluster = await startKubernetesCluster({ workDir, instance, timeoutMs: 300_000 });
  return { cluster, podPython };
}

/** Atrium's client as the cluster admin (most tests), or with any bearer token (RBAC tests). */
export function apiWithToken(cluster: TestCluster, token: string = cluster.adminToken): KubeApi {
  return new KubeApi(loadKubeConfig({ kind: 'token', server: cluster.apiUrl, caPem: cluster.caPem, token }), { timeoutMs: 30_000 });
}

export async function createNamespace(cluster: TestCluster, name: string): Promise<void> {
  const r = await cluster.api.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  assert.ok(r.status === 201 || r.status === 409, `namespace ${name}: ${r.status} ${r.text}`);
}

/** The deploy manifest `file` as objects, each moved to `namespaces` (its own for namespaced kinds). */
export function manifest(file: string): Array<Record<string, any>> {
  return (loadAllYaml(fs.readFileSync(path.join(DEPLOY_DIR, file), 'utf8')) as Array<Record<string, any>>).filter(Boolean);
}

const PLURAL: Record<string, string> = { ServiceAccount: 'serviceaccounts', Role: 'roles', RoleBinding: 'rolebindings' };

/**
 * Applies the shipped ServiceAccount, Role and RoleBinding as written, except for their namespaces: the account
 * lives in `atriumNamespace`, the Role and its binding in `kernelNamespace`. Returns the account's name.
 */
export async function applyShippedRbac(cluster: TestCluster, atriumNamespace: string, kernelNamespace: string): Promise<string> {
  const [account] = manifest('serviceaccount.yaml');
  const [role] = manifest('role.yaml');
  const [binding] = manifest('rolebinding.yaml');
  assert.ok(account && role && binding, 'the deploy folder has the ServiceAccount, Role and RoleBinding');
  account.metadata.namespace = atriumNamespace;
  role.metadata.namespace = kernelNamespace;
  binding.metadata.namespace = kernelNamespace;
  for (const subject of binding.subjects) subject.namespace = atriumNamespace;
  for (const object of [account, role, binding]) {
    const group = object.apiVersion === 'v1' ? '/api/v1' : `/apis/${object.apiVersion}`;
    const r = await cluster.api.request('POST', `${group}/namespaces/${object.metadata.namespace}/${PLURAL[object.kind]}`, object);
    assert.ok(r.status === 201 || r.status === 409, `${object.kind} ${object.metadata.name}: ${r.status} ${r.text}`);
  }
  return account.metadata.name as string;
}

/** A token for a ServiceAccount from the TokenRequest API (what a pod's projected token is). */
export async function serviceAccountToken(cluster: TestCluster, namespace: string, account: string): Promise<string> {
  const r = await cluster.api.request('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  assert.equal(r.status, 201, r.text);
  return r.json.status.token as string;
}

/** Pods in `namespace` matching a label selector (as the admin). */
export async function podsMatching(cluster: TestCluster, namespace: string, selector: string): Promise<any[]> {
  const r = await cluster.api.request('GET', `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`);
  assert.equal(r.status, 200, r.text);
  return r.json.items;
}

/** Waits for `check` to give a truthy value, polling every `everyMs`, failing after `ms` with `what`. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false | null>, ms: number, everyMs = 200): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
