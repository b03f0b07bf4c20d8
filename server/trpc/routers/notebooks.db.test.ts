// The notebooks procedures (open / save / create) against a real database and real home folders: paths are
// taken as given (never trimmed), and a save too large to open again is refused with words that say what to
// do, also when it arrives over HTTP, where a body limit could otherwise answer first with a bare error.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { TRPCError } from "@trpc/server";
import superjson from "superjson";
import type { Database } from "@/db";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { cliActor } from "@/server/identity/actor";
import { createUser } from "@/server/identity/users";
import { MAX_NOTEBOOK_BYTES } from "@/server/notebooks/service";
import type { Services } from "@/server/services";
import { appRouter } from "../root";
import { testCaller, testServices } from "@/server/trpc/testing";


describe(`notebooks procedures on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let ana: UserRow;
  let services: Services;
  const homesDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-notebooks-router-"));
  const caller = (user: UserRow) => testCaller(services, user);
  const onDisk = (name: string) => JSON.parse(fs.readFileSync(path.join(homesDir, ana.username, name), "utf8")) as { cells: { source: string[]; outputs?: unknown[] }[] };

  before(async () => {
    ({ db, close } = await openTestDatabase());
    services = testServices(db, homesDir);
    ana = await createUser(db, cliActor, { email: "ana@example.com", password: "analystpass" });
  });
  after(async () => {
    await close();
    fs.rmSync(homesDir, { recursive: true, force: true });
  });

  // Regression: the path was trimmed, so opening " report.ipynb" opened (and saving wrote) "report.ipynb".
  it("takes a path with leading or trailing spaces as the file it names, never another one", async () => {
    const c = caller(ana);
    const sourceOf = async (name: string, source: string) => {
      const created = await c.notebooks.create({ path: name });
      const notebook = { ...created.notebook, cells: [{ ...created.notebook.cells[0]!, source }] };
      await c.notebooks.save({ path: name, notebook, expectedMtime: created.mtime });
    };
    await sourceOf("report.ipynb", "plain");
    await sourceOf(" report.ipynb", "leading space");
    const opened = await c.notebooks.open({ path: " report.ipynb" });
    const edited = { ...opened.notebook, cells: [{ ...opened.notebook.cells[0]!, source: "leading space, again" }] };
    await c.notebooks.save({ path: " report.ipynb", notebook: edited, expectedMtime: opened.mtime });
    assert.deepEqual(fs.readdirSync(path.join(homesDir, ana.username)).sort(), [" report.ipynb", "report.ipynb"]);
    assert.deepEqual(onDisk("report.ipynb").cells[0]!.source, ["plain"]);
    assert.deepEqual(onDisk(" report.ipynb").cells[0]!.source, ["leading space, again"]);
    assert.deepEqual((await c.notebooks.open({ path: " report.ipynb" })).notebook.cells[0]!.source, "leading space, again");
    assert.deepEqual((await c.notebooks.open({ path: "report.ipynb" })).notebook.cells[0]!.source, "plain");
    // A trailing space makes a name that is not a notebook: said so, instead of opening "report.ipynb".
    await assert.rejects(c.notebooks.open({ path: "report.ipynb " }), /"report\.ipynb " is not a notebook/);
  });

  it("saves a copy beside the notebook as Jupyter names duplicates, never over an existing file, the original untouched", async () => {
    const c = caller(ana);
    fs.mkdirSync(path.join(homesDir, ana.username, "q3"), { recursive: true });
    const created = await c.notebooks.create({ path: "q3/model.ipynb" });
    const mine = (source: string) => ({ ...created.notebook, cells: [{ ...created.notebook.cells[0]!, source }] });
    fs.writeFileSync(path.join(homesDir, ana.username, "q3", "model-Copy1.ipynb"), "someone else's file"); // taken
    const copy = await c.notebooks.saveCopy({ path: "q3/model.ipynb", notebook: mine("my version") });
    assert.equal(copy.path, "q3/model-Copy2.ipynb");
    assert.deepEqual(onDisk("q3/model-Copy2.ipynb").cells[0]!.source, ["my version"]);
    assert.equal(fs.readFileSync(path.join(homesDir, ana.username, "q3", "model-Copy1.ipynb"), "utf8"), "someone else's file");
    assert.deepEqual(onDisk("q3/model.ipynb").cells[0]!.source, []);
    // Created with the portal's default kernelspec recorded: opening it has nothing to fill in (and so to write).
    assert.deepEqual((onDisk("q3/model.ipynb") as { metadata?: { kernelspec?: unknown } }).metadata?.kernelspec, { name: "python3", display_name: "Python 3 (local)", language: "python" });
    assert.equal((await c.notebooks.saveCopy({ path: "q3/model.ipynb", notebook: mine("again") })).path, "q3/model-Copy3.ipynb");
    // What a save refuses, a copy refuses too.
    await assert.rejects(c.notebooks.saveCopy({ path: "q3/model.ipynb", notebook: { cells: "no" } }), /^TRPCError: Not saved: /);
    await assert.rejects(c.notebooks.saveCopy({ path: "q3/notes.txt", notebook: mine("x") }), /"q3\/notes\.txt" is not a notebook/);
  });

  it("refuses absolute paths as the files procedures do", async () => {
    await assert.rejects(caller(ana).notebooks.open({ path: "/etc/x.ipynb" }), (error: unknown) => {
      assert.ok(error instanceof TRPCError);
      assert.equal(error.code, "BAD_REQUEST");
      assert.match(error.message, /starts with "\/", which would name a place on the server/);
      return true;
    });
  });

  // Regression: a save over the open limit succeeded, and the notebook could not be opened again. Sent over
  // HTTP as the page sends it, so no body-size limit in front of the procedure answers first.
  it("refuses, over HTTP, a save the notebook could not be opened after, saying to clear outputs", async () => {
    const created = await caller(ana).notebooks.create({ path: "Big.ipynb" });
    const handler = createHTTPHandler({ router: appRouter, basePath: "/api/trpc/", createContext: () => ({ services, user: ana, address: "127.0.0.1" }) });
    const server = http.createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as { port: number };
      const notebook = { ...created.notebook, cells: [{ ...created.notebook.cells[0]!, outputs: [{ output_type: "stream", name: "stdout", text: "x".repeat(MAX_NOTEBOOK_BYTES) }] }] };
      const response = await fetch(`http://127.0.0.1:${port}/api/trpc/notebooks.save`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(superjson.serialize({ path: "Big.ipynb", notebook, expectedMtime: created.mtime })),
      });
      const reply = (await response.json()) as { error?: { json: { message: string; data: { code: string; appCode: string | null } } } };
      assert.equal(response.status, 400, JSON.stringify(reply).slice(0, 300));
      assert.equal(reply.error?.json.data.code, "BAD_REQUEST");
      assert.match(reply.error!.json.message, /^Not saved: "Big\.ipynb" would be 64\.1 MiB, over the 64 MiB limit .* Clear some outputs/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.deepEqual(onDisk("Big.ipynb").cells[0]!.outputs, [], "the file is untouched");
  });
});
