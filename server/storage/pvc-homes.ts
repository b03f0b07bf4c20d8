// Each analyst's home folder on Kubernetes: a PersistentVolumeClaim per user (`atrium-home-<user>`, in the
// namespace of the user's team, where the user's kernel pods mount it), created at first sign-in or first use,
// browsed through the user's on-demand file-server pod (pvc-fileserver.ts, pvc-store.ts). boot.ts builds this
// when ATRIUM_HOME_STORE=pvc. A user reaches only their own claim: its name comes from the session's user name,
// never from a request, and the file server mounts that one claim and runs as that user.
// Touch this file when the claim (size, class, labels) or where it lives changes.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { KubeApi } from '../kubernetes/api';
import { isConflict, KubeError } from '../kubernetes/api';
import { ANNOTATIONS, LABELS, MANAGED_BY, homeClaimName, labelValue, namespaceFor } from '../kubernetes/names';
import type { PodIdentity } from '../kubernetes/pods';
import { StorageError, quotePath } from './errors';
import type { HomeStore } from './home-store';
import { HomesOnce, type HomeStores } from './homes';
import { FileServerPods, type FileServerEndpoint, type FileServerPodsOptions, type FileServerTarget } from './pvc-fileserver';
import { PvcHomeStore } from './pvc-store';

/** The same rule as local and HDFS homes. */
const USERNAME = /^[a-z0-9_-][a-z0-9._-]{0,63}$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;
const STORAGE_CLASS = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export interface PvcIdentity extends PodIdentity {
  team: string | null;
}

export interface PvcHomesConfig extends Omit<FileServerPodsOptions, 'api'> {
  api: KubeApi;
  /** `atrium-{team}` or a fixed namespace: the kernels' namespace, so their pods can mount the claim. */
  namespaceTemplate: string;
  /** The storage class of new claims; undefined: the cluster's default. */
  storageClass?: string;
  /** The size of new claims, e.g. 10Gi. */
  size: string;
  /** The user's POSIX ids and team, from the database. */
  identityOf(username: string): Promise<PvcIdentity | undefined>;
  /** Tests reach file servers another way; production goes through the pod proxy. */
  endpointFor?: (target: FileServerTarget) => FileServerEndpoint;
}

/** The claim a user's home lives on. */
export function buildHomeClaim(params: { username: string; namespace: string; team: string | null; size: string; storageClass?: string }): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: homeClaimName(params.username),
      namespace: params.namespace,
      labels: {
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.component]: 'home',
        [LABELS.user]: labelValue(params.username),
        ...(params.team ? { [LABELS.team]: labelValue(params.team) } : {}),
      },
      annotations: { [ANNOTATIONS.username]: params.username },
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: params.size } },
      ...(params.storageClass ? { storageClassName: params.storageClass } : {}),
    },
  };
}

export class PvcHomeStores implements HomeStores {
  readonly fileServers: FileServerPods;
  private readonly homes = new HomesOnce();
  private readonly claims = new Map<string, Promise<string>>();

  constructor(private readonly config: PvcHomesConfig) {
    if (!QUANTITY.test(config.size)) throw new Error(`the home size ${JSON.stringify(config.size)} is not a Kubernetes quantity such as 10Gi`);
    if (config.storageClass !== undefined && !STORAGE_CLASS.test(config.storageClass)) {
      throw new Error(`${JSON.stringify(config.storageClass)} is not a storage class name`);
    }
    namespaceFor(config.namespaceTemplate, null); // a bad template fails at boot
    this.fileServers = new FileServerPods(config);
  }

  private async identity(username: string): Promise<PvcIdentity> {
    if (typeof username !== 'string' || !USERNAME.test(username)) {
      throw new StorageError(
        'INVALID_PATH',
        `The user name ${quotePath(String(username))} cannot name a home volume: it must be 1 to 64 lowercase letters, digits, ".", "_" or "-". ` +
          'Ask an administrator to fix the account name.',
      );
    }
    const identity = await this.config.identityOf(username);
    if (!identity) throw new StorageError('UNAVAILABLE', `There is no account ${quotePath(username)} to make a home volume for.`);
    return identity;
  }

  /**
   * Makes sure the user's claim exists in `namespace` (default: the user's team namespace) and returns its
   * name. Idempotent and safe across replicas (AlreadyExists is success). The kernel launcher calls this too.
   */
  async ensureClaim(username: string, namespace?: string): Promise<string> {
    const identity = await this.identity(username);
    const ns = namespace ?? namespaceFor(this.config.namespaceTemplate, identity.team);
    const key = `${ns}/${username}`;
    let pending = this.claims.get(key);
    if (!pending) {
      pending = this.createClaim(username, ns, identity.team);
      pending.catch(() => this.claims.delete(key));
      this.claims.set(key, pending);
    }
    return pending;
  }

  private async createClaim(username: string, namespace: string, team: string | null): Promise<string> {
    const name = homeClaimName(username);
    try {
      if (await this.config.api.readClaim(namespace, name)) return name;
      await this.config.api.createClaim(namespace, buildHomeClaim({ username, namespace, team, size: this.config.size, storageClass: this.config.storageClass }));
    } catch (error) {
      if (isConflict(error)) return name;
      const why = error instanceof KubeError ? error.message : String(error);
      throw new StorageError('UNAVAILABLE', `Your home volume could not be created (${why}). Tell an administrator.`, { cause: error });
    }
    return name;
  }

  /** The store for a user (the claim made, the file server started on first use). */
  async storeFor(username: string): Promise<PvcHomeStore> {
    const identity = await this.identity(username);
    const namespace = namespaceFor(this.config.namespaceTemplate, identity.team);
    const claimName = await this.ensureClaim(username, namespace);
    const target: FileServerTarget = { username, namespace, team: identity.team, ids: identity, claimName };
    const endpoint = this.config.endpointFor ? this.config.endpointFor(target) : this.fileServers.endpointFor(target);
    return new PvcHomeStore({ username, endpoint });
  }

  forUser(user: { username: string }): Promise<HomeStore> {
    return this.homes.get(user.username, async () => {
      const store = await this.storeFor(user.username);
      await store.ensureHome();
      return store;
    });
  }

  /**
   * At sign-in only the claim is made (quick, no pod): the file server starts when the user first opens a
   * folder, so signing in never waits for a pod.
   */
  async provision(user: { username: string }): Promise<void> {
    await this.ensureClaim(user.username);
  }

  /** PVC homes are not on this host. */
  localPathOf(): undefined {
    return undefined;
  }

  /** Deletes the file servers this process started. */
  close(): Promise<void> {
    return this.fileServers.stop();
  }
}
