// The output recorder against a real database: runs are written in batches (one statement for many runs),
// a run's later state overwrites its earlier one, nothing is written on the path of a reply, and one row that
// cannot be written does not cost the others theirs. The kernel side is a small message source standing in
// for LiveKernel (real kernels drive the recorder in manager.int.test.ts and the notebook e2e tests).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import { findCellRun, saveCellRuns, type CellRunSnapshot } from "@/db/queries/notebooks";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { cliActor } from "@/server/identity/actor";
import { createTeam, createUser, setMembership } from "@/server/identity/users";
import { admitKernel } from "@/server/quota/service";
import { BUILTIN_SIZES } from "@/server/quota/sizes";
import type { LiveKernel } from "./live-kernel";
import { OutputRecorder, RESTART_GAP_NOTE } from "./output-recorder";
import { MessageSource } from "./testing";

/** Counts the insert statements made through `db` (the recorder's writes) until restore(). */
function countInserts(db: Database): { statements: number[]; restore: () => void } {
  // saveCellRuns is one raw statement (db.execute); the recorder issues no other.
  const statements: number[] = [];
  const spied = db as unknown as { execute: (...args: unknown[]) => unknown };
  const execute = spied.execute.bind(db);
  spied.execute = (...args: unknown[]) => (statements.push(Date.now()), execute(...args));
  return { statements, restore: () => (spied.execute = execute) };
}

