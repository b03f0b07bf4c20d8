// Quota policy and size profiles, by tables of cases.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { budgetMonth, decideAdmission, effectiveUserLimits, envelopeViolations, keysAboveEnvelope, NO_USE, USER_DEFAULT_LIMITS, userLimitsOf, type Limits, type LimitSource, type Use } from "./policy";
import { BUILTIN_SIZES, chooseSize, sizeTableOf, type SizeProfile } from "./sizes";

const medium = BUILTIN_SIZES.find((s) => s.name === "medium")!;
const unset: Limits = { maxKernels: null, maxVcores: null, maxMemoryMb: null, maxGpus: null, monthlyVcoreHours: null };
const now = new Date("2026-11-17T10:30:00Z");
const use = (u: Partial<Use>): Use => ({ ...NO_USE, ...u });
const k = (id: string, startedAt: string, vcores = 2) => ({ id, kernelspec: "python3", startedAt: new Date(startedAt), vcores, memoryMb: 8192, gpus: 0 });

describe("effective limits", () => {
  const cases: [string, Limits | null, Limits | null, Partial<Limits>][] = [
    ["no rows: the defaults", null, null, USER_DEFAULT_LIMITS],
    ["explicit values win", { ...unset, maxKernels: 7 }, null, { maxKernels: 7, maxVcores: 8 }],
    ["defaults are capped by a smaller envelope", null, { ...unset, maxKernels: 2, maxVcores: 4 }, { maxKernels: 2, maxVcores: 4, monthlyVcoreHours: 200 }],
    ["an envelope larger than the default leaves the default", null, { ...unset, maxKernels: 50 }, { maxKernels: 3 }],
    // Regression (review finding 7): an envelope lowered below a member's own value caps it too.
    ["own values above a lowered envelope are capped by it", { ...unset, monthlyVcoreHours: 100, maxKernels: 2 }, { ...unset, monthlyVcoreHours: 10, maxKernels: 5 }, { monthlyVcoreHours: 10, maxKernels: 2 }],
    ["an own value of 0 stays 0 under any envelope", { ...unset, maxKernels: 0 }, { ...unset, maxKernels: 5 }, { maxKernels: 0 }],
  ];
  for (const [name, own, envelope, expected] of cases) {
    it(name, () => {
      const got = effectiveUserLimits(own, envelope);
      for (const [key, value] of Object.entries(expected)) assert.equal(got[key as keyof Limits], value, key);
    });
  }
});

describe("where a member's limit comes from", () => {
  const cases: [string, Limits | null, Limits | null, Partial<Record<keyof Limits, LimitSource>>][] = [
    ["no rows: defaults", null, null, { maxKernels: "default", monthlyVcoreHours: "default" }],
    ["own values", { ...unset, maxKernels: 2 }, { ...unset, maxKernels: 5 }, { maxKernels: "own", maxVcores: "default" }],
    ["a default the envelope caps", null, { ...unset, maxKernels: 2 }, { maxKernels: "envelope" }],
    ["an own value the envelope caps", { ...unset, maxKernels: 4 }, { ...unset, maxKernels: 2 }, { maxKernels: "envelope" }],
    ["an own value equal to the envelope: the envelope binds", { ...unset, maxKernels: 2 }, { ...unset, maxKernels: 2 }, { maxKernels: "envelope" }],
  ];
  for (const [name, own, envelope, expected] of cases) {
    it(name, () => {
      const { sources } = userLimitsOf(own, envelope);
      for (const [key, source] of Object.entries(expected)) assert.equal(sources[key as keyof Limits], source, key);
    });
  }
  it("names the own values above the envelope", () => {
    assert.deepEqual(keysAboveEnvelope({ ...unset, maxKernels: 4, maxVcores: 2, monthlyVcoreHours: 100 }, { ...unset, maxKernels: 3, maxVcores: 8, monthlyVcoreHours: 10 }), ["maxKernels", "monthlyVcoreHours"]);
    assert.deepEqual(keysAboveEnvelope(null, { ...unset, maxKernels: 3 }), []);
    assert.deepEqual(keysAboveEnvelope({ ...unset, maxKernels: 9 }, null), []);
  });
});

