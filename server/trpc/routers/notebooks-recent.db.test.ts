// The recent notebooks of the Notebooks page, through the procedures as the pages call them, on a real database and
// real home folders. Regression: the list lived in each browser's localStorage, so two sessions of one user showed
// different lists, and renamed notebooks left stale entries. Now `open` records on the server, per account.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import { importRecentNotebooks, RECENT_NOTEBOOKS_KEPT, recordNotebookOpened } from "@/db/queries/notebooks";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { cliActor } from "@/server/identity/actor";
import { createUser } from "@/server/identity/users";
import type { Services } from "@/server/services";
import { testCaller, testServices } from "@/server/trpc/testing";
import { importable } from "./notebooks";

describe(`recent notebooks on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let services: Services;
  const homesDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-recent-"));
  const caller = (user: UserRow) => testCaller(services, user);
  const paths = async (user: UserRow) => (await caller(user).notebooks.recent()).map((r) => r.path);
  let n = 0;
  const newUser = async () => createUser(db, cliActor, { email: `analyst${n++}@example.com`, password: "analystpass" });
  /** A notebook on disk, opened through the procedure the notebook page calls. */
  const openNew = async (user: UserRow, file: string) => {
    const c = caller(user);
    fs.mkdirSync(path.join(homesDir, user.username, path.dirname(file)), { recursive: true });
    await c.notebooks.create({ path: file });
    await c.notebooks.open({ path: file });
  };

  before(async () => {
    ({ db, close } = await openTestDatabase());
    services = testServices(db, homesDir);
  });
  after(async () => {
    await close();
    fs.rmSync(homesDir, { recursive: true, force: true });
  });

  it("records each notebook when it opens, newest first with its last-opened time, one entry per notebook", async () => {
    const ana = await newUser();
    assert.deepEqual(await caller(ana).notebooks.recent(), []);
    const before = new Date(Date.now() - 1000);
    await openNew(ana, "a.ipynb");
    await openNew(ana, "q3/b.ipynb");
    await openNew(ana, " c.ipynb");
    assert.deepEqual(await paths(ana), [" c.ipynb", "q3/b.ipynb", "a.ipynb"]);
    await caller(ana).notebooks.open({ path: "a.ipynb" }); // opened again: back to the top, still once
    const listed = await caller(ana).notebooks.recent();
    assert.deepEqual(listed.map((r) => r.path), ["a.ipynb", " c.ipynb", "q3/b.ipynb"]);
    for (const r of listed) {
      assert.ok(r.openedAt instanceof Date && r.openedAt > before, `${r.path} opened at ${String(r.openedAt)}`);
      assert.equal(r.missing, false);
    }
    assert.ok(listed[0]!.openedAt > listed[1]!.openedAt);
  });

  it("records nothing for a notebook that did not open", async () => {
    const ana = await newUser();
    await assert.rejects(caller(ana).notebooks.open({ path: "nowhere.ipynb" }));
    fs.mkdirSync(path.join(homesDir, ana.username), { recursive: true });
    fs.writeFileSync(path.join(homesDir, ana.username, "broken.ipynb"), "not json");
    await assert.rejects(caller(ana).notebooks.open({ path: "broken.ipynb" }));
    assert.deepEqual(await paths(ana), []);
  });

  it(`keeps the ${RECENT_NOTEBOOKS_KEPT} most recently opened per user`, async () => {
    const ana = await newUser();
    const bob = await newUser();
    await recordNotebookOpened(db, { ownerId: bob.id, path: "bobs.ipynb" });
    const opened = Array.from({ length: RECENT_NOTEBOOKS_KEPT + 5 }, (_, i) => `n${String(i).padStart(2, "0")}.ipynb`);
    for (const file of opened) await recordNotebookOpened(db, { ownerId: ana.id, path: file });
    assert.deepEqual(await paths(ana), opened.slice(5).reverse());
    assert.deepEqual(await paths(bob), ["bobs.ipynb"], "another user's list is not trimmed by ana's");
  });

  it("lists the latest open first even when the clock gives it no later time (a coarse clock, a clock set back)", async () => {
    const ana = await newUser();
    // An entry stamped ahead of the database's clock, as two opens within one tick of a millisecond clock (PGlite's)
    // are stamped alike (CI saw those listed in the wrong order).
    await importRecentNotebooks(db, { ownerId: ana.id, entries: [{ path: "first.ipynb", openedAt: new Date(Date.now() + 5_000) }] });
    await recordNotebookOpened(db, { ownerId: ana.id, path: "second.ipynb" });
    await recordNotebookOpened(db, { ownerId: ana.id, path: "third.ipynb" });
    assert.deepEqual(await paths(ana), ["third.ipynb", "second.ipynb", "first.ipynb"]);
    await recordNotebookOpened(db, { ownerId: ana.id, path: "first.ipynb" });
    assert.deepEqual(await paths(ana), ["first.ipynb", "third.ipynb", "second.ipynb"]);
  });

  it("shows each user only their own entries, and a removal touches only the caller's", async () => {
    const ana = await newUser();
    const bob = await newUser();
    await openNew(ana, "shared-name.ipynb");
    await openNew(ana, "anas.ipynb");
    await openNew(bob, "shared-name.ipynb");
    assert.deepEqual(await paths(ana), ["anas.ipynb", "shared-name.ipynb"]);
    assert.deepEqual(await paths(bob), ["shared-name.ipynb"]);
    await caller(bob).notebooks.forgetRecent({ path: "shared-name.ipynb" });
    assert.deepEqual(await paths(bob), []);
    assert.deepEqual(await paths(ana), ["anas.ipynb", "shared-name.ipynb"]);
    assert.ok(fs.existsSync(path.join(homesDir, bob.username, "shared-name.ipynb")), "the file stays");
  });

  it("moves the entry with a renamed notebook, keeping its time and place", async () => {
    const ana = await newUser();
    await openNew(ana, "draft.ipynb");
    await openNew(ana, "other.ipynb");
    const [, draft] = await caller(ana).notebooks.recent();
    await caller(ana).files.rename({ from: "draft.ipynb", to: "final.ipynb" });
    const listed = await caller(ana).notebooks.recent();
    assert.deepEqual(listed.map((r) => r.path), ["other.ipynb", "final.ipynb"]);
    assert.equal(listed[1]!.openedAt.getTime(), draft!.openedAt.getTime());
  });

  it("moves the entries under a renamed folder, and not those that only share its name's start", async () => {
    const ana = await newUser();
    await openNew(ana, "proj/a.ipynb");
    await openNew(ana, "proj/deep/b.ipynb");
    await openNew(ana, "project/c.ipynb");
    await openNew(ana, "proj.ipynb");
    await caller(ana).files.rename({ from: "proj", to: "archive" });
    assert.deepEqual(await paths(ana), ["proj.ipynb", "project/c.ipynb", "archive/deep/b.ipynb", "archive/a.ipynb"]);
    assert.ok((await caller(ana).notebooks.recent()).every((r) => !r.missing));
  });

  it("drops a stale entry at a rename's destination: it named a file that is gone", async () => {
    const ana = await newUser();
    await openNew(ana, "old.ipynb");
    await recordNotebookOpened(db, { ownerId: ana.id, path: "new.ipynb" }); // recorded, then removed behind Atrium's back
    await caller(ana).files.rename({ from: "old.ipynb", to: "new.ipynb" });
    assert.deepEqual(await paths(ana), ["new.ipynb"]);
  });

  it("removes the entry of a deleted notebook, and those under a deleted folder", async () => {
    const ana = await newUser();
    await openNew(ana, "gone.ipynb");
    await openNew(ana, "team/x.ipynb");
    await openNew(ana, "team/sub/y.ipynb");
    await openNew(ana, "teamwork.ipynb");
    await caller(ana).files.delete({ path: "gone.ipynb" });
    assert.deepEqual(await paths(ana), ["teamwork.ipynb", "team/sub/y.ipynb", "team/x.ipynb"]);
    await caller(ana).files.delete({ path: "team", recursive: true });
    assert.deepEqual(await paths(ana), ["teamwork.ipynb"]);
  });

  it("marks a notebook whose file went away behind Atrium's back as missing, and lists it until removed", async () => {
    const ana = await newUser();
    await openNew(ana, "kept.ipynb");
    await openNew(ana, "vanished.ipynb");
    fs.rmSync(path.join(homesDir, ana.username, "vanished.ipynb"));
    const listed = await caller(ana).notebooks.recent();
    assert.deepEqual(listed.map((r) => [r.path, r.missing]), [["vanished.ipynb", true], ["kept.ipynb", false]]);
    await caller(ana).notebooks.forgetRecent({ path: "vanished.ipynb" });
    assert.deepEqual(await paths(ana), ["kept.ipynb"]);
  });

  it("imports a browser's old list once, keeping the later time of a notebook both have, skipping what is not a notebook in the home", async () => {
    const ana = await newUser();
    const bob = await newUser();
    await openNew(ana, "both.ipynb");
    const openedNow = (await caller(ana).notebooks.recent())[0]!.openedAt;
    await caller(ana).notebooks.importRecent({
      entries: [
        { path: "both.ipynb", openedAt: "2026-01-01T10:00:00.000Z" }, // older than the open just recorded
        { path: "old/one.ipynb", openedAt: "2026-01-02T10:00:00.000Z" },
        { path: "old/one.ipynb", openedAt: "2026-01-03T10:00:00.000Z" }, // twice: the later wins
        { path: "two.ipynb", openedAt: "2026-01-01T09:00:00.000Z" },
        { path: "../bob/x.ipynb", openedAt: "2026-01-01T09:00:00.000Z" },
        { path: "/etc/passwd.ipynb", openedAt: "2026-01-01T09:00:00.000Z" },
        { path: "notes.txt", openedAt: "2026-01-01T09:00:00.000Z" },
        { path: "bad-date.ipynb", openedAt: "yesterday-ish" },
      ],
    });
    const listed = await caller(ana).notebooks.recent();
    assert.deepEqual(listed.map((r) => r.path), ["both.ipynb", "old/one.ipynb", "two.ipynb"]);
    assert.equal(listed[0]!.openedAt.getTime(), openedNow.getTime());
    assert.equal(listed[1]!.openedAt.toISOString(), "2026-01-03T10:00:00.000Z");
    assert.deepEqual(listed.slice(1).map((r) => r.missing), [true, true], "imported entries whose files are gone show as missing");
    assert.deepEqual(await paths(bob), [], "imported into the caller's account only");
  });

  it("takes a future time from an imported entry as now", () => {
    const now = new Date("2026-06-01T00:00:00.000Z");
    assert.deepEqual(importable([{ path: "a.ipynb", openedAt: "2099-01-01T00:00:00.000Z" }], now), [{ path: "a.ipynb", openedAt: now }]);
  });
});
