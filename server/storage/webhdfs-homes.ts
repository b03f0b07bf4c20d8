// Each analyst's home folder on HDFS: `<homeRoot>/<username>`, created at first use (first sign-in or the
// first forUser) by the service user, then owned by the analyst with mode 0700. Every later call is made
// as the analyst. boot.ts builds this from the ATRIUM_WEBHDFS_* settings when ATRIUM_HOME_STORE=webhdfs.

import type { HomeStore } from './home-store';
import { HomesOnce, type HomeStores } from './homes';
import { StorageError, quotePath } from './errors';
import { WebHdfsClient, type WebHdfsAuthMode } from './webhdfs-client';
import { WebHdfsHomeStore } from './webhdfs-store';

export interface WebHdfsHomesConfig {
  /** The NameNode's WebHDFS address, e.g. http://namenode:9870 (…/webhdfs/v1 is added when missing). */
  url: string;
  /** The service user (a Hadoop proxy user and HDFS superuser) acting for analysts; unset: as the analyst. */
  serviceUser?: string;
  auth?: WebHdfsAuthMode;
  /** Folder holding the homes. Default /user. */
  homeRoot?: string;
  timeoutMs?: number;
}

/** The same rule as local homes, which also keeps HDFS names and `doas` values plain. */
const USERNAME = /^[a-z0-9_-][a-z0-9._-]{0,63}$/;

/** An absolute HDFS folder without '.', '..', empty segments, ':' or a trailing slash; '/' alone is refused. */
export function normalizeHomeRoot(root: string): string {
  const segments = root.split('/').filter((segment) => segment !== '');
  const valid =
    root.startsWith('/') &&
    segments.length > 0 &&
    segments.every((segment) => segment !== '.' && segment !== '..' && !segment.includes(':') && !/[\p{Cc}]/u.test(segment));
  if (!valid) {
    throw new Error(`The HDFS home root ${JSON.stringify(root)} must be an absolute folder such as /user.`);
  }
  return `/${segments.join('/')}`;
}

export class WebHdfsHomeStores implements HomeStores {
  readonly client: WebHdfsClient;
  readonly homeRoot: string;
  private readonly homes = new HomesOnce();

  constructor(config: WebHdfsHomesConfig) {
    this.client = new WebHdfsClient({
      url: config.url,
      serviceUser: config.serviceUser,
      auth: config.auth,
      timeoutMs: config.timeoutMs,
    });
    this.homeRoot = normalizeHomeRoot(config.homeRoot ?? '/user');
  }

  /** The store for a user, without creating the home (tests and tools; the portal uses forUser). */
  storeFor(username: string): WebHdfsHomeStore {
    if (typeof username !== 'string' || !USERNAME.test(username)) {
      throw new StorageError(
        'INVALID_PATH',
        `The user name ${quotePath(String(username))} cannot be used as an HDFS home folder name: it must be 1 to 64 ` +
          'lowercase letters, digits, ".", "_" or "-", and not start with a dot. Ask an administrator to fix the account name.',
      );
    }
    return new WebHdfsHomeStore({ client: this.client, username, homeDir: this.homePathOf({ username }) });
  }

  forUser(user: { username: string }): Promise<HomeStore> {
    return this.homes.get(user.username, async () => {
      const store = this.storeFor(user.username);
      await store.ensureHome();
      return store;
    });
  }

  async provision(user: { username: string }): Promise<void> {
    await this.forUser(user);
  }

  /** HDFS homes are not on this host. */
  localPathOf(): undefined {
    return undefined;
  }

  /** The absolute HDFS path of a user's home (e.g. for a YARN kernel's working folder). */
  homePathOf(user: { username: string }): string {
    return `${this.homeRoot === '/' ? '' : this.homeRoot}/${user.username}`;
  }

  /** Closes idle connections to the cluster. */
  close(): void {
    this.client.close();
  }
}
