// The words a notebook shows when its kernel has ended: they never claim a save that the page can see did not land.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { endedWords } from "./kernels-api";

describe("endedWords", () => {
  it("culled with nothing unsaved: says the notebook was saved, with the culler's reason", () => {
    const words = endedWords("culled", "idle for more than 1 min");
    assert.equal(words.title, "Your kernel was stopped by idle culling");
    assert.match(words.message, /^It was stopped because it had been idle for more than 1 min\. Your notebook was saved;/);
  });
  it("culled with edits still unsaved: says so and how to save, never that it was saved", () => {
    const words = endedWords("culled", "idle for more than 1 min", true);
    assert.doesNotMatch(words.message, /was saved/);
    assert.match(words.message, /changes that are not saved yet: save them \(Ctrl\+S\)/);
  });
  it("an unknown reason keeps the detail and says how to go on", () => {
    assert.equal(endedWords(null, "gone").message, "gone. Restart kernel starts a new one; your notebook and its outputs are kept.");
  });
});

describe("a death with the process's last stderr lines", () => {
  const detail = "process 812 exited with code 1; last stderr:\nTraceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad";
  it("says the death in the message and keeps the lines apart, whole", () => {
    const words = endedWords("died", detail);
    assert.equal(words.message, "process 812 exited with code 1. Restart kernel starts a new one; your notebook and its outputs are kept.");
    assert.equal(words.log, "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad");
  });
  it("a failed start reads the same way", () => {
    const words = endedWords("launch_failed", `kernel k1 (local pid 812) died while starting: ${detail}`);
    assert.equal(words.message, "kernel k1 (local pid 812) died while starting: process 812 exited with code 1");
    assert.match(words.log ?? "", /^Traceback/);
  });
  it("a SIGKILL says what it most often means; no stderr, no log", () => {
    const words = endedWords("died", "process 9 killed by SIGKILL");
    assert.match(words.message, /^process 9 killed by SIGKILL \(most often: it ran out of memory\)\./);
    assert.equal(words.log, undefined);
  });
});
