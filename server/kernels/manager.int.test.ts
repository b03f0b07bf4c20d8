// The kernel manager and the output recorder with a real ipykernel and a real database: outputs are recorded
// with no client attached, a killed kernel is seen dead within seconds, and a new manager (a restarted
// portal) reattaches to a kernel that is still alive.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import { eq } from "drizzle-orm";
import { findKernel, insertKernel, notePortalHostAlive } from "@/db/queries/kernels";
import { kernels } from "@/db/schema";
import { findCellRun, latestRunsOfNotebook } from "@/db/queries/notebooks";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { seal } from "@/server/crypto/secret-box";
import type { AppError } from "@/server/errors";
import { cliActor } from "@/server/identity/actor";
import { createUser } from "@/server/identity/users";
import { KernelRequestError } from "./connection";
import { BUNDLED_KERNELSPECS_DIR, loadKernelspecs } from "./kernelspecs";
import { LaunchError, LauncherRegistry } from "./launchers/base";
import { LocalLauncher } from "./launchers/local";
import { RemoteLocalLauncher } from "./launchers/remote-local";
import { ResponseListener } from "./launch-protocol/response-listener";
import { KernelManager } from "./manager";
import { OutputRecorder, RESTART_GAP_NOTE } from "./output-recorder";
import { OrphanSweeper } from "./orphan-sweeper";
import { createMessage, executeRequestContent } from "./protocol/messages";

const python = process.env.ATRIUM_PYTHON;
if (!python) throw new Error("ATRIUM_PYTHON is not set: point it at a Python with ipykernel (npm test sets it).");
const secret = "k".repeat(40);

