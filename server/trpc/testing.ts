// For tests of tRPC procedures on a test database: the services a portal would have, without launchers (no kernel
// is started through them; the one kernelspec, python3, is what new notebooks record), homes in a folder of the
// test's choosing.
import assert from "node:assert/strict";
import os from "node:os";
import { TRPCError } from "@trpc/server";
import type { Database } from "@/db";
import type { UserRow } from "@/db/queries/users";
import type { Credential } from "@/server/auth/session";
import { testDbKind } from "@/db/testing";
import { loadEnv } from "@/server/env";
import { LauncherRegistry } from "@/server/kernels/launchers/base";
import type { Kernelspec } from "@/server/kernels/kernelspecs";
import { KernelManager } from "@/server/kernels/manager";
import type { Services } from "@/server/services";
import { LocalHomeStores } from "@/server/storage/homes";
import { createCallerFactory } from "./init";
import { appRouter } from "./root";

const createCaller = createCallerFactory(appRouter);
const SECRET = "x".repeat(32);
const PYTHON3: Kernelspec = {
  name: "python3",
  resourceDir: os.tmpdir(),
  spec: { argv: ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], display_name: "Python 3 (local)", language: "python", interrupt_mode: "signal", env: {}, metadata: { atrium: { launcher: "local", config: {} } } },
};

export function testServices(db: Database, homesDir: string = os.tmpdir()): Services {
  return {
    env: loadEnv({}),
    db,
    dbKind: testDbKind,
    secret: SECRET,
    sessionCookieName: "atrium.session",
    secureCookies: false,
    kernels: new KernelManager({ db, secret: SECRET, launchers: new LauncherRegistry(), kernelspecs: new Map([["python3", PYTHON3]]) }),
    homes: new LocalHomeStores(homesDir),
  };
}

/** The procedures as `user` (null: signed out) calls them, from loopback (in the session `credential` names). */
/** `pageUser`: the user the calling page says it was opened for (PAGE_USER_HEADER), if any. */
export function testCaller(services: Services, user: UserRow | null, credential: Credential | null = null, pageUser: string | null = null) {
  return createCaller({ services, user, address: "127.0.0.1", credential, pageUser });
}

/** For assert.rejects: a procedure refused with this tRPC code, in words matching `message`. */
export const refusedWith = (code: string, message: RegExp) => (error: unknown) => {
  assert.ok(error instanceof TRPCError, `expected a TRPCError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.match(error.message, message);
  return true;
};
