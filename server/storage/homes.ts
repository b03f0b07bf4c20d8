// Each user's home folder: the HomeStore for a user, created (mode 0700) on first use. The local store is
// the embedded default; WebHDFS (webhdfs-homes.ts) and PVC stores plug in behind the same interface, and
// boot.ts picks one by ATRIUM_HOME_STORE.
import path from "node:path";
import type { HomeStore } from "./home-store";
import { localHomeStoreFor, type LocalHomeStore } from "./local-store";

export interface HomeStores {
  forUser(user: { username: string }): Promise<HomeStore>;
  /**
   * Makes sure the user's home exists, without more (at sign-in and before a kernel starts): a folder, an HDFS
   * home, a PVC. Quick: never starts a file server.
   */
  provision(user: { username: string }): Promise<void>;
  /** A host folder kernels can start in, when the store is on this host; undefined for remote stores. */
  localPathOf(user: { username: string }): string | undefined;
}

/**
 * One ensureHome() per user per process, shared by concurrent callers; a failure is forgotten so the next
 * call tries again.
 */
export class HomesOnce<S extends HomeStore = HomeStore> {
  private readonly ensured = new Map<string, Promise<S>>();

  get(username: string, create: () => Promise<S>): Promise<S> {
    let store = this.ensured.get(username);
    if (!store) {
      store = create();
      store.catch(() => this.ensured.delete(username));
      this.ensured.set(username, store);
    }
    return store;
  }
}

export class LocalHomeStores implements HomeStores {
  private readonly homes = new HomesOnce<LocalHomeStore>();

  constructor(private readonly baseDir: string) {}

  forUser(user: { username: string }): Promise<HomeStore> {
    return this.homes.get(user.username, async () => {
      const created = localHomeStoreFor(this.baseDir, user.username);
      await created.ensureHome();
      return created;
    });
  }

  async provision(user: { username: string }): Promise<void> {
    await this.forUser(user);
  }

  localPathOf(user: { username: string }): string {
    return path.join(path.resolve(this.baseDir), user.username);
  }
}
