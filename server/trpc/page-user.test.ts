// A page opened for one user never acts for another: the refusal every entry point (tRPC, files, Jupyter REST) uses.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OTHER_USER_MESSAGE, PAGE_USER_HEADER, pageUserRefusal } from "./page-user";

describe("pageUserRefusal", () => {
  it("refuses a page opened for someone else, and lets its own user and API clients (no header) through", () => {
    assert.equal(pageUserRefusal({ [PAGE_USER_HEADER]: "ana" }, "bob"), OTHER_USER_MESSAGE);
    assert.equal(pageUserRefusal({ [PAGE_USER_HEADER]: "ana" }, "ana"), null);
    assert.equal(pageUserRefusal({}, "bob"), null);
  });
});
