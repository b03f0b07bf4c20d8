// The process-wide services (database, secrets, and later the kernel manager). The custom server creates them
// once at boot; code inside Next's bundle (pages, the next-auth route) reaches the same instances through a
// global symbol, because Next loads its own copy of our modules and module-level singletons would be doubled.
import type { Database } from "@/db";
import type { Env } from "./env";
import type { KernelManager } from "./kernels/manager";
import type { HomeStores } from "./storage/homes";

export interface Services {
  env: Env;
  db: Database;
  dbKind: "pglite" | "postgres";
  /** Signs sessions and encrypts secrets at rest. */
  secret: string;
  /** next-auth's session cookie name; also the salt of its JWT encryption. */
  sessionCookieName: string;
  secureCookies: boolean;
  kernels: KernelManager;
  homes: HomeStores;
}

const KEY = Symbol.for("atrium.services");
type Holder = { [KEY]?: Services };

export function setServices(services: Services | undefined) {
  (globalThis as Holder)[KEY] = services;
}

export function services(): Services {
  const found = (globalThis as Holder)[KEY];
  if (!found) throw new Error("Atrium's services are not started: run the portal through `npm start` (server/main.ts).");
  return found;
}

export function hasServices(): boolean {
  return (globalThis as Holder)[KEY] !== undefined;
}
