// Regression: a procedure's input refused by zod reached the browser as the issues' JSON
// (`[ { "origin": "string", "code": "too_big", "maximum": 63, ... } ]`). The error formatter turns every such
// refusal into sentences naming the field, and keeps the issues, in words, in `data.issues`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { z } from "zod";
import type { UserRow } from "@/db/queries/users";
import type { Services } from "@/server/services";
import { publicProcedure, readableIssues, router, zodIssuesOf } from "./init";
import { appRouter } from "./root";

/** The message for what `schema` says about `input`, from zod's own issues. */
function messageFor(schema: z.ZodType, input: unknown): string {
  const parsed = schema.safeParse(input);
  assert.equal(parsed.success, false, "the input should be refused");
  return readableIssues(zodIssuesOf(parsed.error)!);
}

describe("input refusals in words", () => {
  const cases: [string, z.ZodType, unknown, string][] = [
    ["a name too long", z.object({ name: z.string().trim().min(1).max(63) }), { name: "x".repeat(70) }, "Name: at most 63 characters."],
    ["a name of only spaces", z.object({ name: z.string().trim().min(1).max(63) }), { name: "   " }, "Name: required."],
    ["a field left out", z.object({ email: z.string() }), {}, "Email: required."],
    ["a short password", z.object({ password: z.string().min(8) }), { password: "abc" }, "Password: at least 8 characters."],
    ["a camelCase field", z.object({ userId: z.string().uuid() }), { userId: "nope" }, "User id: not a valid id."],
    ["a nested field", z.object({ limits: z.object({ maxVcores: z.number().min(0) }) }), { limits: { maxVcores: -1 } }, "Max vcores: at least 0."],
    ["a whole number", z.object({ uid: z.number().int() }), { uid: 1.5 }, "Uid: must be a whole number."],
    ["an enum", z.object({ role: z.enum(["analyst", "admin"]) }), { role: "root" }, "Role: must be one of analyst, admin."],
    ["a refinement keeps its words", z.object({ from: z.number(), to: z.number() }).refine((f) => f.from < f.to, { message: "from must be before to" }), { from: 2, to: 1 }, "From must be before to."],
    ["two issues", z.object({ email: z.string().min(3), name: z.string().max(120) }), { email: "a", name: "n".repeat(150) }, "Email: at least 3 characters. Name: at most 120 characters."],
  ];
  for (const [name, schema, input, expected] of cases) {
    it(name, () => assert.equal(messageFor(schema, input), expected));
  }

  it("leaves other errors alone", () => {
    assert.equal(zodIssuesOf(new Error("boom")), null);
    assert.equal(zodIssuesOf(undefined), null);
  });
});

describe("the error formatter, over HTTP", () => {
  // Input is parsed after the admin check and before any handler runs: no database is needed.
  const admin = { id: "00000000-0000-4000-8000-000000000001", email: "admin@example.com", role: "admin" } as UserRow;
  const call = async (path: string, input: unknown) => {
    const response = await fetchRequestHandler({
      endpoint: "/api/trpc",
      router: appRouter,
      req: new Request(`http://localhost/api/trpc/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ json: input }) }),
      createContext: () => ({ services: {} as Services, user: admin, address: "127.0.0.1", credential: null }),
    });
    const body = (await response.json()) as { error: { json: { message: string; data: { code: string; issues: { path: string[]; message: string }[] | null } } } };
    return { status: response.status, error: body.error.json };
  };

  const cases: [string, string, unknown, string][] = [
    ["Add team, a 70-character name", "admin.teams.add", { name: "t".repeat(70) }, "Name: at most 63 characters."],
    ["Add team, a name of spaces", "admin.teams.add", { name: "    " }, "Name: required."],
    ["Add user, a 150-character name", "admin.users.add", { email: "carl@qa.test", name: "n".repeat(150), password: "password12" }, "Name: at most 120 characters."],
  ];
  for (const [name, path, input, expected] of cases) {
    it(name, async () => {
      const { status, error } = await call(path, input);
      assert.equal(status, 400);
      assert.equal(error.message, expected);
      assert.doesNotMatch(error.message, /"code"|too_big|too_small/);
      assert.equal(error.data.code, "BAD_REQUEST");
      assert.deepEqual(error.data.issues, [{ path: ["name"], message: expected }]);
    });
  }
});

describe("the error formatter keeps the server's own validation failures to itself", () => {
  it("a zod error inside a handler is an internal error: a generic message, no field paths", async () => {
    const internal = router({ broken: publicProcedure.query(() => z.object({ secretColumn: z.string() }).parse({})) });
    const response = await fetchRequestHandler({
      endpoint: "/api/trpc",
      router: internal,
      req: new Request("http://localhost/api/trpc/broken"),
      createContext: () => ({ services: {} as Services, user: null, address: "127.0.0.1", credential: null }),
    });
    const body = (await response.json()) as { error: { json: { message: string; data: { issues: unknown } } } };
    assert.equal(response.status, 500);
    assert.equal(body.error.json.message, "Something went wrong on the server.");
    assert.equal(body.error.json.data.issues, null);
    assert.doesNotMatch(JSON.stringify(body), /secretColumn/);
  });
});
