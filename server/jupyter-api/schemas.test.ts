// POST /api/kernels bodies: the shapes accepted, the ones refused (400), and the KERNEL_* allow-list.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clientKernelEnv, clientKernelSize, StartKernelBodySchema } from "./schemas";

describe("POST /api/kernels body", () => {
  it("accepts Jupyter's shapes and refuses bad ones", () => {
    const valid = [{}, { name: "python3" }, { name: "python3", path: "nb.ipynb", env: { KERNEL_X: "1", PATH: "/bin" } }, { path: null }];
    for (const body of valid) assert.ok(StartKernelBodySchema.safeParse(body).success, JSON.stringify(body));
    const invalid = [
      { name: 3 },
      { name: "../etc" },
      { env: { KERNEL_X: 1 } },
      { env: { KERNEL_X: "two\nlines" } },
      { env: { KERNEL_X: "x".repeat(4097) } },
      { env: Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`KERNEL_V${i}`, "v"])) },
    ];
    for (const body of invalid) assert.ok(!StartKernelBodySchema.safeParse(body).success, JSON.stringify(body).slice(0, 60));
  });

  it("passes only KERNEL_* variables on, never the ones Atrium sets", () => {
    assert.deepEqual(clientKernelEnv({ KERNEL_USERNAME: "root", KERNEL_ID: "x", KERNEL_SPARK_CONF: "a=b", PATH: "/evil", kernel_lower: "1" }), {
      KERNEL_SPARK_CONF: "a=b",
    });
    assert.deepEqual(clientKernelEnv(undefined), {});
  });

  it("takes KERNEL_SIZE as the start's size, not as a variable of the kernel's", () => {
    assert.deepEqual(clientKernelEnv({ KERNEL_SIZE: "large", KERNEL_COLOR: "teal" }), { KERNEL_COLOR: "teal" });
    assert.equal(clientKernelSize({ KERNEL_SIZE: " large " }), "large");
    assert.equal(clientKernelSize({ KERNEL_SIZE: "" }), undefined);
    assert.equal(clientKernelSize({ KERNEL_COLOR: "teal" }), undefined);
    assert.equal(clientKernelSize(undefined), undefined);
  });
});
