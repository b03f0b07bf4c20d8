import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyIopub, newRunOutputs } from "./outputs";

const LIMIT = 1_000_000;

describe("recorded outputs", () => {
  it("merges consecutive chunks of the same stream, not of different ones", () => {
    const s = newRunOutputs();
    applyIopub(s, "stream", { name: "stdout", text: "a\n" }, LIMIT);
    applyIopub(s, "stream", { name: "stdout", text: "b\n" }, LIMIT);
    applyIopub(s, "stream", { name: "stderr", text: "oops\n" }, LIMIT);
    assert.deepEqual(s.outputs, [
      { output_type: "stream", name: "stdout", text: "a\nb\n" },
      { output_type: "stream", name: "stderr", text: "oops\n" },
    ]);
  });

  it("applies update_display_data by display_id", () => {
    const s = newRunOutputs();
    applyIopub(s, "display_data", { data: { "text/plain": "0%" }, metadata: {}, transient: { display_id: "p" } }, LIMIT);
    applyIopub(s, "update_display_data", { data: { "text/plain": "100%" }, metadata: {}, transient: { display_id: "p" } }, LIMIT);
    assert.deepEqual(s.outputs, [{ output_type: "display_data", data: { "text/plain": "100%" }, metadata: {} }]);
  });

  it("defers clear_output(wait=True) until the next output", () => {
    const s = newRunOutputs();
    applyIopub(s, "stream", { name: "stdout", text: "old" }, LIMIT);
    applyIopub(s, "clear_output", { wait: true }, LIMIT);
    assert.equal(s.outputs.length, 1);
    applyIopub(s, "stream", { name: "stdout", text: "new" }, LIMIT);
    assert.deepEqual(s.outputs, [{ output_type: "stream", name: "stdout", text: "new" }]);
    applyIopub(s, "clear_output", { wait: false }, LIMIT);
    assert.deepEqual(s.outputs, []);
  });

  it("keeps errors and results in nbformat shape", () => {
    const s = newRunOutputs();
    applyIopub(s, "execute_result", { execution_count: 3, data: { "text/plain": "2" }, metadata: {} }, LIMIT);
    applyIopub(s, "error", { ename: "ZeroDivisionError", evalue: "division by zero", traceback: ["\u001b[0;31mZeroDivisionError\u001b[0m"] }, LIMIT);
    applyIopub(s, "status", { execution_state: "idle" }, LIMIT);
    assert.deepEqual(s.outputs.map((o) => o.output_type), ["execute_result", "error"]);
  });

  it("hands back what exceeds the limit instead of dropping it", () => {
    const s = newRunOutputs();
    applyIopub(s, "stream", { name: "stdout", text: "x".repeat(80) }, 100);
    const over = applyIopub(s, "stream", { name: "stdout", text: "y".repeat(50) }, 100);
    assert.ok(s.clipped);
    assert.equal(s.outputs[0]!.output_type === "stream" && s.outputs[0]!.text.length, 80);
    assert.ok(over.spill?.includes("y".repeat(50)));
  });
});
