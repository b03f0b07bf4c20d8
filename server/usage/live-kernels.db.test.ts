// Regression (QA: kernels listed as "python3 / 413dfad2" only, while errors name them by notebook): the analyst's
// Running kernels and the admin's Live kernels rows carry the notebook each kernel is bound to — the one its
// owner opened with it last — and null when none is; a dead kernel is not listed, and a binding by another user
// never names someone's kernel.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import { markKernelDead, notebooksOfKernels } from "@/db/queries/kernels";
import { bindNotebookKernel } from "@/db/queries/notebooks";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { cliActor } from "@/server/identity/actor";
import { createUser } from "@/server/identity/users";
import { admitKernel } from "@/server/quota/service";
import { BUILTIN_SIZES } from "@/server/quota/sizes";
import { liveKernelsForAdmin, myUsage } from "./service";

describe(`the notebook of each live kernel on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  const bound = randomUUID();
  const rebound = randomUUID();
  const unbound = randomUUID();
  const dead = randomUUID();
  let ana: { id: string };
  let bob: { id: string };

  before(async () => {
    ({ db, close } = await openTestDatabase());
    ana = await createUser(db, cliActor, { email: "ana@example.com", password: "password12" });
    bob = await createUser(db, cliActor, { email: "bob@example.com", password: "password12" });
    const small = BUILTIN_SIZES.find((s) => s.name === "small")!;
    // The default quota is 3 kernels: the dead one ends before the others start.
    const admit = (id: string) => admitKernel(db, { kernelId: id, userId: ana.id, team: null, kernelspec: "python3", launcher: "local", size: small });
    await admit(dead);
    await bindNotebookKernel(db, { ownerId: ana.id, path: "Gone.ipynb", kernelId: dead });
    await markKernelDead(db, { id: dead, reason: "stopped", detail: "test" });
    for (const id of [bound, rebound, unbound]) await admit(id);
    await bindNotebookKernel(db, { ownerId: ana.id, path: "reports/Q1 2026.ipynb", kernelId: bound });
    await bindNotebookKernel(db, { ownerId: ana.id, path: "Untitled.ipynb", kernelId: rebound });
    // The last notebook opened with a kernel is the one it runs for.
    await new Promise((r) => setTimeout(r, 5));
    await bindNotebookKernel(db, { ownerId: ana.id, path: "later/Model.ipynb", kernelId: rebound });
    // Another user's row pointing at ana's kernel must not name it (it can't be made through the API).
    await bindNotebookKernel(db, { ownerId: bob.id, path: "bob-secret.ipynb", kernelId: unbound });
  });
  after(async () => close());

  it("notebooksOfKernels maps each bound kernel to its owner's latest notebook", async () => {
    const map = await notebooksOfKernels(db, [bound, rebound, unbound]);
    assert.equal(map.get(bound), "reports/Q1 2026.ipynb");
    assert.equal(map.get(rebound), "later/Model.ipynb");
    assert.equal(map.has(unbound), false, "bob's binding does not name ana's kernel");
    assert.equal((await notebooksOfKernels(db, [])).size, 0);
  });

  it("the admin's live kernels carry the notebook, or null", async () => {
    const rows = await liveKernelsForAdmin(db);
    const byId = new Map(rows.map((r) => [r.id, r]));
    assert.equal(byId.has(dead), false);
    assert.equal(byId.get(bound)?.notebook, "reports/Q1 2026.ipynb");
    assert.equal(byId.get(rebound)?.notebook, "later/Model.ipynb");
    assert.equal(byId.get(unbound)?.notebook, null);
  });

  it("the analyst's running kernels carry the notebook, or null", async () => {
    const mine = await myUsage(db, ana.id);
    const byId = new Map(mine.quota.kernels.map((k) => [k.id, k]));
    assert.equal(byId.size, 3);
    assert.equal(byId.get(bound)?.notebook, "reports/Q1 2026.ipynb");
    assert.equal(byId.get(rebound)?.notebook, "later/Model.ipynb");
    assert.equal(byId.get(unbound)?.notebook, null, "bob's binding does not name ana's kernel");
    assert.equal((await myUsage(db, bob.id)).quota.kernels.length, 0);
  });
});
