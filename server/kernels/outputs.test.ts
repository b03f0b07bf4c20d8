// The stored size limit of recorded outputs (the iopub → nbformat rules are tested with the reducer).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newRunOutputs, recordIopub } from "./outputs";

const LIMIT = 1_000_000;

describe("recorded outputs", () => {
  it("records streams, results and errors in nbformat shape", () => {
    const s = newRunOutputs();
    recordIopub(s, "stream", { name: "stdout", text: "a\n" }, LIMIT);
    recordIopub(s, "stream", { name: "stdout", text: "b\n" }, LIMIT);
    recordIopub(s, "execute_result", { execution_count: 3, data: { "text/plain": "2" }, metadata: {} }, LIMIT);
    recordIopub(s, "status", { execution_state: "idle" }, LIMIT);
    assert.deepEqual(s.area.outputs, [
      { output_type: "stream", name: "stdout", text: "a\nb\n" },
      { output_type: "execute_result", execution_count: 3, data: { "text/plain": "2" }, metadata: {} },
    ]);
  });

  it("applies display updates by display_id", () => {
    const s = newRunOutputs();
    recordIopub(s, "display_data", { data: { "text/plain": "0%" }, metadata: {}, transient: { display_id: "p" } }, LIMIT);
    assert.ok(recordIopub(s, "update_display_data", { data: { "text/plain": "100%" }, metadata: {}, transient: { display_id: "p" } }, LIMIT).changed);
    assert.equal((s.area.outputs[0] as { data: Record<string, unknown> }).data["text/plain"], "100%");
    assert.equal(recordIopub(s, "update_display_data", { data: {}, metadata: {}, transient: { display_id: "nope" } }, LIMIT).changed, false);
  });

  it("hands back what exceeds the limit instead of dropping it, and a clear frees room", () => {
    const s = newRunOutputs();
    recordIopub(s, "stream", { name: "stdout", text: "x".repeat(80) }, 100);
    const over = recordIopub(s, "stream", { name: "stdout", text: "y".repeat(50) }, 100);
    assert.ok(s.clipped);
    assert.equal(s.area.outputs.length, 1);
    assert.ok(over.spill?.includes("y".repeat(50)));
    recordIopub(s, "clear_output", { wait: false }, 100);
    assert.equal(recordIopub(s, "stream", { name: "stdout", text: "z".repeat(50) }, 100).spill, undefined);
  });
});