async function until<T>(what: string, check: () => Promise<T | undefined | false>, deadlineMs = 15_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe(`kernel manager with a real ipykernel on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let user: UserRow;
  const runtimeDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-mgr-"));
  const managers: KernelManager[] = [];
  const responses = new ResponseListener();
  const makeManager = async ({ recorder = new OutputRecorder(db, path.join(runtimeDir, "outputs")), portalHost, hostSilentAfterMs }: { recorder?: OutputRecorder; portalHost?: string; hostSilentAfterMs?: number } = {}) => {
    const manager = new KernelManager({
      db,
      secret,
      portalHost,
      hostSilentAfterMs,
      launchers: new LauncherRegistry()
        .register(new LocalLauncher({ runtimeDir, python }))
        .register(new RemoteLocalLauncher({ responseListener: responses, python })),
      kernelspecs: await loadKernelspecs([BUNDLED_KERNELSPECS_DIR]),
      recorder,
    });
    managers.push(manager);
    return manager;
  };
  /**
   * A recorder that makes a restart's steps before it touches the process (its kernelEnded) take `ms`, so a test can
   * act in the middle of them; `stepsStarted` resolves as they begin.
   */
  const slowRestartSteps = (ms: number) => {
    let inSteps!: () => void;
    const stepsStarted = new Promise<void>((resolve) => (inSteps = resolve));
    class SlowEndRecorder extends OutputRecorder {
      override async kernelEnded(kernelId: string): Promise<void> {
        inSteps();
        await new Promise((resolve) => setTimeout(resolve, ms));
        return super.kernelEnded(kernelId);
      }
    }
    return { recorder: new SlowEndRecorder(db, path.join(runtimeDir, "outputs")), stepsStarted };
  };
  const execute = async (manager: KernelManager, kernelId: string, code: string, cellId: string) => {
    const kernel = await manager.attach(user, kernelId);
    const msg = createMessage({
      msgType: "execute_request",
      session: "test-client",
      username: user.username,
      content: executeRequestContent(code),
      metadata: { atrium: { notebookPath: "work/Analysis.ipynb", cellId } },
    });
    await kernel.send("shell", msg);
    return msg.header.msg_id;
  };

  /** A kernelspec "slow_python": ipykernel that sleeps before binding its ports and/or after (before it answers). */
  const slowKernelspecs = (delays: { beforePortsS: number; afterPortsS: number }) => {
    const specDir = fs.mkdtempSync(path.join(runtimeDir, "specs-"));
    fs.mkdirSync(path.join(specDir, "slow_python"));
    fs.writeFileSync(
      path.join(specDir, "slow_python", "slow_kernel.py"),
      `import time\ntime.sleep(${delays.beforePortsS})\nfrom ipykernel.kernelapp import IPKernelApp\n` +
        `class SlowApp(IPKernelApp):\n    def init_kernel(self):\n        time.sleep(${delays.afterPortsS})\n        super().init_kernel()\n` +
        "SlowApp.launch_instance()\n",
    );
    fs.writeFileSync(
      path.join(specDir, "slow_python", "kernel.json"),
      JSON.stringify({ display_name: "slow", language: "python", argv: ["python", "{resource_dir}/slow_kernel.py", "-f", "{connection_file}"], metadata: { atrium: { launcher: "local" } } }),
    );
    return specDir;
  };
  /** True once no process has this pid (signal 0 only checks). */
  const processGone = (pid: number) => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  };
  /** Processes whose command line names this kernel's connection file. */
  const processesOfKernel = (kernelId: string) =>
    fs.readdirSync("/proc").filter((pid) => {
      try {
        return /^\d+$/.test(pid) && fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`kernel-${kernelId}.json`);
      } catch {
        return false; // exited while listing
      }
    });

  before(async () => {
    ({ db, close } = await openTestDatabase());
    await responses.start();
    user = await createUser(db, cliActor, { email: "ana@example.com", password: "analyst-pass" });
  });
  after(async () => {
    for (const manager of managers) {
      for (const k of await manager.list(user).catch(() => [])) await manager.shutdown(user, k.id).catch(() => {});
    }
    await responses.stop();
    await close();
    fs.rmSync(runtimeDir, { recursive: true, force: true });
  });

  it("records outputs with no client attached, per cell, in nbformat shape", async () => {
    const manager = await makeManager();
    const kernel = await manager.start(user, { name: "python3" });
    assert.equal(kernel.execution_state, "idle");
    const msgId = await execute(manager, kernel.id, "import time\nfor i in range(5):\n    print(i); time.sleep(0.1)\n1+1", "cell-a");
    const run = await until("the run to finish", async () => {
      const row = await findCellRun(db, { ownerId: user.id, msgId });
      return row?.status === "ok" ? row : undefined;
    });
    assert.deepEqual(run.outputs, [
      { output_type: "stream", name: "stdout", text: "0\n1\n2\n3\n4\n" },
      { output_type: "execute_result", execution_count: 1, data: { "text/plain": "2" }, metadata: {} },
    ]);
    assert.equal(run.executionCount, 1);
    const latest = await latestRunsOfNotebook(db, { ownerId: user.id, path: "work/Analysis.ipynb" });
    assert.deepEqual(latest.map((r) => r.cellId), ["cell-a"]);
    await manager.shutdown(user, kernel.id);
    assert.equal((await findKernel(db, { id: kernel.id }))?.endReason, "stopped");
  });

  it("sees a kill -9 as dead within 5 seconds and aborts its running cell", async () => {
    const manager = await makeManager();
    const kernel = await manager.start(user, { name: "python3" });
    const msgId = await execute(manager, kernel.id, "import time\nprint('working', flush=True)\ntime.sleep(60)", "cell-b");
    await until("the cell to start", async () => (await findCellRun(db, { ownerId: user.id, msgId }))?.outputs.length);
    const pid = Number(manager.liveKernel(kernel.id)!.process.engineId.replace(/\D/g, ""));
    const killedAt = Date.now();
    process.kill(pid, "SIGKILL");
    const row = await until("the kernel to be dead", async () => {
      const r = await findKernel(db, { id: kernel.id });
      return r?.state === "dead" ? r : undefined;
    }, 5_000);
    assert.ok(Date.now() - killedAt < 5_000);
    assert.equal(row.endReason, "died");
    assert.equal((await manager.get(user, kernel.id)).execution_state, "dead");
    const run = await until("the run to be aborted", async () => {
      const r = await findCellRun(db, { ownerId: user.id, msgId });
      return r?.status === "aborted" ? r : undefined;
    });
    assert.deepEqual(run.outputs, [{ output_type: "stream", name: "stdout", text: "working\n" }]);
  });

  it("reattaches a live kernel after a restart of the portal, and marks a dead one dead", async () => {
    const first = await makeManager();
    const survivor = await first.start(user, { name: "python3" });
    const victim = await first.start(user, { name: "python3" });
    const victimPid = Number(first.liveKernel(victim.id)!.process.engineId.replace(/\D/g, ""));
    await first.detachAll(); // the portal stops; kernels keep running
    process.kill(victimPid, "SIGKILL");
    // The signal lands asynchronously: the next portal must find it gone (a zombie of this test process, or reaped).
    await until("the killed kernel to be gone", async () => {
      const stat = await fs.promises.readFile(`/proc/${victimPid}/stat`, "utf8").catch(() => "");
      return stat === "" || stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
    });

    const second = await makeManager();
    const { restored, dead } = await second.restoreAll();
    assert.ok(restored >= 1, `restored ${restored}`);
    assert.ok(dead >= 1, `dead ${dead}`);
    assert.equal((await findKernel(db, { id: victim.id }))?.state, "dead");
    const msgId = await execute(second, survivor.id, "print('after restart')", "cell-c");
    const run = await until("output after the restart", async () => {
      const r = await findCellRun(db, { ownerId: user.id, msgId });
      return r?.status === "ok" ? r : undefined;
    });
    assert.deepEqual(run.outputs, [{ output_type: "stream", name: "stdout", text: "after restart\n" }]);
    await second.shutdown(user, survivor.id);
  });

  it("a kernel busy when the portal restarts stays busy, is not waited for, and its cell's output is recorded to the end", async () => {
    const first = await makeManager();
    const kernel = await first.start(user, { name: "python3" });
    const msgId = await execute(first, kernel.id, "import time\nprint('a', flush=True)\ntime.sleep(6)\nprint('b')", "cell-busy");
    await until("the row to say busy", async () => (await findKernel(db, { id: kernel.id }))?.state === "busy");
    await until("the first line recorded", async () => (await findCellRun(db, { ownerId: user.id, msgId }))?.outputs.length);
    await first.detachAll(); // the portal stops mid-cell

    const second = await makeManager();
    const t0 = Date.now();
    await second.restoreAll();
    // A busy kernel answers kernel_info only when its cell ends: the restart does not wait for that (it used to, 10 s).
    assert.ok(Date.now() - t0 < 5_000, `restore took ${Date.now() - t0} ms`);
    assert.equal((await findKernel(db, { id: kernel.id }))?.state, "busy", "the culler spares a busy kernel: not rewritten as idle");
    assert.equal((await second.get(user, kernel.id)).execution_state, "busy");
    const run = await until("the cell's end, recorded", async () => {
      const r = await findCellRun(db, { ownerId: user.id, msgId });
      return r?.status !== "running" ? r : undefined;
    });
    assert.equal(run.status, "ok");
    const gap = { output_type: "stream", name: "stderr", text: RESTART_GAP_NOTE };
    assert.deepEqual(run.outputs, [{ output_type: "stream", name: "stdout", text: "a\n" }, gap, { output_type: "stream", name: "stdout", text: "b\n" }], "what it printed after the restart too, after where output may be missing");
    await until("the kernel seen idle", async () => (await second.get(user, kernel.id)).execution_state === "idle");
    await second.shutdown(user, kernel.id);
  });

  it("a cell waiting on input() when the portal restarts is asked again of the clients that attach, and their answer reaches it", async () => {
    const first = await makeManager();
    const kernel = await first.start(user, { name: "python3" });
    const asking = await first.attach(user, kernel.id);
    const request = createMessage({
      msgType: "execute_request",
      session: "test-client",
      username: user.username,
      content: executeRequestContent("name = input('Your name? ')\nprint('hello', name)", { allow_stdin: true }),
      metadata: { atrium: { notebookPath: "work/Analysis.ipynb", cellId: "cell-input" } },
    });
    await asking.send("shell", request);
    const saved = await until("the row to hold the input request", async () => {
      const row = await findKernel(db, { id: kernel.id });
      return row?.state === "busy" && row.openInput ? row.openInput : undefined;
    });
    assert.deepEqual(saved.content, { prompt: "Your name? ", password: false });
    assert.equal(saved.parent_header.msg_id, request.header.msg_id);
    await first.detachAll(); // the portal stops while the cell waits; the page that asked is gone with it

    const second = await makeManager();
    await second.restoreAll();
    const reattached = await second.attach(user, kernel.id);
    const asked = reattached.greeting().find((m) => m.msg.header.msg_type === "input_request");
    assert.ok(asked, "a client attaching to the restarted portal is asked for the input");
    assert.equal(asked.msg.channel, "stdin");
    assert.deepEqual(asked.msg.content, { prompt: "Your name? ", password: false });
    assert.equal(JSON.parse(asked.raw.parentHeader.toString()).msg_id, request.header.msg_id, "its raw frames (the v1 framing) are the request's too");
    await reattached.send("stdin", createMessage({ msgType: "input_reply", session: "another-page", username: user.username, content: { value: "Zoë" }, parentHeader: asked.msg.header }));
    const run = await until("the cell's end, recorded", async () => {
      const r = await findCellRun(db, { ownerId: user.id, msgId: request.header.msg_id });
      return r?.status !== "running" ? r : undefined;
    });
    assert.equal(run.status, "ok");
    assert.match(JSON.stringify(run.outputs), /"name":"stdout","text":"hello Zoë\\n"/);
    await until("the answered request cleared from the row", async () => (await findKernel(db, { id: kernel.id }))?.openInput === null);
    assert.equal(reattached.greeting().length, 0, "nothing asked of the next client");
    await second.shutdown(user, kernel.id);
  });

  it("a cell that ends while no portal listens: its run is finished once the reattached kernel answers", async () => {
    const first = await makeManager();
    const kernel = await first.start(user, { name: "python3" });
    const msgId = await execute(first, kernel.id, "import time\nprint('a', flush=True)\ntime.sleep(2)\nprint('b')", "cell-gap");
    await until("the first line recorded", async () => (await findCellRun(db, { ownerId: user.id, msgId }))?.outputs.length);
    await first.detachAll();
    await new Promise((r) => setTimeout(r, 3_000)); // the cell ends while no portal listens
    const second = await makeManager();
    await second.restoreAll();
    const run = await until("the run finished", async () => {
      const r = await findCellRun(db, { ownerId: user.id, msgId });
      return r?.status !== "running" ? r : undefined;
    }, 10_000);
    assert.equal(run.status, "ok");
    assert.deepEqual(run.outputs, [{ output_type: "stream", name: "stdout", text: "a\n" }, { output_type: "stream", name: "stderr", text: RESTART_GAP_NOTE }], "what was heard; 'b' came while no portal listened, and the output says so");
    await second.shutdown(user, kernel.id);
  });

  it("saves a starting kernel's launch state before it answers, so the next portal finds it instead of leaving it running", async () => {
    // An ipykernel that binds its ports, then takes 3 s more before it answers (a slow import, a busy node).
    const specDir = slowKernelspecs({ beforePortsS: 0, afterPortsS: 3 });
    const first = await makeManager();
    for (const [name, spec] of await loadKernelspecs([specDir])) first.kernelspecs.set(name, spec);
    const { id, started } = await first.begin(user, { name: "slow_python" });
    void started.catch(() => {}); // this portal "stops" below; its start is abandoned
    const saved = await until("the launch state to be saved", async () => {
      const row = await findKernel(db, { id });
      return row?.sealedLaunchState ? row : undefined;
    });
    assert.equal(saved.state, "starting", "saved while the kernel is still starting");
    const pid = Number(saved.engineId?.replace(/\D/g, ""));
    assert.ok(pid > 0, `engine id ${saved.engineId}`);

    await first.detachAll(); // the portal stops: its launch lease is given up, so the next portal need not wait
    const second = await makeManager(); // the next portal, started while the kernel is still starting
    const { restored } = await second.restoreAll();
    assert.ok(restored >= 1, `restored ${restored}`);
    const found = await findKernel(db, { id });
    assert.equal(found?.state, "idle");
    assert.ok(found?.startedAt, "started now, as far as culling and budgets go");
    // The first portal never really stopped here: once its own start settles, it lets go (as a stopped one would).
    await started.catch(() => {});
    await first.detachAll();
    const msgId = await execute(second, id, "print('found')", "cell-s");
    const run = await until("output from the kernel found after the restart", async () => {
      const r = await findCellRun(db, { ownerId: user.id, msgId });
      return r?.status === "ok" ? r : undefined;
    });
    assert.deepEqual(run.outputs, [{ output_type: "stream", name: "stdout", text: "found\n" }]);
    await second.shutdown(user, id);
    await until("the kernel process to be gone", async () => processGone(pid), 5_000);
    assert.equal((await findKernel(db, { id }))?.endReason, "stopped");
  });

  it("a replica booting while another launches a kernel leaves it to that launch (a rolling deploy), and takes it up if the lease lapses", async () => {
    const specDir = slowKernelspecs({ beforePortsS: 0, afterPortsS: 4 });
    const first = await makeManager();
    for (const [name, spec] of await loadKernelspecs([specDir])) first.kernelspecs.set(name, spec);
    const { id, started } = await first.begin(user, { name: "slow_python" });
    await until("the launch state to be saved", async () => (await findKernel(db, { id }))?.sealedLaunchState);

    // (A lease shortened to 6 s: the start ends in about 4, and the booting replica looks again after 6.)
    await db.update(kernels).set({ launchLeaseUntil: new Date(Date.now() + 6_000) }).where(eq(kernels.id, id));
    const second = await makeManager(); // another replica boots meanwhile
    const result = await second.restoreAll();
    assert.ok(result.launchingElsewhere >= 1, JSON.stringify(result));
    assert.equal(second.liveKernel(id), undefined, "left to the replica launching it");
    assert.equal((await findKernel(db, { id }))?.state, "starting", "not marked dead, not stopped");
    await started; // the first replica's start succeeds
    assert.equal((await findKernel(db, { id }))?.state, "idle");
    assert.ok(first.liveKernel(id));
    // Once the launch is over, the booting replica attaches the kernel, as it does every live kernel.
    await until("the booting replica to attach the started kernel", async () => second.liveKernel(id), 15_000);

    // A launch whose process is gone: its lease lapses (here: soon), and a replica that left it takes it up then.
    const { id: id2, started: started2 } = await first.begin(user, { name: "slow_python" });
    started2.catch(() => {}); // this "crashed" portal's start is abandoned
    await until("the launch state to be saved", async () => (await findKernel(db, { id: id2 }))?.sealedLaunchState);
    await db.update(kernels).set({ launchLeaseUntil: new Date(Date.now() + 1_500) }).where(eq(kernels.id, id2));
    const third = await makeManager();
    assert.ok((await third.restoreAll()).launchingElsewhere >= 1);
    await until("the lapsed launch taken up", async () => third.liveKernel(id2) && (await findKernel(db, { id: id2 }))?.state === "idle", 15_000);
    await started2.catch(() => {});
    await first.detachAll();
    await third.shutdown(user, id2);
    await second.detachAll();
    await until("no process of the second kernel left", async () => processesOfKernel(id2).length === 0, 5_000);
  });

  it("a launch another replica leaves behind after these booted is taken up by exactly one of them once the lease is gone", async () => {
    const specDir = slowKernelspecs({ beforePortsS: 0, afterPortsS: 3 });
    const running = [await makeManager(), await makeManager()];
    for (const m of running) assert.equal((await m.restoreAll()).launchingElsewhere, 0); // booted before the launch below
    const leaving = await makeManager();
    for (const [name, spec] of await loadKernelspecs([specDir])) leaving.kernelspecs.set(name, spec);
    const { id, started } = await leaving.begin(user, { name: "slow_python" });
    started.catch(() => {}); // the replica that leaves: its start is not this test's business
    await until("the launch state to be saved", async () => (await findKernel(db, { id }))?.sealedLaunchState);
    assert.deepEqual(await Promise.all(running.map((m) => m.takeUpAbandonedLaunches())), [0, 0], "a launch with a current lease is left to its launcher");
    assert.ok(running.every((m) => m.liveKernel(id) === undefined));
    // The leaving replica gives its leases up as it stops (LaunchLeases.releaseAll); both running replicas look at once.
    await db.update(kernels).set({ launchLeaseUntil: null }).where(eq(kernels.id, id));
    const taken = await Promise.all(running.map((m) => m.takeUpAbandonedLaunches()));
    assert.equal(taken[0]! + taken[1]!, 1, `claimed once: ${JSON.stringify(taken)}`);
    const taker = running[taken[0] ? 0 : 1]!;
    await until("the taker to attach it", async () => taker.liveKernel(id) && (await findKernel(db, { id }))?.state === "idle", 15_000);
    await started.catch(() => {});
    await leaving.detachAll();
    await running[taken[0] ? 1 : 0]!.detachAll();
    await taker.shutdown(user, id);
    await until("no process of the kernel left", async () => processesOfKernel(id).length === 0, 5_000);
  });

  it("a replica that stops while it takes up a launch lets it go: the kernel is neither stopped nor marked dead", async () => {
    const specDir = slowKernelspecs({ beforePortsS: 0, afterPortsS: 6 });
    const leaving = await makeManager();
    for (const [name, spec] of await loadKernelspecs([specDir])) leaving.kernelspecs.set(name, spec);
    const { id, started } = await leaving.begin(user, { name: "slow_python" });
    started.catch(() => {});
    await until("the launch state to be saved", async () => (await findKernel(db, { id }))?.sealedLaunchState);
    await db.update(kernels).set({ launchLeaseUntil: null }).where(eq(kernels.id, id));
    const stopping = await makeManager();
    const takingUp = stopping.takeUpAbandonedLaunches(); // waits for the kernel to answer (6 s)
    await until("the take-up to hold the kernel", async () => stopping.liveKernel(id), 5_000);
    await stopping.detachAll(); // a rolling deploy stops this replica too
    await takingUp;
    const row = await findKernel(db, { id });
    assert.notEqual(row?.state, "dead", `not marked dead: ${row?.stateDetail}`);
    assert.ok(processesOfKernel(id).length > 0, "the kernel still runs");
    await started; // the launch it was left by still finishes
    assert.equal((await findKernel(db, { id }))?.state, "idle");
    await leaving.shutdown(user, id);
    await until("no process of the kernel left", async () => processesOfKernel(id).length === 0, 5_000);
  });

  for (const when of ["before its launch state is saved", "while it finishes starting"] as const) {
    it(`a kernel stopped by the culler or an admin ${when} is stopped for good, and its row stays dead`, async () => {
      const manager = await makeManager();
      const specDir = when === "before its launch state is saved" ? slowKernelspecs({ beforePortsS: 2, afterPortsS: 0 }) : slowKernelspecs({ beforePortsS: 0, afterPortsS: 3 });
      for (const [name, spec] of await loadKernelspecs([specDir])) manager.kernelspecs.set(name, spec);
      const { id, started } = await manager.begin(user, { name: "slow_python" });
      if (when === "while it finishes starting") await until("the launch state to be saved", async () => (await findKernel(db, { id }))?.sealedLaunchState);
      else await until("the kernel process to run", async () => processesOfKernel(id).length > 0);
      await manager.stopKernel(id, "culled", "idle too long"); // the culler's path: it does not wait for the start
      await assert.rejects(started, /stopped while it started|died while starting/);
      await until("no process of the kernel left", async () => processesOfKernel(id).length === 0, 5_000);
      const row = await findKernel(db, { id });
      assert.equal(row?.state, "dead");
      assert.equal(row?.endReason, "culled", "the stop's reason is kept, not overwritten by the failed start");
      assert.equal(manager.liveKernel(id), undefined);
    });
  }

  it("a DELETE while the kernel starts stops it at once, without waiting for the start to end", async () => {
    const manager = await makeManager();
    // Binds its ports, then takes 10 s more before it answers.
    for (const [name, spec] of await loadKernelspecs([slowKernelspecs({ beforePortsS: 0, afterPortsS: 10 })])) manager.kernelspecs.set(name, spec);
    const { id, started } = await manager.begin(user, { name: "slow_python" });
    started.catch(() => {}); // asserted below
    await until("the launch state to be saved", async () => (await findKernel(db, { id }))?.sealedLaunchState);
    const t0 = Date.now();
    await manager.shutdown(user, id);
    assert.ok(Date.now() - t0 < 5_000, `the DELETE took ${Date.now() - t0} ms (the start had 10 s to go)`);
    await assert.rejects(started, /stopped while it started \(stopped by ana\)/);
    await until("no process of the kernel left", async () => processesOfKernel(id).length === 0, 5_000);
    const row = await findKernel(db, { id });
    assert.equal(row?.state, "dead");
    assert.equal(row?.endReason, "stopped");
  });

  it("restarts a kernel under the same id; its clients hear starting, then idle (never restarting: that reads as a crash)", async () => {
    const manager = await makeManager();
    const kernel = await manager.start(user, { name: "python3" });
    const before = manager.liveKernel(kernel.id)!.process.engineId;
    await execute(manager, kernel.id, "x = 41", "cell-d");
    const statuses: string[] = [];
    const unsubscribe = manager.liveKernel(kernel.id)!.subscribe((msg) => {
      if (msg.channel === "iopub" && msg.header.msg_type === "status") statuses.push(String(msg.content.execution_state));
    });
    const restarted = await manager.restart(user, kernel.id);
    unsubscribe();
    assert.deepEqual(statuses, ["starting", "idle"]);
    assert.equal(restarted.id, kernel.id);
    assert.notEqual(manager.liveKernel(kernel.id)!.process.engineId, before);
    const msgId = await execute(manager, kernel.id, "'x' in dir()", "cell-e");
    const run = await until("the run after restart", async () => {
      const r = await findCellRun(db, { ownerId: user.id, msgId });
      return r?.status === "ok" ? r : undefined;
    });
    assert.deepEqual((run.outputs[0] as { data: unknown }).data, { "text/plain": "False" });
    await manager.shutdown(user, kernel.id);
  });

  it("an interrupt of a kernel whose process just ended is a 404; one the kernel did not answer in time was sent", async () => {
    const manager = await makeManager();
    const kernel = await manager.start(user, { name: "python3" });
    const process = manager.liveKernel(kernel.id)!.process;
    const interrupt = process.interrupt.bind(process);
    // As the launchers fail when it happens: the process gone before its death was seen, a message-mode kernel silent.
    process.interrupt = async () => {
      throw new LaunchError("KERNEL_DEAD", `kernel ${kernel.id} is not running: exited`, { kernelId: kernel.id });
    };
    await assert.rejects(manager.interrupt(user, kernel.id), (e: AppError) => e.code === "NOT_FOUND" && /is not running/.test(e.message));
    process.interrupt = async () => {
      throw new KernelRequestError("REQUEST_TIMEOUT", "no interrupt_reply within 5000 ms");
    };
    await manager.interrupt(user, kernel.id);
    process.interrupt = interrupt;
    await manager.interrupt(user, kernel.id);
    await manager.shutdown(user, kernel.id);
  });

  it("a restart launches with the KERNEL_* variables the client started it with (as Jupyter Server does)", async () => {
    const manager = await makeManager();
    const kernel = await manager.start(user, { name: "python3", env: { KERNEL_NOTE: "kept across restarts" } });
    await manager.restart(user, kernel.id);
    const msgId = await execute(manager, kernel.id, "import os; os.environ.get('KERNEL_NOTE')", "cell-env");
    const run = await until("the run after restart", async () => {
      const r = await findCellRun(db, { ownerId: user.id, msgId });
      return r?.status === "ok" ? r : undefined;
    });
    assert.deepEqual((run.outputs[0] as { data: unknown }).data, { "text/plain": "'kept across restarts'" });
    const row = await findKernel(db, { id: kernel.id });
    assert.ok(row?.sealedClientEnv && !row.sealedClientEnv.includes("kept"), "kept sealed");
    await manager.shutdown(user, kernel.id);
    assert.equal((await findKernel(db, { id: kernel.id }))?.sealedClientEnv, null, "dropped with the kernel");
  });

  // Through the remote launch protocol, as replicas run kernels (a local kernel belongs to one host's portal).
  it("a kernel another replica started after this one booted is attached here when a client of it comes (any replica serves any kernel)", async () => {
    const first = await makeManager();
    for (const name of ["python3", "python3_remote_local"]) {
      const second = await makeManager();
      await second.restoreAll(); // booted before the kernel below existed
      const kernel = await first.start(user, { name });
      assert.equal(second.liveKernel(kernel.id), undefined, "not held there yet");
      // Two clients at once: one reattach, one kernel.
      const [a, b] = await Promise.all([second.attach(user, kernel.id), second.attach(user, kernel.id)]);
      assert.equal(a, b);
      const msgId = await execute(second, kernel.id, "print('served by the second', flush=True)", `cell-any-${name}`);
      const run = await until("the cell run through the second replica", async () => {
        const r = await findCellRun(db, { ownerId: user.id, msgId });
        return r?.status === "ok" ? r : undefined;
      });
      assert.deepEqual(run.outputs, [{ output_type: "stream", name: "stdout", text: "served by the second\n" }]);
      await second.detachAll();
      await first.shutdown(user, kernel.id);
    }
  });

  // Two portal hosts, told apart by name only: this machine plays both, which is what makes the test able to fail
  // (a replica here can see the other's pid, and before host names were recorded it reattached the kernel).
  it("a local kernel of another portal host is left to that host's portal: refused, never marked dead nor signalled there; stopped there, its own portal stops it", { timeout: 30_000 }, async () => {
    const hostA = await makeManager({ portalHost: "portal-a" });
    const hostB = await makeManager({ portalHost: "portal-b" });
    const kernel = await hostA.start(user, { name: "python3" });
    const row = await findKernel(db, { id: kernel.id });
    assert.equal(row?.portalHost, "portal-a", "a local kernel's row names the host whose process it is");
    const pid = Number(/^pid (\d+)$/.exec(row!.engineId ?? "")?.[1]);
    assert.ok(pid > 0 && !processGone(pid));

    // Host B's portal booting leaves it alone: not reattached, not marked dead (its pid means nothing there). Earlier
    // tests' kernels in this database are this machine's, another host's for B too: counted, not asserted exactly.
    const restored = await hostB.restoreAll();
    assert.ok(restored.onOtherHosts >= 1, `counted as another host's: ${JSON.stringify(restored)}`);
    assert.equal(hostB.liveKernel(kernel.id), undefined);
    assert.equal((await findKernel(db, { id: kernel.id }))?.engineId, row!.engineId);
    // A client that comes to host B is told where the kernel is, and the kernel is untouched.
    await assert.rejects(hostB.attach(user, kernel.id), (error: AppError) => error.code === "CONFLICT" && error.message.includes('"portal-a"') && error.message.includes('"portal-b"'));
    await assert.rejects(hostB.interrupt(user, kernel.id), (error: AppError) => error.code === "CONFLICT");
    await assert.rejects(hostB.restart(user, kernel.id), (error: AppError) => error.code === "CONFLICT");
    assert.equal((await findKernel(db, { id: kernel.id }))?.state, "idle");
    assert.equal(processGone(pid), false);
    // Host A still serves it.
    const msgId = await execute(hostA, kernel.id, "print('still on a', flush=True)", "cell-host-a");
    await until("the cell run on host A", async () => (await findCellRun(db, { ownerId: user.id, msgId }))?.status === "ok");

    // Stopped through host B (its culler, an admin there): the row ends at once; host A stops the process.
    hostA.watchOtherReplicas({ endedElsewhereMs: 100 });
    await hostB.shutdown(user, kernel.id);
    assert.equal((await findKernel(db, { id: kernel.id }))?.state, "dead");
    await until("host A to stop the process", async () => processGone(pid) && hostA.liveKernel(kernel.id) === undefined, 10_000);
    assert.equal((await findKernel(db, { id: kernel.id }))?.endReason, "stopped", "the row says what host B did, not that it died");
    await hostA.detachAll();
    await hostB.detachAll();
  });

  it("a local kernel stopped through another host while its own portal was down is ended by the orphan sweep of that portal when it is back", { timeout: 30_000 }, async () => {
    const hostA = await makeManager({ portalHost: "portal-a" });
    const hostB = await makeManager({ portalHost: "portal-b" });
    const stopped = await hostA.start(user, { name: "python3" });
    const kept = await hostA.start(user, { name: "python3" });
    const pidOf = async (id: string) => Number(/^pid (\d+)$/.exec((await findKernel(db, { id }))?.engineId ?? "")?.[1]);
    const [stoppedPid, keptPid] = [await pidOf(stopped.id), await pidOf(kept.id)];
    await hostA.detachAll(); // host A's portal stops; its kernels keep running
    await hostB.shutdown(user, stopped.id); // the row ends; host B cannot reach the process
    assert.equal((await findKernel(db, { id: stopped.id }))?.state, "dead");
    assert.equal(processGone(stoppedPid), false, "still running: no portal on its host was there to stop it");

    // Host A's portal is back: the ended kernel is not reattached, and its orphan sweep ends the process; the kernel
    // whose row still runs is reattached and kept.
    const hostAAgain = await makeManager({ portalHost: "portal-a" });
    await hostAAgain.restoreAll();
    assert.equal(hostAAgain.liveKernel(stopped.id), undefined);
    assert.ok(hostAAgain.liveKernel(kept.id));
    const sweeper = new OrphanSweeper({ db, launchers: () => [new LocalLauncher({ runtimeDir, python })], intervalMs: 60_000, graceMs: 0 });
    const report = await sweeper.sweepOnce();
    assert.ok(report.killed.includes(`local kernel process ${stoppedPid}`), JSON.stringify(report));
    assert.ok(!report.killed.includes(`local kernel process ${keptPid}`));
    await until("the orphan's process to end", async () => processGone(stoppedPid), 5_000);
    assert.equal(processGone(keptPid), false);
    assert.equal(processesOfKernel(stopped.id).length, 0);
    await hostAAgain.shutdown(user, kept.id);
    await hostAAgain.detachAll();
    await hostB.detachAll();
  });

  it("the local kernels of a portal host gone silent (a container replaced) are presumed gone with it: another replica marks them dead, without signalling them", { timeout: 30_000 }, async () => {
    const gone = await makeManager({ portalHost: "portal-gone" });
    // This machine's own name: the kernels earlier tests left here are this replica's, not another host's.
    const survivor = await makeManager({ hostSilentAfterMs: 1_000 });
    const kernel = await gone.start(user, { name: "python3" });
    const pid = Number(/^pid (\d+)$/.exec((await findKernel(db, { id: kernel.id }))?.engineId ?? "")?.[1]);
    await gone.detachAll(); // its portal stops saying its host is alive
    // Its last word, now: the launch above may outlast the silence allowed here on a loaded machine.
    await notePortalHostAlive(db, "portal-gone");
    try {
      assert.equal(await survivor.endKernelsOfSilentHosts(), 0, "its host was heard from a moment ago");
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.equal(await survivor.endKernelsOfSilentHosts(), 1);
      const row = await findKernel(db, { id: kernel.id });
      assert.equal(row?.state, "dead");
      assert.equal(row?.endReason, "died");
      assert.match(row?.stateDetail ?? "", /portal host "portal-gone" has not been heard from since .* presumed gone/);
      assert.equal(processGone(pid), false, "not signalled: its pid means nothing on another host");
    } finally {
      process.kill(-pid, "SIGKILL");
    }
    await survivor.detachAll();
  });

  it("a local kernel from before rows named their host is claimed by the replica that reattaches it (so other hosts leave it alone from then on)", async () => {
    const first = await makeManager();
    const kernel = await first.start(user, { name: "python3" });
    await db.update(kernels).set({ portalHost: null }).where(eq(kernels.id, kernel.id));
    await first.detachAll();
    const second = await makeManager({ portalHost: "portal-upgraded" });
    await second.restoreAll();
    assert.ok(second.liveKernel(kernel.id), "reattached: no host named, so any replica may try, as before");
    assert.equal((await findKernel(db, { id: kernel.id }))?.portalHost, "portal-upgraded");
    await second.shutdown(user, kernel.id);
  });

  it("a kernel two replicas hold restarts on one: the other sees the old engine die, does not mark it dead, and attaches the new one", async () => {
    const first = await makeManager();
    const kernel = await first.start(user, { name: "python3_remote_local" });
    const second = await makeManager();
    await second.restoreAll(); // attaches every live kernel, this one too
    const heldBySecond = second.liveKernel(kernel.id)!;
    assert.ok(heldBySecond);
    const oldEngine = first.liveKernel(kernel.id)!.process.engineId;
    await first.restart(user, kernel.id);
    assert.notEqual(first.liveKernel(kernel.id)!.process.engineId, oldEngine);
    const newEngine = first.liveKernel(kernel.id)!.process.engineId;
    // It sees the old engine die, records no death (the row names the new one), and attaches the kernel again.
    await until("the other replica to attach the restarted kernel", async () => second.liveKernel(kernel.id)?.process.engineId === newEngine, 15_000);
    // Its clients are told to reconnect (1012), not that the kernel died (JupyterLab would drop it).
    assert.equal(heldBySecond.settledEnd(), "replaced");
    const row = await findKernel(db, { id: kernel.id });
    assert.equal(row?.state, "idle", `not marked dead by the other replica: ${row?.stateDetail}`);
    assert.equal(row?.engineId, first.liveKernel(kernel.id)!.process.engineId);
    await second.detachAll();
    await first.shutdown(user, kernel.id);
  });

  it("a restart another replica left before it replaced the engine ends on a replica holding the kernel, which keeps it", async () => {
    const holder = await makeManager();
    const kernel = await holder.start(user, { name: "python3_remote_local" });
    // What a replica that crashed in the middle of a restart leaves: the row restarting, its lease gone, the engine as it was.
    await db.update(kernels).set({ state: "restarting", launchLeaseUntil: null }).where(eq(kernels.id, kernel.id));
    assert.equal(await holder.takeUpAbandonedLaunches(), 1);
    const row = await findKernel(db, { id: kernel.id });
    assert.equal(row?.state, "idle");
    assert.equal(row?.launchLeaseUntil, null);
    assert.ok(holder.liveKernel(kernel.id), "still held, still running");
    await holder.shutdown(user, kernel.id);
  });

  it("cluster kernels paused on this portal (a copied database) are refused before anything is admitted or stopped", async () => {
    const launchers = new LauncherRegistry()
      .register(new LocalLauncher({ runtimeDir, python }))
      .register({ name: "yarn", launch: async () => assert.fail("nothing is launched"), restore: async () => assert.fail("not restored"), listOwnEngines: async () => [], killOrphan: async () => {} });
    launchers.refuseClusterLaunches("this database looks like a copy");
    const manager = new KernelManager({ db, secret, launchers, kernelspecs: await loadKernelspecs([BUNDLED_KERNELSPECS_DIR]) });
    managers.push(manager);
    const before = (await db.select().from(kernels)).length;
    await assert.rejects(manager.begin(user, { name: "spark_python_yarn_cluster" }), /paused on this portal until an administrator confirms its installation/);
    assert.equal((await db.select().from(kernels)).length, before, "no kernel row admitted");
    const local = await manager.start(user, { name: "python3" });
    await manager.shutdown(user, local.id);
  });

  it("in a copied database, cluster kernels its rows say run are left alone: not reattached, marked dead, taken up nor killed", async () => {
    const touched: string[] = [];
    const launchers = new LauncherRegistry()
      .register(new LocalLauncher({ runtimeDir, python }))
      .register({
        name: "yarn",
        launch: async () => assert.fail("nothing is launched"),
        restore: async (saved) => (touched.push(`restore ${saved.kernelId}`), assert.fail("a paused cluster kernel is not restored")),
        listOwnEngines: async () => [],
        killOrphan: async (engine) => void touched.push(`kill ${engine.engineId}`),
      });
    launchers.refuseClusterLaunches("this database looks like a copy");
    const manager = new KernelManager({ db, secret, launchers, kernelspecs: await loadKernelspecs([BUNDLED_KERNELSPECS_DIR]) });
    managers.push(manager);
    // Two of the original installation's YARN kernels, as its database had them: one running, one mid-launch whose
    // launcher is gone (its lease lapsed), each with its saved launch state.
    const saved = (kernelId: string, engineId: string) =>
      seal(secret, JSON.stringify({ launcher: "yarn", kernelId, engineId, kernelspecName: "spark_python_yarn_cluster", interruptMode: "message", connectionInfo: { ip: "10.0.0.9", transport: "tcp", shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: "x", signature_scheme: "hmac-sha256" }, state: { applicationId: engineId } }));
    const running = randomUUID();
    const launching = randomUUID();
    for (const [id, state, engineId] of [[running, "idle", "application_1_0001"], [launching, "starting", "application_1_0002"]] as const) {
      await insertKernel(db, { id, ownerId: user.id, teamId: null, kernelspec: "spark_python_yarn_cluster", launcher: "yarn", sizeProfile: null });
      await db.update(kernels).set({ state, engineId, sealedLaunchState: saved(id, engineId), launchLeaseUntil: state === "starting" ? new Date(Date.now() - 60_000) : null }).where(eq(kernels.id, id));
    }
    const result = await manager.restoreAll();
    assert.equal(result.paused, 2);
    assert.equal(result.dead, 0);
    assert.equal(await manager.takeUpAbandonedLaunches(), 0);
    for (const [id, state] of [[running, "idle"], [launching, "starting"]] as const) {
      const row = await findKernel(db, { id });
      assert.equal(row?.state, state, "the row is left as it was");
      assert.ok(row?.sealedLaunchState, "its saved state is kept for when the installation is confirmed");
    }
    await assert.rejects(manager.attach(user, running), (e: AppError) => e.code === "CONFLICT" && /paused on this portal until an administrator confirms its installation/.test(e.message));
    // Stopped here (its owner, or the culler): ended in this database only; its engine is not touched.
    await manager.shutdown(user, running);
    assert.equal((await findKernel(db, { id: running }))?.state, "dead");
    assert.deepEqual(touched, [], "no engine restored or killed");
    await db.update(kernels).set({ state: "dead" }).where(eq(kernels.id, launching));
  });

  it("a cluster kernel whose API server does not answer at reattach is left running, refused for now with the reason, and looked at again", async () => {
    let answers = false;
    const restores: string[] = [];
    const launchers = new LauncherRegistry()
      .register(new LocalLauncher({ runtimeDir, python }))
      .register({
        name: "kubernetes",
        launch: async () => assert.fail("nothing is launched"),
        restore: async (saved) => {
          restores.push(saved.kernelId);
          if (!answers) throw new LaunchError("CLUSTER_UNREACHABLE", `kernel ${saved.kernelId}: the Kubernetes API server could not say whether pod k/p runs: connect ECONNREFUSED`);
          // Once it answers: the pod was deleted meanwhile.
          return { poll: async () => ({ alive: false, reason: "pod k/p no longer exists" }), cleanup: async () => {} } as never;
        },
        listOwnEngines: async () => [],
        killOrphan: async () => assert.fail("nothing is killed"),
      });
    const manager = new KernelManager({ db, secret, launchers, kernelspecs: await loadKernelspecs([BUNDLED_KERNELSPECS_DIR]), clusterRecheckMs: 300 });
    managers.push(manager);
    const id = randomUUID();
    await insertKernel(db, { id, ownerId: user.id, teamId: null, kernelspec: "python_kubernetes", launcher: "kubernetes", sizeProfile: null });
    const state = { launcher: "kubernetes", kernelId: id, engineId: "k/p", kernelspecName: "python_kubernetes", interruptMode: "message", connectionInfo: { ip: "10.0.0.9", transport: "tcp", shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: "x", signature_scheme: "hmac-sha256" }, state: {} };
    await db.update(kernels).set({ state: "idle", engineId: "k/p", sealedLaunchState: seal(secret, JSON.stringify(state)) }).where(eq(kernels.id, id));

    const result = await manager.restoreAll();
    assert.equal(result.unreachable, 1);
    assert.equal(result.dead, 0);
    assert.equal((await findKernel(db, { id }))?.state, "idle", "not taken for dead: its pod may well be running");
    await assert.rejects(manager.attach(user, id), (e: AppError) => e.code === "UNAVAILABLE" && /cannot be reached from this portal right now; the kernel is left running/.test(e.message));
    // Clients retrying meanwhile do not multiply the looks: one pending per kernel (every 300 ms here).
    for (let i = 0; i < 10; i++) await manager.attach(user, id).catch(() => {});
    const before = restores.length;
    await new Promise((r) => setTimeout(r, 1_500));
    assert.ok(restores.length - before <= 7, `${restores.length - before} looks in 1.5 s`);
    // The API server answers again: the kernel is looked at again on its own, and what it says is taken.
    answers = true;
    const deadline = Date.now() + 10_000;
    while ((await findKernel(db, { id }))?.state !== "dead" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const row = await findKernel(db, { id });
    assert.equal(row?.state, "dead");
    assert.match(row?.stateDetail ?? "", /pod k\/p no longer exists/);
    assert.ok(restores.length >= 3, `looked at again (${restores.length} restores)`);
  });

  it("a kernel stopped through another replica while this one still launches it (a spark-submit under way) is abandoned here promptly", { timeout: 20_000 }, async () => {
    let cancelled: string | undefined;
    const launchers = new LauncherRegistry()
      .register(new LocalLauncher({ runtimeDir, python }))
      .register({
        name: "yarn",
        // A launch that has not reached the cluster yet: nothing saved, waiting until it is cancelled.
        launch: (request) =>
          new Promise((_, reject) => {
            pendingCancel = (reason) => {
              cancelled = reason;
              reject(new LaunchError("LAUNCH_FAILED", `kernel ${request.kernelId}: ${reason}`, { kernelId: request.kernelId }));
            };
          }),
        cancel: (_id, reason) => pendingCancel?.(reason),
        restore: async () => assert.fail("not restored"),
        listOwnEngines: async () => [],
        killOrphan: async () => {},
      });
    let pendingCancel: ((reason: string) => void) | undefined;
    const kernelspecs = await loadKernelspecs([BUNDLED_KERNELSPECS_DIR]);
    const here = new KernelManager({ db, secret, launchers, kernelspecs, launchLeaseRenewMs: 200 });
    const elsewhere = new KernelManager({ db, secret, launchers: new LauncherRegistry().register(new LocalLauncher({ runtimeDir, python })), kernelspecs });
    managers.push(here, elsewhere);
    const { id, started } = await here.begin(user, { name: "spark_python_yarn_cluster" });
    const settled = started.then(() => "started", (e: AppError) => e.code);
    const t0 = Date.now();
    await elsewhere.stopKernel(id, "stopped", `stopped by ${user.username}`);
    assert.equal((await findKernel(db, { id }))?.state, "dead", "the stop is recorded at once");
    assert.equal(await settled, "CONFLICT", "the launch here ends as stopped");
    assert.ok(Date.now() - t0 < 3_000, `abandoned ${Date.now() - t0} ms after the stop`);
    assert.match(cancelled ?? "", /stopped by/);
  });

  it("a launch that times out says where it was last (waiting for a node, YARN's queue), in the error and on the row", async () => {
    const launchers = new LauncherRegistry()
      .register(new LocalLauncher({ runtimeDir, python }))
      .register({
        name: "kubernetes",
        launch: async (request, options) => {
          options?.onPhase?.("waiting for a node: 0/1 nodes are available: 1 Insufficient cpu");
          throw new LaunchError("LAUNCH_TIMEOUT", `kernel ${request.kernelId} (kubernetes k/p) did not report its connection info within 300000 ms; it was killed.`, { kernelId: request.kernelId });
        },
        restore: async () => assert.fail("not restored"),
        listOwnEngines: async () => [],
        killOrphan: async () => {},
      });
    const manager = new KernelManager({ db, secret, launchers, kernelspecs: await loadKernelspecs([BUNDLED_KERNELSPECS_DIR]) });
    managers.push(manager);
    const started = await manager.begin(user, { name: "python_kubernetes" });
    await assert.rejects(started.started, (e: AppError) => e.code === "LAUNCH_TIMEOUT" && /the launch was last: waiting for a node: 0\/1 nodes are available: 1 Insufficient cpu/.test(e.message));
    const row = await findKernel(db, { id: started.id });
    assert.equal(row?.state, "dead");
    assert.match(row?.stateDetail ?? "", /the launch was last: waiting for a node/);
  });

  it("a message sent while the kernel restarts runs on the new process, not lost with the old one", async () => {
    const manager = await makeManager();
    const kernel = await manager.start(user, { name: "python3" });
    await execute(manager, kernel.id, "x = 41", "cell-h1");
    const oldPid = Number(manager.liveKernel(kernel.id)!.process.engineId?.replace(/\D/g, ""));
    const restarting = manager.restart(user, kernel.id);
    await until("the old process to be killed by the restart", async () => processGone(oldPid), 5_000);
    const msgId = await execute(manager, kernel.id, "import time\nprint('x' in dir(), flush=True)\ntime.sleep(3)", "cell-h2");
    await restarting;
    // The held cell runs after the restart said "idle": the kernel is busy while it runs, not shown idle.
    await until("the held cell to run", async () => (await findCellRun(db, { ownerId: user.id, msgId }))?.outputs.length);
    assert.equal(manager.liveKernel(kernel.id)!.executionState, "busy");
    const run = await until("the run sent during the restart", async () => {
      const r = await findCellRun(db, { ownerId: user.id, msgId });
      return r?.status === "ok" ? r : undefined;
    });
    assert.deepEqual(run.outputs, [{ output_type: "stream", name: "stdout", text: "False\n" }], "ran on the new process");
    assert.equal(manager.liveKernel(kernel.id)!.executionState, "idle");
    await manager.shutdown(user, kernel.id);
  });

  it("a message sent while a restart does its database steps waits for the new process too (not run on the old one, then lost)", async () => {
    const { recorder, stepsStarted } = slowRestartSteps(800);
    const manager = await makeManager({ recorder });
    const kernel = await manager.start(user, { name: "python3" });
    await execute(manager, kernel.id, "x = 41", "cell-w1");
    const restarting = manager.restart(user, kernel.id);
    await stepsStarted;
    const msgId = await execute(manager, kernel.id, "print('x' in dir(), flush=True)", "cell-w2");
    await restarting;
    const run = await until("the cell sent during the restart's steps", async () => {
      const r = await findCellRun(db, { ownerId: user.id, msgId });
      return r?.status === "ok" ? r : undefined;
    });
    assert.deepEqual(run.outputs, [{ output_type: "stream", name: "stdout", text: "False\n" }], "ran on the new process");
    await manager.shutdown(user, kernel.id);
  });

  it("a kernel that dies while its restart does its database steps refuses what was held for it, instead of keeping it for ever", async () => {
    const { recorder, stepsStarted } = slowRestartSteps(1500);
    const manager = await makeManager({ recorder });
    const kernel = await manager.start(user, { name: "python3" });
    const pid = Number(manager.liveKernel(kernel.id)!.process.engineId?.replace(/\D/g, ""));
    const restarting = manager.restart(user, kernel.id).then(
      () => undefined,
      (error: AppError) => error,
    );
    await stepsStarted;
    const sent = execute(manager, kernel.id, "1", "cell-d1").then(
      () => "taken",
      (error: Error) => error.message,
    );
    process.kill(pid, "SIGKILL");
    const outcome = await Promise.race([sent, new Promise((resolve) => setTimeout(() => resolve("still held after 10 s"), 10_000))]);
    assert.match(String(outcome), /died before it could take the message/);
    assert.ok(await restarting, "the restart fails: the kernel died");
  });

  it("a kernel restarted while busy, then running a cell sent during the restart, says busy in its row too (the culler reads it)", async () => {
    const manager = await makeManager();
    const kernel = await manager.start(user, { name: "python3" });
    await execute(manager, kernel.id, "import time\ntime.sleep(30)", "cell-b1"); // a runaway cell: the reason to restart
    await until("the row to say busy", async () => (await findKernel(db, { id: kernel.id }))?.state === "busy", 5_000);
    const restarting = manager.restart(user, kernel.id);
    await until("the restart to hold messages", async () => manager.liveKernel(kernel.id)?.executionState === "restarting", 5_000);
    const msgId = await execute(manager, kernel.id, "import time\nprint('held', flush=True)\ntime.sleep(4)", "cell-b2");
    await restarting;
    await until("the held cell to run", async () => (await findCellRun(db, { ownerId: user.id, msgId }))?.outputs.length);
    await until("the row to say busy while the held cell runs", async () => (await findKernel(db, { id: kernel.id }))?.state === "busy", 3_000);
    await until("the row to say idle once it ended", async () => (await findKernel(db, { id: kernel.id }))?.state === "idle", 10_000);
    await manager.shutdown(user, kernel.id);
  });

  it("two restarts at once make one new process, not two", async () => {
    const manager = await makeManager();
    const kernel = await manager.start(user, { name: "python3" });
    const [a, b] = await Promise.all([manager.restart(user, kernel.id), manager.restart(user, kernel.id)]);
    assert.equal(a.id, kernel.id);
    assert.equal(b.id, kernel.id);
    await until("one process of the kernel", async () => processesOfKernel(kernel.id).length === 1, 5_000);
    const held = manager.liveKernel(kernel.id)!;
    assert.equal((await findKernel(db, { id: kernel.id }))?.engineId, held.process.engineId, "the row names the process that is held");
    await manager.shutdown(user, kernel.id);
    await until("no process of the kernel left", async () => processesOfKernel(kernel.id).length === 0, 5_000);
  });

  it("a kernel stopped while it restarts stays stopped: the new process is killed and the restart says so", async () => {
    const manager = await makeManager();
    // The restarted kernel binds its ports and saves its launch state, then takes 3 s more before it answers.
    for (const [name, spec] of await loadKernelspecs([slowKernelspecs({ beforePortsS: 0, afterPortsS: 3 })])) manager.kernelspecs.set(name, spec);
    const kernel = await manager.start(user, { name: "slow_python" });
    const firstEngine = (await findKernel(db, { id: kernel.id }))?.engineId;
    const restarting = manager.restart(user, kernel.id);
    restarting.catch(() => {}); // asserted below
    await until("the new process's launch state", async () => (await findKernel(db, { id: kernel.id }))?.engineId !== firstEngine);
    await manager.shutdown(user, kernel.id);
    await assert.rejects(restarting, /stopped while it restarted/);
    await until("no process of the kernel left", async () => processesOfKernel(kernel.id).length === 0, 5_000);
    const row = await findKernel(db, { id: kernel.id });
    assert.equal(row?.state, "dead", "not revived by the restart");
    assert.equal(row?.endReason, "stopped");
    assert.equal(manager.liveKernel(kernel.id), undefined);
  });

  it("runs the remote launch protocol end to end through the manager (python3_remote_local)", async () => {
    const manager = await makeManager();
    const kernel = await manager.start(user, { name: "python3_remote_local" });
    const msgId = await execute(manager, kernel.id, "import time\nprint('remote', flush=True)\ntime.sleep(60)", "cell-r");
    await until("the cell to start", async () => (await findCellRun(db, { ownerId: user.id, msgId }))?.outputs.length);
    await manager.interrupt(user, kernel.id);
    const run = await until("the interrupted run", async () => {
      const r = await findCellRun(db, { ownerId: user.id, msgId });
      return r?.status === "error" ? r : undefined;
    });
    assert.match(JSON.stringify(run.outputs), /KeyboardInterrupt/);
    await manager.shutdown(user, kernel.id);
    assert.equal((await findKernel(db, { id: kernel.id }))?.state, "dead");
  });
});