const small = BUILTIN_SIZES.find((s) => s.name === "small")!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`output recorder on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let ana: UserRow;
  let kernelId: string;

  before(async () => {
    ({ db, close } = await openTestDatabase());
    ana = await createUser(db, cliActor, { email: "ana@example.com", password: "analystpass" });
    const team = await createTeam(db, cliActor, { name: "Fraud" });
    await setMembership(db, cliActor, { teamId: team.id, userId: ana.id, role: "member" });
    kernelId = randomUUID();
    await admitKernel(db, { kernelId, userId: ana.id, team, kernelspec: "python3", launcher: "local", size: small, now: new Date() });
  });
  after(() => close());

  const recorderFor = (source: MessageSource) => {
    const recorder = new OutputRecorder(db, path.join(os.tmpdir(), `atrium-recorder-${randomUUID()}`));
    recorder.attach(source as unknown as LiveKernel);
    return recorder;
  };

  it("writes many quick runs in one statement, after the reply, with their outputs and counts", async () => {
    const source = new MessageSource(kernelId, ana.id);
    const recorder = recorderFor(source);
    const { statements, restore } = countInserts(db);
    try {
      const ids = [1, 2, 3, 4, 5].map((n) => source.runQuickly(`print(${n})`, `${n}\n`, n));
      assert.equal(statements.length, 0, "nothing is written while the messages are handled");
      await recorder.flushAll();
      assert.equal(statements.length, 1, "five finished runs, one statement");
      for (const [i, id] of ids.entries()) {
        const row = await findCellRun(db, { ownerId: ana.id, msgId: id });
        assert.ok(row, `run ${i + 1} recorded`);
        assert.equal(row.status, "ok");
        assert.equal(row.executionCount, i + 1);
        assert.deepEqual(row.outputs, [{ output_type: "stream", name: "stdout", text: `${i + 1}\n` }]);
        assert.ok(row.finishedAt, "finished runs have an end time");
      }
    } finally {
      restore();
    }
  });

  it("a finished run is written in a pause of the kernels' traffic, or 1 s after it finished if none comes", async () => {
    const source = new MessageSource(kernelId, ana.id);
    recorderFor(source);
    const waitForRow = async (msgId: string, deadlineMs: number) => {
      const deadline = Date.now() + deadlineMs;
      for (;;) {
        const row = await findCellRun(db, { ownerId: ana.id, msgId });
        if (row || Date.now() > deadline) return row;
        await sleep(20);
      }
    };
    // No traffic after it: written after the quiet period (100 ms), long before the 1 s bound.
    const startedQuiet = Date.now();
    const quiet = source.runQuickly("1", "one\n", 1);
    assert.equal((await waitForRow(quiet, 3_000))?.status, "ok");
    assert.ok(Date.now() - startedQuiet < 700, `written in the pause (${Date.now() - startedQuiet} ms)`);

    // Other executes keep coming every 20 ms: the write waits, but no longer than 1 s after the run finished.
    const busy = source.runQuickly("2", "two\n", 2);
    const finishedAt = Date.now();
    let writtenAt: number | undefined;
    for (let i = 0; i < 100 && Date.now() - finishedAt < 2_000; i++) {
      source.runQuickly(`x = ${i}`, "", 3 + i);
      if (Date.now() - finishedAt < 600) {
        assert.equal(await findCellRun(db, { ownerId: ana.id, msgId: busy }), undefined, "no write while executes follow each other");
      } else if (!writtenAt && (await findCellRun(db, { ownerId: ana.id, msgId: busy }))) {
        writtenAt = Date.now();
      }
      await sleep(20);
    }
    assert.ok(writtenAt, "written despite the traffic");
    assert.ok(writtenAt - finishedAt < 1_600, `within about 1 s of finishing (${writtenAt - finishedAt} ms)`);
  });

  it("under steady traffic, the runs that finished meanwhile are written together, not one statement per execute", async () => {
    const source = new MessageSource(kernelId, ana.id);
    const recorder = recorderFor(source);
    const { statements, restore } = countInserts(db);
    try {
      const started = Date.now();
      let runs = 0;
      while (Date.now() - started < 2_500) {
        source.runQuickly(`x = ${runs}`, "", runs);
        runs++;
        await sleep(10);
      }
      await recorder.flushAll();
      // ~200 executes in 2.5 s: one batch per second or so (each of up to 25 runs per statement), plus the final one
      assert.ok(runs > 100, `${runs} executes`);
      assert.ok(statements.length <= Math.ceil(runs / 25) + 4, `${statements.length} statements for ${runs} executes`);
    } finally {
      restore();
    }
  });

  it("records only the notebook page's executes: a plain API execute (no cell) is not written", async () => {
    const source = new MessageSource(kernelId, ana.id);
    const recorder = recorderFor(source);
    const fromApi = source.execute("1+1", null);
    source.reply(fromApi, "iopub", "execute_result", { execution_count: 1, data: { "text/plain": "2" }, metadata: {} });
    source.reply(fromApi, "shell", "execute_reply", { status: "ok", execution_count: 1 });
    source.reply(fromApi, "iopub", "status", { execution_state: "idle" });
    const fromCell = source.runQuickly("1+1", "2\n", 2);
    await recorder.flushAll();
    assert.equal(await findCellRun(db, { ownerId: ana.id, msgId: fromApi }), undefined);
    assert.equal((await findCellRun(db, { ownerId: ana.id, msgId: fromCell }))?.cellId, "cell-1");
  });

  it("a running cell is written within the flush interval, and its later state replaces the earlier one", async () => {
    const source = new MessageSource(kernelId, ana.id);
    const recorder = recorderFor(source);
    const id = source.execute("for i in range(3): print(i)");
    source.reply(id, "iopub", "status", { execution_state: "busy" });
    source.reply(id, "iopub", "stream", { name: "stdout", text: "0\n" });
    const deadline = Date.now() + 5_000;
    let row = await findCellRun(db, { ownerId: ana.id, msgId: id });
    while (!row && Date.now() < deadline) {
      await sleep(50);
      row = await findCellRun(db, { ownerId: ana.id, msgId: id });
    }
    assert.ok(row, "the running cell was written without waiting for its end");
    assert.equal(row.status, "running");
    assert.equal(row.finishedAt, null);
    source.reply(id, "iopub", "stream", { name: "stdout", text: "1\n2\n" });
    source.reply(id, "shell", "execute_reply", { status: "error", execution_count: 7 });
    source.reply(id, "iopub", "status", { execution_state: "idle" });
    await recorder.flushAll();
    row = await findCellRun(db, { ownerId: ana.id, msgId: id });
    assert.equal(row?.status, "error");
    assert.equal(row?.executionCount, 7);
    assert.deepEqual(row?.outputs, [{ output_type: "stream", name: "stdout", text: "0\n1\n2\n" }]);
  });

  it("its live view of a notebook's runs has what came in up to now, before any write, with the ids of those outputs", async () => {
    const source = new MessageSource(kernelId, ana.id);
    const recorder = recorderFor(source);
    const id = source.execute("for i in range(3): print(i)", { notebookPath: "Live.ipynb", cellId: "c1" });
    source.reply(id, "iopub", "status", { execution_state: "busy" });
    source.reply(id, "iopub", "stream", { name: "stdout", text: "0\n" });
    source.reply(id, "iopub", "stream", { name: "stdout", text: "1\n" });
    const [view, ...more] = recorder.liveRunsOfNotebook(ana.id, "Live.ipynb");
    assert.equal(more.length, 0);
    assert.equal(await findCellRun(db, { ownerId: ana.id, msgId: id }), undefined, "not written yet: the view is fresher");
    assert.equal(view?.status, "running");
    assert.deepEqual(view?.outputs, [{ output_type: "stream", name: "stdout", text: "0\n1\n" }]);
    assert.equal(view?.recentOutputIds.length, 2, "the two stream messages, not the status");
    // A copy: what comes next does not change the view already taken.
    source.reply(id, "iopub", "stream", { name: "stdout", text: "2\n" });
    assert.deepEqual(view?.outputs, [{ output_type: "stream", name: "stdout", text: "0\n1\n" }]);
    assert.equal(recorder.liveRunsOfNotebook(ana.id, "Live.ipynb")[0]?.recentOutputIds.length, 3);
    assert.deepEqual(recorder.liveRunsOfNotebook(randomUUID(), "Live.ipynb"), [], "another user's view is empty");
    assert.deepEqual(recorder.liveRunsOfNotebook(ana.id, "Other.ipynb"), []);
    source.reply(id, "shell", "execute_reply", { status: "ok", execution_count: 1 });
    source.reply(id, "iopub", "status", { execution_state: "idle" });
    await recorder.flushAll();
  });

  it("two replicas recording one run: the one that saw it all is kept; the late one takes over only when the first is gone", async () => {
    // Replica A sent the request; replica B took the kernel up after its own restart, from what A had written,
    // and missed what came meanwhile. Both hear what follows; only A gets the reply.
    const atA = new MessageSource(kernelId, ana.id);
    const atB = new MessageSource(kernelId, ana.id);
    const recorderA = recorderFor(atA);
    const recorderB = new OutputRecorder(db, path.join(os.tmpdir(), `atrium-recorder-${randomUUID()}`));
    const toBoth = (id: string, type: string, content: Record<string, unknown>) => {
      atA.reply(id, "iopub", type, content);
      atB.reply(id, "iopub", type, content);
    };
    const stdout = (text: string) => [{ output_type: "stream", name: "stdout", text }];

    const id = atA.execute("for i in range(3): print(i)");
    atA.reply(id, "iopub", "status", { execution_state: "busy" });
    atA.reply(id, "iopub", "stream", { name: "stdout", text: "0\n" });
    await recorderA.flushAll();
    atA.reply(id, "iopub", "stream", { name: "stdout", text: "1\n" }); // before B listens
    recorderB.attach(atB as unknown as LiveKernel);
    assert.ok((await recorderB.resume(kernelId)) >= 1, "B takes the running run up");
    toBoth(id, "stream", { name: "stdout", text: "2\n" });
    atA.reply(id, "shell", "execute_reply", { status: "error", execution_count: 4 });
    toBoth(id, "status", { execution_state: "idle" });
    await recorderA.flushAll();
    await recorderB.flushAll(); // B writes last, with less
    let row = await findCellRun(db, { ownerId: ana.id, msgId: id });
    assert.deepEqual(row?.outputs, stdout("0\n1\n2\n"), "A's full record stays");
    assert.equal(row?.status, "error", "the status from the reply only A got");

    // A is gone after its first write: B's record, which grows past it, replaces it.
    const id2 = atA.execute("print('a'); print('b')");
    atA.reply(id2, "iopub", "status", { execution_state: "busy" });
    atA.reply(id2, "iopub", "stream", { name: "stdout", text: "a\n" });
    await recorderA.flushAll();
    assert.ok((await recorderB.resume(kernelId)) >= 1);
    atB.reply(id2, "iopub", "stream", { name: "stdout", text: "b\n" });
    atB.reply(id2, "iopub", "status", { execution_state: "idle" });
    await recorderB.flushAll();
    row = await findCellRun(db, { ownerId: ana.id, msgId: id2 });
    // Where B took the run up, the record says output may be missing (B cannot know that none was).
    assert.deepEqual(row?.outputs, [...stdout("a\n"), { output_type: "stream", name: "stderr", text: RESTART_GAP_NOTE }, ...stdout("b\n")]);
    assert.equal(row?.status, "ok");
  });

  it("a rolling deploy: the replica that saw more stops mid-run; the one that took over ends the run (never left 'running')", async () => {
    const atA = new MessageSource(kernelId, ana.id);
    const atB = new MessageSource(kernelId, ana.id);
    const recorderA = recorderFor(atA);
    const recorderB = new OutputRecorder(db, path.join(os.tmpdir(), `atrium-recorder-${randomUUID()}`));
    const id = atA.execute("long()");
    atA.reply(id, "iopub", "status", { execution_state: "busy" });
    atA.reply(id, "iopub", "stream", { name: "stdout", text: "start\n" });
    await recorderA.flushAll();
    recorderB.attach(atB as unknown as LiveKernel);
    await recorderB.resume(kernelId); // B boots beside A
    for (const text of ["a\n", "b\n", "c\n"]) atA.reply(id, "iopub", "stream", { name: "stdout", text }); // before B listens
    await recorderA.flushAll(); // A stops: its last write saw more than B ever will
    atB.reply(id, "iopub", "stream", { name: "stdout", text: "done\n" });
    atB.reply(id, "iopub", "status", { execution_state: "idle" });
    await recorderB.flushAll();
    const row = await findCellRun(db, { ownerId: ana.id, msgId: id });
    assert.equal(row?.status, "ok", "ended by B");
    assert.ok(row?.finishedAt);
    const outputs = row?.outputs as Array<{ name: string; text: string }>;
    assert.deepEqual(outputs.map((o) => o.text), ["start\n", RESTART_GAP_NOTE, "done\n"], "with its end, and where a, b and c went missing said");
  });

  it("a running cell with a big output is rewritten less often (each write is all of it), and in full at the end", async () => {
    const source = new MessageSource(kernelId, ana.id);
    const recorder = recorderFor(source);
    const id = source.execute("print('x' * 2_000_000)");
    source.reply(id, "iopub", "status", { execution_state: "busy" });
    const big = "x".repeat(2 * 1024 * 1024) + "\n";
    source.reply(id, "iopub", "stream", { name: "stdout", text: big });
    await sleep(600); // small outputs would have been written after 250 ms
    assert.equal(await findCellRun(db, { ownerId: ana.id, msgId: id }), undefined, "2 MiB waits about 2 s for its first write");
    const deadline = Date.now() + 8_000;
    let row = await findCellRun(db, { ownerId: ana.id, msgId: id });
    while (!row && Date.now() < deadline) {
      await sleep(100);
      row = await findCellRun(db, { ownerId: ana.id, msgId: id });
    }
    assert.equal(row?.status, "running", "written while still running, within its interval");
    source.reply(id, "shell", "execute_reply", { status: "ok", execution_count: 9 });
    source.reply(id, "iopub", "status", { execution_state: "idle" });
    await recorder.flushAll();
    row = await findCellRun(db, { ownerId: ana.id, msgId: id });
    assert.equal(row?.status, "ok");
    assert.equal((row?.outputs as Array<{ text: string }>)[0]?.text.length, big.length);
  });

  it("a run that cannot be written (its kernel row is unknown) does not cost the others theirs", async () => {
    const good = new MessageSource(kernelId, ana.id);
    const orphan = new MessageSource(randomUUID(), ana.id); // no kernel row: the foreign key refuses it
    const recorder = new OutputRecorder(db, path.join(os.tmpdir(), `atrium-recorder-${randomUUID()}`));
    recorder.attach(good as unknown as LiveKernel);
    recorder.attach(orphan as unknown as LiveKernel);
    const kept = good.runQuickly("1", "one\n", 1);
    const lost = orphan.runQuickly("2", "two\n", 2);
    await recorder.flushAll();
    assert.equal((await findCellRun(db, { ownerId: ana.id, msgId: kept }))?.status, "ok");
    assert.equal(await findCellRun(db, { ownerId: ana.id, msgId: lost }), undefined);
  });

  it("a run never takes over another user's row that has the same msg_id (the client chooses msg_id)", async () => {
    const bo = await createUser(db, cliActor, { email: "bo@example.com", password: "analystpass" });
    const boKernel = randomUUID();
    await admitKernel(db, { kernelId: boKernel, userId: bo.id, team: null, kernelspec: "python3", launcher: "local", size: small, now: new Date() });
    const msgId = randomUUID();
    const run = (ownerId: string, kernel: string, text: string): CellRunSnapshot => ({
      msgId,
      kernelId: kernel,
      ownerId,
      notebookPath: "work/a.ipynb",
      cellId: "c1",
      code: "print()",
      status: "ok",
      executionCount: 1,
      outputs: [{ output_type: "stream", name: "stdout", text }],
      spilledBytes: 0,
      clipped: false,
      startedAt: new Date(),
      finishedAt: new Date(),
      messagesSeen: 1,
    });
    await saveCellRuns(db, [run(ana.id, kernelId, "ana's\n")]);
    await saveCellRuns(db, [run(bo.id, boKernel, "bo's\n")]);
    assert.deepEqual((await findCellRun(db, { ownerId: ana.id, msgId }))?.outputs, [{ output_type: "stream", name: "stdout", text: "ana's\n" }]);
    assert.equal(await findCellRun(db, { ownerId: bo.id, msgId }), undefined);
  });

  it("text with a lone surrogate (a cut through a pair, a kernel's invalid text) is written with U+FFFD, not refused", async () => {
    const msgId = randomUUID();
    const cut = "😀".slice(0, 1); // the first half of a surrogate pair
    await saveCellRuns(db, [
      {
        msgId,
        kernelId,
        ownerId: ana.id,
        notebookPath: `work/${cut}.ipynb`,
        cellId: `c${cut}`,
        code: `print('${cut}')`,
        status: "ok",
        executionCount: 1,
        outputs: [{ output_type: "stream", name: "stdout", text: `${cut}\n` }],
        spilledBytes: 0,
        clipped: false,
        startedAt: new Date(),
        finishedAt: new Date(),
        messagesSeen: 1,
      },
    ]);
    const row = await findCellRun(db, { ownerId: ana.id, msgId });
    assert.equal(row?.code, "print('\ufffd')");
    assert.equal(row?.cellId, "c\ufffd");
    assert.deepEqual(row?.outputs, [{ output_type: "stream", name: "stdout", text: "\ufffd\n" }]);
  });

  it("when the kernel ends, its unfinished runs are written as aborted", async () => {
    const source = new MessageSource(kernelId, ana.id);
    const recorder = recorderFor(source);
    const id = source.execute("import time; time.sleep(60)");
    source.reply(id, "iopub", "status", { execution_state: "busy" });
    await recorder.kernelEnded(kernelId);
    const row = await findCellRun(db, { ownerId: ana.id, msgId: id });
    assert.equal(row?.status, "aborted");
    assert.ok(row?.finishedAt);
  });
});