describe("member quota inside the envelope", () => {
  const envelope: Limits = { ...unset, maxKernels: 10, maxVcores: 20 };
  const cases: [string, Limits, Limits | null, number][] = [
    ["within", { ...unset, maxKernels: 10, maxVcores: 5 }, envelope, 0],
    ["above on kernels", { ...unset, maxKernels: 11 }, envelope, 1],
    ["above on two limits", { ...unset, maxKernels: 11, maxVcores: 21 }, envelope, 2],
    ["unset envelope values do not bound", { ...unset, maxGpus: 8 }, envelope, 0],
    ["no envelope at all", { ...unset, maxKernels: 999 }, null, 0],
  ];
  for (const [name, member, env, problems] of cases) {
    it(name, () => assert.equal(envelopeViolations(member, env, "Fraud").length, problems));
  }
});

describe("admission decision", () => {
  const defaults = userLimitsOf(null, null);
  type Case = { name: string; size?: SizeProfile; user?: Partial<Use>; kernels?: (ReturnType<typeof k> & { notebook?: string })[]; team?: { limits: Limits; use: Partial<Use> }; admitted: boolean; limit?: string; scope?: string; says?: RegExp[] };
  const cases: Case[] = [
    { name: "a first kernel", admitted: true },
    { name: "the third kernel fits", user: { kernels: 2, vcores: 4, memoryMb: 16384 }, admitted: true },
    {
      name: "a fourth kernel is refused, naming the oldest kernel to stop",
      user: { kernels: 3, vcores: 6, memoryMb: 24576 },
      kernels: [k("bbbbbbbb-1", "2026-11-17T10:05:00Z"), k("aaaaaaaa-1", "2026-11-17T10:02:00Z"), k("cccccccc-1", "2026-11-17T10:09:00Z")],
      admitted: false,
      limit: "maxKernels",
      scope: "user",
      says: [/3 of 3 concurrent kernels/, /stop kernel aaaaaaaa \(python3, started 10:02 UTC\)/],
    },
    {
      name: "a kernel a notebook uses is named by that notebook too (what its user knows it by)",
      user: { kernels: 3, vcores: 6, memoryMb: 24576 },
      kernels: [{ ...k("aaaaaaaa-1", "2026-11-17T10:02:00Z"), notebook: "work/Analysis.ipynb" }, k("bbbbbbbb-1", "2026-11-17T10:05:00Z"), k("cccccccc-1", "2026-11-17T10:09:00Z")],
      admitted: false,
      limit: "maxKernels",
      says: [/stop kernel aaaaaaaa \(work\/Analysis\.ipynb, python3, started 10:02 UTC\)/],
    },
    {
      name: "vCores: names enough kernels to free the room",
      size: { name: "large", vcores: 4, memoryMb: 1024, gpus: 0 },
      user: { kernels: 2, vcores: 6, memoryMb: 2048 },
      kernels: [k("aaaaaaaa-1", "2026-11-16T09:00:00Z", 3), k("bbbbbbbb-1", "2026-11-17T10:00:00Z", 3)],
      admitted: false,
      limit: "maxVcores",
      says: [/6 of 8 vCores/, /needs 4 more/, /kernel aaaaaaaa \(python3, started 2026-11-16 09:00 UTC\)/],
    },
    { name: "a GPU kernel under the default of 0 GPUs can never fit", size: { name: "gpu", vcores: 1, memoryMb: 1024, gpus: 1 }, admitted: false, limit: "maxGpus", says: [/can never fit/] },
    { name: "budget used up: refused, naming the renewal date", user: { vcoreHours: 200 }, admitted: false, limit: "monthlyVcoreHours", says: [/200 vCore-hours of 200 vCore-hours/, /renews on 2026-12-01/] },
    { name: "budget nearly used: still admitted", user: { vcoreHours: 199.9 }, admitted: true },
    {
      name: "the team envelope is full although the member has room",
      team: { limits: { ...unset, maxVcores: 10 }, use: { kernels: 5, vcores: 10 } },
      admitted: false,
      scope: "team",
      limit: "maxVcores",
      says: [/Team Fraud is using 10 of 10 vCores/, /members of team Fraud stop kernels/],
    },
    { name: "an unset envelope does not limit", team: { limits: unset, use: { kernels: 500, vcores: 1000 } }, admitted: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decideAdmission({
        size: c.size ?? medium,
        now,
        user: { ...defaults, use: use(c.user ?? {}), kernels: c.kernels ?? [] },
        team: c.team ? { name: "Fraud", limits: c.team.limits, use: use(c.team.use) } : null,
      });
      assert.equal(d.admitted, c.admitted);
      if (!d.admitted) {
        if (c.limit) assert.equal(d.limit, c.limit);
        if (c.scope) assert.equal(d.scope, c.scope);
        for (const re of c.says ?? []) assert.match(d.message, re);
      }
    });
  }
});

