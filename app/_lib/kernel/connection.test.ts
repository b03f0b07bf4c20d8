// What the notebook page does when its kernel WebSocket closes, by close code, against a stand-in WebSocket: the
// portal restarting (1012, and 1001 from a portal before 1012) and anything unexpected reconnect; a close the page
// asked for (1000) and a revoked credential (1008, channels.ts) do not.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KernelConnection, type KernelState } from "./connection";
import { decodeMessage, encodeMessage } from "./framing";
import { createMessage } from "./messages";
import { clearSessionEnded, whenSignedInAgain } from "../session-ended";

/** The part of the browser's WebSocket the connection uses; the test fires its close. */
class StandInSocket {
  static readonly OPEN = 1;
  static last: StandInSocket | undefined;
  readyState = 0;
  protocol = "";
  binaryType = "blob";
  onopen: (() => void) | null = null;
  onmessage: ((event: unknown) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  constructor(readonly url: string) {
    StandInSocket.last = this;
  }
  readonly sent: string[] = [];
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {}
}

const saved = { WebSocket: globalThis.WebSocket, location: (globalThis as { location?: unknown }).location };
before(() => {
  Object.assign(globalThis, { WebSocket: StandInSocket, location: { protocol: "http:", host: "atrium.test" } });
});
after(() => {
  Object.assign(globalThis, saved);
});

function stateAfterClose(code: number): KernelState {
  const states: KernelState[] = [];
  const connection = new KernelConnection("k1", { iopub() {}, stdin() {}, state: (s) => void states.push(s) });
  connection.connect();
  StandInSocket.last!.onclose!({ code });
  connection.dispose(); // stops the reconnect timer, if one was set
  return states.at(-1)!;
}

/** An open connection whose kernel has just said (iopub status) that it died; the socket is still open. */
function connectionToAKernelThatDied() {
  const states: KernelState[] = [];
  const connection = new KernelConnection("k1", { iopub() {}, stdin() {}, state: (s) => void states.push(s) });
  connection.connect();
  const socket = StandInSocket.last!;
  socket.readyState = StandInSocket.OPEN;
  socket.onopen!();
  const dead = createMessage({ channel: "iopub", msgType: "status", session: "kernel", content: { execution_state: "dead" } });
  socket.onmessage!({ data: encodeMessage(dead, "legacy") });
  return { connection, socket, states };
}

describe("KernelConnection close codes", () => {
  for (const code of [1012, 1001, 1006, 1011, 1013]) {
    it(`${code}: reconnects`, () => assert.equal(stateAfterClose(code), "reconnecting"));
  }
  // Regression: 1008 (the session or token behind the socket was revoked) used to reconnect forever against a 401.
  for (const code of [1000, 1008]) {
    it(`${code}: stays disconnected`, () => assert.equal(stateAfterClose(code), "disconnected"));
  }
});

describe("KernelConnection closed for a credential that ended (1008)", () => {
  const realFetch = globalThis.fetch;
  after(() => void (globalThis.fetch = realFetch));
  let asked = 0;
  /** The portal answers the page's GET of the kernel with `status`. */
  const answer = (status: number) =>
    (globalThis.fetch = (async () => (asked++, new Response(JSON.stringify({ id: "k1", name: "python3" }), { status }))) as typeof fetch);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 10));
  /** A connection whose socket the portal closed with 1008, once the page has asked about the kernel. */
  const closedByThePortal = async (status: number) => {
    clearSessionEnded(); // a case before may have ended it
    answer(status);
    const states: KernelState[] = [];
    const connection = new KernelConnection("k1", { iopub() {}, stdin() {}, state: (s) => void states.push(s) });
    connection.connect();
    const first = StandInSocket.last!;
    first.onclose!({ code: 1008 });
    await settle();
    return { connection, first, states };
  };

  it("signed out: the page is told, and it connects again only once the user has signed in again", async () => {
    const { connection, first } = await closedByThePortal(401);
    let ended = true;
    whenSignedInAgain(() => (ended = false));
    assert.equal(ended, true, "the page was told it is signed out");
    assert.equal(StandInSocket.last, first, "no new socket while signed out");
    clearSessionEnded();
    assert.equal(ended, false);
    assert.notEqual(StandInSocket.last, first, "a new socket once signed in again");
    assert.equal(connection.unusable(), null);
    connection.dispose();
  });

  it("the page signed in again meanwhile (a new cookie): it connects again at once, nothing says signed out, and the kernel is idle again", async () => {
    const { connection, first, states } = await closedByThePortal(200);
    const second = StandInSocket.last!;
    assert.notEqual(second, first, "a new socket");
    let ended = true;
    whenSignedInAgain(() => (ended = false));
    assert.equal(ended, false, "not reported signed out");
    // Regression (CI): the state stayed "disconnected", which refused the new socket's own kernel_info, so the page
    // showed "disconnected" forever and refused every run.
    assert.equal(connection.unusable(), null, "requests wait for the new socket instead of being refused");
    second.readyState = StandInSocket.OPEN;
    second.onopen!();
    const info = decodeMessage(second.sent.at(-1)!, "legacy")!;
    assert.equal(info.header.msg_type, "kernel_info_request");
    const reply = createMessage({ channel: "shell", msgType: "kernel_info_reply", session: "kernel", content: { status: "ok" }, parentHeader: info.header });
    second.onmessage!({ data: encodeMessage(reply, "legacy") });
    await settle();
    assert.deepEqual(states.slice(-3), ["disconnected", "reconnecting", "idle"]);
    connection.dispose();
  });

  it("the kernel no longer exists (404): dead at once, no new socket", async () => {
    const { connection, first, states } = await closedByThePortal(404);
    assert.equal(StandInSocket.last, first, "no new socket");
    assert.deepEqual(states, ["disconnected", "dead"]);
    assert.equal(connection.unusable(), "The kernel has stopped.");
    connection.dispose();
  });

  it("the kernel said it died before the close: it stays dead, and nothing is asked", async () => {
    answer(200);
    asked = 0;
    const { connection, socket, states } = connectionToAKernelThatDied();
    socket.onclose!({ code: 1008 });
    await settle();
    assert.deepEqual(states, ["dead"]);
    assert.equal(asked, 0);
    assert.equal(StandInSocket.last, socket, "no new socket");
    connection.dispose();
  });
});

describe("KernelConnection after the kernel said it died", () => {
  // Regression (CI): the portal sends iopub status "dead", then closes 1001. The page showed "dead", then
  // "reconnecting" while it asked whether the kernel still exists, and a cell run in that window waited in the
  // queue and failed later without a word. Now the state stays dead and the run is refused at once.
  it("stays dead through the 1001 close, and refuses a request at once", async () => {
    const { connection, socket, states } = connectionToAKernelThatDied();
    socket.onclose!({ code: 1001 });
    try {
      assert.equal(states.at(-1), "dead");
      assert.equal(connection.unusable(), "The kernel has stopped.");
      await assert.rejects(connection.request("shell", "execute_request", { code: "1" }), /The kernel has stopped\./);
    } finally {
      connection.dispose();
    }
  });
});
