// Table of cases for who receives a kernel message (iopub to all, replies to the asking session only).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createMessage, type ChannelMessage } from "@/server/kernels/protocol/messages";
import { ClientSessions, isForClient, MAX_SESSIONS } from "./routing";

function message(channel: ChannelMessage["channel"], parentSession?: string): ChannelMessage {
  const parent = parentSession ? createMessage({ msgType: "execute_request", session: parentSession, username: "u", content: {} }).header : {};
  return { ...createMessage({ msgType: "x", session: "kernel", username: "k", content: {}, parentHeader: parent }), channel };
}

describe("who gets a kernel message", () => {
  it("broadcasts iopub and routes the rest by the parent's session", () => {
    const mine = new ClientSessions("mine");
    const cases: [ChannelMessage, boolean][] = [
      [message("iopub"), true],
      [message("iopub", "someone-else"), true],
      [message("shell", "mine"), true],
      [message("control", "mine"), true],
      [message("stdin", "mine"), true],
      [message("shell", "someone-else"), false],
      [message("stdin", "someone-else"), false],
      [message("shell"), false], // answers nobody's request (the portal's own)
    ];
    for (const [msg, expected] of cases) assert.equal(isForClient(msg, mine), expected, `${msg.channel} for ${String(msg.parent_header.session)}`);
  });

  it("remembers a bounded number of sessions, forgetting the least recently used", () => {
    const sessions = new ClientSessions();
    sessions.add("first");
    for (let i = 0; i < MAX_SESSIONS - 1; i++) sessions.add(`s${i}`);
    sessions.add("first"); // used again: now the most recent
    sessions.add("one-more");
    assert.equal(sessions.size, MAX_SESSIONS);
    assert.ok(sessions.has("first"));
    assert.ok(!sessions.has("s0"));
  });
});
