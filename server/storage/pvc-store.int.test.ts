// The PVC home store against a REAL API server (e2e/clusters/kubernetes): each user's home is a
// PersistentVolumeClaim (provisioned by the harness's storage class, really bind-mounted into pods), browsed
// through the user's on-demand file-server pod (kernel-launchers/kubernetes/fileserver.py, run as the user's
// uid), reached through the API server's pod proxy. The shared HomeStore contract first, then what only PVC
// homes have: the claim made at sign-in (no pod), the file server beside the user's pods and stopped when idle,
// and isolation — user B's store, B's pod and B's token never reach A's volume.
// Every pod is deleted in after() (and the cluster stopped); every wait has a deadline.
//   node --import tsx --test --test-timeout=900000 server/storage/pvc-store.int.test.ts
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Database } from '@/db';
import { openTestDatabase } from '@/db/testing';
import { cliActor } from '@/server/identity/actor';
import { createUser } from '@/server/identity/users';
import { LABELS, fileServerPodName, homeClaimName, selectorOf } from '@/server/kubernetes/names';
import { loadPodTemplate } from '@/server/kubernetes/pods';
import { kubernetesFor, type Kubernetes } from '@/server/kubernetes/setup';
import { FILESERVER_IMAGE, createNamespace, isRoot, podsMatching, startTestCluster, until, type TestCluster } from '@/server/kubernetes/testing';
import { runHomeStoreContract } from './contract';
import { StorageError } from './errors';
import { BUNDLED_FILESERVER_POD_TEMPLATE, BUNDLED_FILESERVER_SCRIPT, FILESERVER_PORT, tokenOf } from './pvc-fileserver';
import { PvcHomeStores, type PvcHomesConfig } from './pvc-homes';

const NAMESPACE = 'atrium-homes';
const STEP_MS = 60_000;
const MiB = 1024 * 1024;
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-pvc-it-'));
let cluster: TestCluster | undefined;
let podPython: string;
let db: Database;
let closeDb: (() => Promise<void>) | undefined;
let kube: Kubernetes;
const stores: PvcHomeStores[] = [];

function c(): TestCluster {
  assert.ok(cluster, 'the test cluster did not start');
  return cluster;
}

function homesWith(overrides: Partial<PvcHomesConfig> = {}): PvcHomeStores {
  const homes = new PvcHomeStores({
    api: kube.api,
    watchers: kube.watchers,
    identityOf: kube.identityOf,
    namespaceTemplate: NAMESPACE,
    storageClass: c().storageClass,
    size: '1Gi',
    image: FILESERVER_IMAGE,
    python: podPython,
    script: BUNDLED_FILESERVER_SCRIPT,
    mountPath: '/home/atrium',
    template: loadPodTemplate(BUNDLED_FILESERVER_POD_TEMPLATE),
    idleMs: 120_000,
    startDeadlineMs: STEP_MS,
    requestTimeoutMs: STEP_MS,
    ...overrides,
  });
  stores.push(homes);
  return homes;
}

before(
  async () => {
    if (!isRoot) return;
    ({ cluster, podPython } = await startTestCluster(workDir, 7));
    ({ db, close: closeDb } = await openTestDatabase());
    await createNamespace(c(), NAMESPACE);
    kube = kubernetesFor({ kind: 'token', server: c().apiUrl, caPem: c().caPem, token: c().adminToken }, db, { timeoutMs: STEP_MS });
    for (const name of ['contract', 'ana', 'bob', 'carol', 'dora']) await createUser(db, cliActor, { email: `${name}@example.com`, username: name, password: 'analyst-pass' });
  },
  { timeout: 30 * 60_000 },
);

after(async () => {
  for (const homes of stores) await homes.close();
  await kube?.stop();
  await closeDb?.();
  await cluster?.stop();
  fs.rmSync(workDir, { recursive: true, force: true });
});

// The contract runs on one user's volume and file server, emptied after every test (a fresh claim per test
// would add the volume's provisioning and binding, ~10 s here, to each of ~40 tests). Each test still starts
// from an empty home; the claim, the pod and the proxy are the real ones.
let contract: PvcHomeStores | undefined;
if (isRoot) {
  runHomeStoreContract(
    'pvc (through the API server\'s pod proxy)',
    async () => {
      contract ??= homesWith();
      const store = await contract.storeFor('contract');
      return {
        store,
        cleanup: async () => {
          for (const entry of await store.list('')) await store.delete(entry.path, { recursive: true });
        },
      };
    },
    // The full 64 MiB, streamed both ways through the API server.
    { largeFileBytes: 64 * MiB },
  );
}

