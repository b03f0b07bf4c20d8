// Regression (QA: "-2" in the envelope dialog's "Concurrent kernels" silently became 2 and was saved): a quota,
// envelope or culling field is read as typed and every value the server refuses is a visible problem beside
// the field, in the server's words; empty means "not set" only where the field allows it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CULL_RULES, GRACE_RULE, LIMIT_RULES, MEMORY_GB_RULE } from "@/server/quota/input-rules";
import { AS_TYPED, fieldErrors, readNumberField } from "./number-field";

describe("reading a number field as typed", () => {
  const cases: [string, Parameters<typeof readNumberField>, number | null, RegExp | null][] = [
    ["-2 kernels (QA's case) stays negative and is refused", [-2, LIMIT_RULES.maxKernels], null, /^Concurrent kernels must be zero or more, not -2$/],
    ["'-2' as text too", ["-2", LIMIT_RULES.maxKernels], null, /zero or more, not -2/],
    ["a lone minus sign is not a number", ["-", LIMIT_RULES.maxKernels], null, /^Concurrent kernels must be a number$/],
    ["2.5 kernels is not a whole number", [2.5, LIMIT_RULES.maxKernels], null, /^Concurrent kernels must be a whole number, not 2\.5$/],
    ["0.5 GPUs is not a whole number", [0.5, LIMIT_RULES.maxGpus], null, /GPUs must be a whole number/],
    ["absurdly many kernels", [1e9, LIMIT_RULES.maxKernels], null, /^Concurrent kernels must be at most 10,000$/],
    ["more digits than a number holds", ["123456789012345678901234", LIMIT_RULES.maxKernels], null, /at most 10,000/],
    ["empty is not set", ["", LIMIT_RULES.maxKernels], null, null],
    ["blank is not set", ["  ", LIMIT_RULES.monthlyVcoreHours], null, null],
    ["empty where a value is required", ["", CULL_RULES.idleTimeoutMinutes, "required"], null, /^Idle timeout is required$/],
    ["0 kernels is a value", [0, LIMIT_RULES.maxKernels], 0, null],
    ["10,000 kernels, the most", [10_000, LIMIT_RULES.maxKernels], 10_000, null],
    ["half a vCore is fine", [0.5, LIMIT_RULES.maxVcores], 0.5, null],
    ["1.5 GB of memory is fine", [1.5, MEMORY_GB_RULE], 1.5, null],
    ["negative memory", [-1, MEMORY_GB_RULE], null, /^Memory must be zero or more, not -1$/],
    ["absurd memory", [1e9, MEMORY_GB_RULE], null, /^Memory must be at most 1,048,576 GB$/],
    ["negative budget", [-10, LIMIT_RULES.monthlyVcoreHours], null, /Monthly vCore-hours must be zero or more/],
    ["a negative grace period", [-5, GRACE_RULE], null, /^Grace period must be zero or more, not -5$/],
    ["a grace period of 2.5 minutes", [2.5, GRACE_RULE], null, /whole number of minutes/],
    ["an idle timeout of 0 minutes", [0, CULL_RULES.idleTimeoutMinutes], null, /^Idle timeout must be at least 1 minute, not 0$/],
    ["an idle timeout of a century", [52_560_000, CULL_RULES.idleTimeoutMinutes], null, /at most 525,600 minutes/],
    ["a lifetime of 1.5 hours", [1.5, CULL_RULES.maxLifetimeHours], null, /whole number of hours/],
    ["an empty lifetime is no limit", ["", CULL_RULES.maxLifetimeHours], null, null],
  ];
  for (const [name, args, value, problem] of cases) {
    it(name, () => {
      const read = readNumberField(...args);
      assert.equal(read.value, value);
      if (problem) assert.match(read.error ?? "", problem);
      else assert.equal(read.error, null);
    });
  }

  it("fieldErrors lists only the fields with a problem", () => {
    const errors = fieldErrors({ maxKernels: readNumberField(-2, LIMIT_RULES.maxKernels), maxVcores: readNumberField(4, LIMIT_RULES.maxVcores) });
    assert.deepEqual(Object.keys(errors), ["maxKernels"]);
  });

  it("the inputs keep what is typed: a sign and a decimal point are not dropped, values are not clamped", () => {
    // Mantine's NumberInput drops "-" with allowNegative={false} and "." with allowDecimal={false}, and clamps to
    // min/max on blur by default: each turned a wrong value into a different, valid-looking one.
    assert.deepEqual(AS_TYPED, { allowNegative: true, allowDecimal: true, clampBehavior: "none" });
  });
});
