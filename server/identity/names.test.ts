import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isValidEmail, USERNAME_PATTERN, usernameCandidates, usernameFromEmail } from "./names";

describe("identity names", () => {
  it("derives valid usernames from emails", () => {
    const cases: [string, string][] = [
      ["Ada.Lovelace@example.com", "ada.lovelace"],
      ["bob+spark@example.com", "bob"],
      ["42life@example.com", "life"],
      ["élodie@example.com", "elodie"],
      ["zoë.ñ+tag@example.com", "zoe.n"], // QA: was "zo." (letters with accents dropped, a dot left at the end)
      ["straße@example.com", "strasse"],
      ["ann.@example.com", "ann"],
      ["李@example.com", "user"],
      ["___@example.com", "user"],
    ];
    for (const [email, expected] of cases) {
      assert.equal(usernameFromEmail(email), expected, email);
      assert.match(usernameFromEmail(email), USERNAME_PATTERN);
    }
  });

  it("offers numbered alternatives", () => {
    const gen = usernameCandidates("ana");
    assert.deepEqual([gen.next().value, gen.next().value, gen.next().value], ["ana", "ana2", "ana3"]);
  });

  it("accepts ordinary emails and refuses malformed ones", () => {
    assert.ok(isValidEmail("a@b.co"));
    for (const bad of ["", "a", "a@b", "a b@c.de", "@c.de"]) assert.ok(!isValidEmail(bad), bad);
  });
});
