import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { appendStreamText, applyIopub, applyOverwrites, emptyArea, updateDisplay, type OutputArea } from "./outputs";

const stream = (area: OutputArea, text: string, name = "stdout") => applyIopub(area, "stream", { name, text });

describe("stream text", () => {
  it("a carriage return overwrites the line (progress bars)", () => {
    let text = "";
    for (const chunk of ["start\n", " 10%", "\r 50%", "\r100%", "\n", "done\n"]) text = appendStreamText(text, chunk);
    assert.equal(text, "start\n100%\ndone\n");
  });

  it("overwrites character by character, as a terminal does", () => {
    assert.equal(applyOverwrites("hello\rab"), "abllo");
  });

  it("keeps a trailing \\r for the next chunk, and treats a split \\r\\n as a newline", () => {
    assert.equal(appendStreamText("", "50%\r"), "50%\r");
    assert.equal(appendStreamText("50%\r", "\nnext"), "50%\nnext");
    assert.equal(appendStreamText("50%\r", "60%"), "60%");
  });

  it("applies backspaces", () => {
    assert.equal(applyOverwrites("abc\b\bX"), "aX");
  });

  it("never touches earlier lines, however long the stream", () => {
    let text = "";
    for (let i = 0; i < 100_000; i++) text = appendStreamText(text, `${i}\n`);
    text = appendStreamText(text, "x\ry");
    assert.ok(text.startsWith("0\n1\n2\n"));
    assert.ok(text.endsWith("99999\ny"));
  });
});

describe("applyIopub", () => {
  it("merges consecutive streams of the same name, separates stdout from stderr", () => {
    let area = emptyArea();
    area = stream(area, "a");
    area = stream(area, "b");
    area = stream(area, "err", "stderr");
    area = stream(area, "c");
    assert.deepEqual(area.outputs.map((o) => (o.output_type === "stream" ? `${o.name}:${o.text}` : o.output_type)), ["stdout:ab", "stderr:err", "stdout:c"]);
  });

  it("clear_output(wait=True) clears only when the next output arrives", () => {
    let area = stream(emptyArea(), "old");
    area = applyIopub(area, "clear_output", { wait: true });
    assert.equal(area.outputs.length, 1);
    area = stream(area, "new");
    assert.deepEqual(area.outputs, [{ output_type: "stream", name: "stdout", text: "new" }]);
    area = applyIopub(area, "clear_output", { wait: false });
    assert.deepEqual(area.outputs, []);
  });

  it("keeps results, displays and errors in nbformat shape", () => {
    let area = applyIopub(emptyArea(), "execute_result", { data: { "text/plain": "2" }, metadata: {}, execution_count: 4 });
    area = applyIopub(area, "error", { ename: "ValueError", evalue: "bad", traceback: ["\x1b[31mValueError\x1b[0m: bad"] });
    assert.deepEqual(area.outputs[0], { output_type: "execute_result", data: { "text/plain": "2" }, metadata: {}, execution_count: 4 });
    assert.equal(area.outputs[1]!.output_type, "error");
  });

  it("update_display_data replaces the outputs carrying the display id", () => {
    const area = applyIopub(emptyArea(), "display_data", { data: { "text/plain": "v1" }, metadata: {}, transient: { display_id: "p" } });
    const updated = updateDisplay(area.outputs, "p", { data: { "text/plain": "v2" }, metadata: {} });
    assert.equal(updated && updated[0]!.output_type === "display_data" && updated[0]!.data["text/plain"], "v2");
    assert.equal(updateDisplay(area.outputs, "other", { data: {} }), null);
  });
});