describe('PVC homes', { skip: !isRoot && 'the test cluster needs root' }, () => {
  it('at sign-in only the claim is made (storage class and size from config); the file server starts on first use', async () => {
    const homes = homesWith();
    await homes.provision({ username: 'ana' });
    const claim = await c().api.request('GET', `/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims/${homeClaimName('ana')}`);
    assert.equal(claim.status, 200, claim.text);
    assert.equal(claim.json.spec.storageClassName, c().storageClass);
    assert.equal(claim.json.spec.resources.requests.storage, '1Gi');
    assert.deepEqual(claim.json.spec.accessModes, ['ReadWriteOnce']);
    assert.equal(claim.json.metadata.labels[LABELS.user], 'ana');
    assert.equal((await podsMatching(c(), NAMESPACE, selectorOf({ [LABELS.component]: 'fileserver', [LABELS.user]: 'ana' }))).length, 0);
    await homes.provision({ username: 'ana' }); // idempotent (AlreadyExists is success)

    const store = await homes.forUser({ username: 'ana' });
    await store.write('hello.txt', 'hi ana', { overwrite: true });
    const [pod] = await podsMatching(c(), NAMESPACE, selectorOf({ [LABELS.component]: 'fileserver', [LABELS.user]: 'ana' }));
    assert.ok(pod);
    const ids = (await kube.identityOf('ana'))!;
    assert.equal(pod.spec.securityContext.runAsUser, ids.uid);
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    assert.deepEqual(pod.spec.volumes.find((v: any) => v.name === 'home').persistentVolumeClaim, { claimName: homeClaimName('ana') });
    // Beside the user's other pods (kernels): required affinity on the user label, per node.
    const term = pod.spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
    assert.deepEqual(term.labelSelector.matchLabels, { [LABELS.managedBy]: 'atrium', [LABELS.user]: 'ana' });
    assert.equal(term.topologyKey, 'kubernetes.io/hostname');
    assert.equal(pod.spec.automountServiceAccountToken, false);
    // The file on the volume belongs to ana's uid (the server runs as her).
    const entry = await store.stat('hello.txt');
    assert.equal(entry.size, 6);
  });

  it('an idle file server is deleted, and the next request starts a new one', async () => {
    const homes = homesWith({ idleMs: 1_500 });
    const store = await homes.storeFor('carol');
    await store.ensureHome();
    await store.write('a.txt', 'x', { overwrite: true });
    const name = fileServerPodName('carol');
    assert.equal(homes.fileServers.runningPod('carol'), name);
    await until('the idle file server to be deleted', async () => (await c().api.request('GET', `/api/v1/namespaces/${NAMESPACE}/pods/${name}`)).status === 404, STEP_MS);
    assert.equal(homes.fileServers.runningPod('carol'), undefined);
    assert.equal(await store.readText('a.txt'), 'x', 'the data stays on the volume; a new server serves it');
    await homes.close();
    await until('the file servers of a closed store to be deleted', async () => (await c().api.request('GET', `/api/v1/namespaces/${NAMESPACE}/pods/${name}`)).status === 404, STEP_MS);
  });

  it('user B cannot reach user A\'s volume: not through B\'s store, not with B\'s token, not with A\'s paths', async () => {
    const homes = homesWith();
    const ana = await homes.forUser({ username: 'ana' });
    await ana.mkdir('private', { parents: true });
    await ana.write('private/secret.txt', 'ana only', { overwrite: true });
    const bob = await homes.forUser({ username: 'bob' });
    assert.deepEqual((await bob.list('')).map((e) => e.name), [], 'bob\'s home is his own, empty volume');
    for (const bad of ['../private/secret.txt', '/../ana/private/secret.txt', '..\\private\\secret.txt']) {
      await assert.rejects(bob.readText(bad), (e: unknown) => e instanceof StorageError && e.code === 'INVALID_PATH');
    }
    await assert.rejects(bob.readText('private/secret.txt'), (e: unknown) => e instanceof StorageError && e.code === 'NOT_FOUND');

    // Bob's pod mounts only bob's claim; ana's pod only ana's.
    const podOf = async (user: string) => (await c().api.request('GET', `/api/v1/namespaces/${NAMESPACE}/pods/${fileServerPodName(user)}`)).json;
    const anaPod = await podOf('ana');
    const bobPod = await podOf('bob');
    assert.equal(bobPod.spec.volumes.find((v: any) => v.name === 'home').persistentVolumeClaim.claimName, homeClaimName('bob'));
    assert.notEqual(anaPod.spec.securityContext.runAsUser, bobPod.spec.securityContext.runAsUser);

    // Bob's file server token does not open ana's file server (the API server passes the header through).
    const proxyTo = (pod: string, token: string | undefined) =>
      kube.api.proxy({ namespace: NAMESPACE, pod, port: FILESERVER_PORT, method: 'GET', path: '/v1/read?path=private%2Fsecret.txt', headers: token ? { 'x-atrium-token': token } : {} });
    const withBobsToken = await proxyTo(fileServerPodName('ana'), tokenOf(bobPod));
    withBobsToken.resume();
    assert.equal(withBobsToken.statusCode, 401);
    const withoutToken = await proxyTo(fileServerPodName('ana'), undefined);
    withoutToken.resume();
    assert.equal(withoutToken.statusCode, 401);
    const withAnasToken = await proxyTo(fileServerPodName('ana'), tokenOf(anaPod));
    const chunks: Buffer[] = [];
    for await (const chunk of withAnasToken) chunks.push(chunk as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'ana only', 'the same request with ana\'s own token works');
  });

  it('a file server that cannot start says why, and is deleted', async () => {
    const homes = homesWith({ image: 'atrium/missing:1.0', startDeadlineMs: STEP_MS });
    const store = await homes.storeFor('dora');
    const started = Date.now();
    await assert.rejects(store.ensureHome(), (e: unknown) => e instanceof StorageError && e.code === 'UNAVAILABLE' && /ErrImagePull/.test(e.message));
    assert.ok(Date.now() - started < 20_000, 'an image pull failure ends the wait at once');
    await until('the failed file server to be deleted', async () => (await c().api.request('GET', `/api/v1/namespaces/${NAMESPACE}/pods/${fileServerPodName('dora')}`)).status === 404, STEP_MS);
  });
});