// Regression (review finding 6): a refusal names the right next step — a kernel count of 0 is not about size,
// and only an admin can raise a limit for a user in no team or one the team envelope caps.
describe("who a refusal says can raise the limit", () => {
  const fraud = (limits: Partial<Limits> = {}) => ({ name: "Fraud", limits: { ...unset, ...limits }, use: NO_USE });
  type Case = { name: string; own?: Partial<Limits>; team: ReturnType<typeof fraud> | null; size?: SizeProfile; user?: Partial<Use>; limit: string; raisedBy: "team-lead" | "admin"; says: RegExp[]; never?: RegExp[] };
  const cases: Case[] = [
    {
      name: "maxKernels 0 set by the lead: may not start kernels, ask the lead",
      own: { maxKernels: 0 },
      team: fraud(),
      limit: "maxKernels",
      raisedBy: "team-lead",
      says: [/You may not start kernels \(your limit is 0 concurrent kernels\)/, /Ask the lead of team Fraud to raise it\./],
      never: [/size/, /can never fit/],
    },
    {
      name: "maxKernels 0 from the envelope: the member's limit, only an admin can raise it",
      team: fraud({ maxKernels: 0 }),
      limit: "maxKernels",
      raisedBy: "admin",
      says: [/You may not start kernels/, /Ask an admin to raise it\. Team Fraud's envelope caps this limit, so its lead can't raise it\./],
      never: [/size/, /team lead/],
    },
    {
      name: "maxKernels 0 for a user in no team: ask an admin",
      own: { maxKernels: 0 },
      team: null,
      limit: "maxKernels",
      raisedBy: "admin",
      says: [/You may not start kernels/, /Ask an admin to raise it\. You are in no team/],
      never: [/size/, /your team lead/],
    },
    {
      name: "a GPU kernel, no team: ask an admin, not a team lead",
      team: null,
      size: { name: "gpu", vcores: 1, memoryMb: 1024, gpus: 1 },
      limit: "maxGpus",
      raisedBy: "admin",
      says: [/can never fit under your limit: choose a smaller size or ask an admin to raise it\./],
      never: [/your team lead/],
    },
    {
      name: "a GPU kernel in a team: ask its lead",
      team: fraud(),
      size: { name: "gpu", vcores: 1, memoryMb: 1024, gpus: 1 },
      limit: "maxGpus",
      raisedBy: "team-lead",
      says: [/ask the lead of team Fraud to raise it\./],
    },
    {
      name: "budget used up, no team: an admin can raise it",
      team: null,
      user: { vcoreHours: 200 },
      limit: "monthlyVcoreHours",
      raisedBy: "admin",
      says: [/renews on 2026-12-01; until then an admin can raise it\. You are in no team/],
      never: [/your team lead/],
    },
    {
      name: "budget used up, capped by the envelope: an admin",
      own: { monthlyVcoreHours: 100 },
      team: fraud({ monthlyVcoreHours: 10 }),
      user: { vcoreHours: 10 },
      limit: "monthlyVcoreHours",
      raisedBy: "admin",
      says: [/10 vCore-hours of 10 vCore-hours/, /until then an admin can raise it\. Team Fraud's envelope caps this limit/],
    },
    {
      name: "budget used up, the member's own value: the lead",
      own: { monthlyVcoreHours: 50 },
      team: fraud({ monthlyVcoreHours: 1000 }),
      user: { vcoreHours: 50 },
      limit: "monthlyVcoreHours",
      raisedBy: "team-lead",
      says: [/until then the lead of team Fraud can raise it\./],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decideAdmission({
        size: c.size ?? medium,
        now,
        user: { ...userLimitsOf(c.own ? { ...unset, ...c.own } : null, c.team?.limits ?? null), use: use(c.user ?? {}), kernels: [] },
        team: c.team,
      });
      assert.equal(d.admitted, false);
      if (d.admitted) return;
      assert.equal(d.scope, "user");
      assert.equal(d.limit, c.limit);
      assert.equal(d.raisedBy, c.raisedBy);
      for (const re of c.says) assert.match(d.message, re);
      for (const re of c.never ?? []) assert.doesNotMatch(d.message, re);
    });
  }
  it("a team envelope of 0 kernels: the team may not start kernels, ask an admin", () => {
    // The member's limit is capped by the same envelope, so give them room of their own to reach the team check.
    const d = decideAdmission({ size: medium, now, user: { ...userLimitsOf(null, null), use: NO_USE, kernels: [] }, team: fraud({ maxKernels: 0 }) });
    assert.equal(d.admitted, false);
    if (d.admitted) return;
    assert.equal(d.scope, "team");
    assert.match(d.message, /Team Fraud may not start kernels \(its envelope allows 0 concurrent kernels\)\. Ask an admin to raise it\./);
    assert.doesNotMatch(d.message, /size/);
  });
});

