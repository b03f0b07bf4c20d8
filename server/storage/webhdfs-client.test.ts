// Who a WebHDFS request is made as: the service user for itself, doas for an analyst, and never the service user
// on behalf of a person who happens to have its name.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StorageError } from "./errors";
import { WebHdfsClient } from "./webhdfs-client";

describe("WebHDFS identity", () => {
  const client = new WebHdfsClient({ url: "http://namenode.test:9870", serviceUser: "svc-atrium" });
  const params = (actAs: string | null) => Object.fromEntries(client.urlFor("/user/x", "GETFILESTATUS", actAs).searchParams);

  it("acts for an analyst through doas, and as itself for its own work", () => {
    assert.deepEqual(params("ana"), { op: "GETFILESTATUS", "user.name": "svc-atrium", doas: "ana" });
    assert.deepEqual(params(null), { op: "GETFILESTATUS", "user.name": "svc-atrium" });
  });

  it("refuses to act for a person named like the service user (it would act with the service user's rights)", () => {
    assert.throws(() => params("svc-atrium"), (e: Error) => e instanceof StorageError && e.code === "PERMISSION_DENIED" && /Tell an Atrium administrator/.test(e.message));
  });
});
