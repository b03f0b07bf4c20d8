import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnvError, loadEnv } from "./env";

describe("loadEnv", () => {
  it("uses the embedded defaults when nothing is set", () => {
    const env = loadEnv({});
    assert.equal(env.PORT, 3000);
    assert.equal(env.DATABASE_URL, undefined);
    assert.match(env.dataDir, /\.atrium$/);
  });

  it("names DATABASE_URL when it is malformed, without echoing its value", () => {
    for (const bad of ["mysql://u:hunter2@h/db", "not a url hunter2", "postgres://u:hunter2@ bad host/db"]) {
      assert.throws(
        () => loadEnv({ DATABASE_URL: bad }),
        (error: unknown) => error instanceof EnvError && /DATABASE_URL: must be a postgres/.test(error.message) && !error.message.includes("hunter2"),
        bad,
      );
    }
  });

  it("treats an empty DATABASE_URL as unset", () => {
    assert.equal(loadEnv({ DATABASE_URL: "  " }).DATABASE_URL, undefined);
  });

  it("reports every bad variable at once", () => {
    assert.throws(
      () => loadEnv({ PORT: "ninety", ATRIUM_SECRET: "short", ATRIUM_ADMIN_EMAIL: "nobody" }),
      (error: unknown) =>
        error instanceof EnvError && ["PORT", "ATRIUM_SECRET", "ATRIUM_ADMIN_EMAIL"].every((name) => error.problems.some((p) => p.startsWith(name))),
    );
  });
});
