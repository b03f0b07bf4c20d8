// Each user's home folder: the HomeStore for a user, created (mode 0700) on first use. The local store is
// the embedded default; WebHDFS and PVC stores plug in behind the same interface.
import path from "node:path";
import type { HomeStore } from "./home-store";
import { localHomeStoreFor, type LocalHomeStore } from "./local-store";

export interface HomeStores {
  forUser(user: { username: string }): Promise<HomeStore>;
  /** A host folder kernels can start in, when the store is on this host; undefined for remote stores. */
  localPathOf(user: { username: string }): string | undefined;
}

export class LocalHomeStores implements HomeStores {
  private readonly ensured = new Map<string, Promise<LocalHomeStore>>();

  constructor(private readonly baseDir: string) {}

  forUser(user: { username: string }): Promise<HomeStore> {
    let store = this.ensured.get(user.username);
    if (!store) {
      const created = localHomeStoreFor(this.baseDir, user.username);
      store = created.ensureHome().then(() => created);
      store.catch(() => this.ensured.delete(user.username));
      this.ensured.set(user.username, store);
    }
    return store;
  }

  localPathOf(user: { username: string }): string {
    return path.join(path.resolve(this.baseDir), user.username);
  }
}
