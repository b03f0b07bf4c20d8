// The client address behind a trusted proxy: the entry the proxy appended, never one the client wrote.
import assert from "node:assert/strict";
import type http from "node:http";
import { describe, it } from "node:test";
import { clientAddressOf } from "./http";

const request = (forwardedFor?: string) =>
  ({ headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor }, socket: { remoteAddress: "10.0.0.2" } }) as unknown as Pick<http.IncomingMessage, "headers" | "socket">;

describe("client address", () => {
  it("takes the last X-Forwarded-For entry behind a trusted proxy, the socket's address otherwise", () => {
    assert.equal(clientAddressOf(request("203.0.113.7"), true), "203.0.113.7");
    // nginx's $proxy_add_x_forwarded_for appends to what the client sent: a sprayer's made-up first entry is ignored.
    assert.equal(clientAddressOf(request("1.2.3.4, 203.0.113.7"), true), "203.0.113.7");
    assert.equal(clientAddressOf(request("1.2.3.4,203.0.113.7 "), true), "203.0.113.7");
    assert.equal(clientAddressOf(request(), true), "10.0.0.2");
    assert.equal(clientAddressOf(request(""), true), "10.0.0.2");
    assert.equal(clientAddressOf(request("1.2.3.4"), false), "10.0.0.2", "no proxy trusted: the header is the client's own");
  });
});
