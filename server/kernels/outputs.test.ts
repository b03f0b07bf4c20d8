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
    assert.equal(over.spill, true);
    // A later message small enough to fit still follows the spilled one: the two parts keep the output's order.
    assert.equal(recordIopub(s, "stream", { name: "stdout", text: "s" }, 100).spill, true);
    assert.equal((s.area.outputs[0] as { text: string }).text, "x".repeat(80));
    assert.deepEqual(recordIopub(s, "clear_output", { wait: false }, 100), { changed: true, clearSpill: true });
    assert.equal(s.clipped, false);
    assert.deepEqual(recordIopub(s, "stream", { name: "stdout", text: "z".repeat(50) }, 100), { changed: true });
  });

  it("a clear_output(wait=True) after a spill empties the spill with the next output", () => {
    const s = newRunOutputs();
    recordIopub(s, "stream", { name: "stdout", text: "x".repeat(150) }, 100);
    assert.ok(s.clipped);
    assert.deepEqual(recordIopub(s, "clear_output", { wait: true }, 100), { changed: true });
    assert.deepEqual(recordIopub(s, "stream", { name: "stdout", text: "fresh" }, 100), { changed: true, clearSpill: true });
    assert.deepEqual(s.area.outputs, [{ output_type: "stream", name: "stdout", text: "fresh" }]);
  });
});