describe("budget month", () => {
  for (const [at, start, renews] of [
    ["2026-11-17T10:30:00Z", "2026-11-01", "2026-12-01"],
    ["2026-12-31T23:59:59Z", "2026-12-01", "2027-01-01"],
    ["2027-01-01T00:00:00Z", "2027-01-01", "2027-02-01"],
  ] as const) {
    it(at, () => {
      const m = budgetMonth(new Date(at));
      assert.equal(m.start.toISOString().slice(0, 10), start);
      assert.equal(m.renews.toISOString().slice(0, 10), renews);
    });
  }
});

describe("size profiles", () => {
  const cases: [string, unknown, string | undefined, string | RegExp][] = [
    ["built-in default is medium", { launcher: "local", config: {} }, undefined, "medium"],
    ["built-in by name", { launcher: "local" }, "large", "large"],
    ["unknown size lists the sizes", { launcher: "local" }, "huge", /no size "huge".*small \(1 vCore, 2 GB\)/],
    ["spec sizes with a named default", { launcher: "yarn", sizes: { s: { vcores: 1, memory_mb: 1024 }, xl: { vcores: 8, memory_mb: 65536, gpus: 1 } }, default_size: "xl" }, undefined, "xl"],
    ["spec sizes in config, middle one by default", { launcher: "yarn", config: { sizes: { a: { vcores: 1, memory_mb: 1024 }, b: { vcores: 2, memory_mb: 2048 }, c: { vcores: 4, memory_mb: 4096 } } } }, undefined, "b"],
    ["invalid sizes fall back to the built-in table", { launcher: "yarn", sizes: { a: { vcores: -1, memory_mb: 1 } } }, undefined, "medium"],
  ];
  for (const [name, meta, requested, expected] of cases) {
    it(name, () => {
      const chosen = chooseSize(sizeTableOf(meta), requested);
      if (expected instanceof RegExp) assert.match("error" in chosen ? chosen.error : "", expected);
      else assert.equal("name" in chosen ? chosen.name : chosen.error, expected);
    });
  }
});
