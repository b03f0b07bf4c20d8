// Regression (QA: with team Risk's envelope at 2 kernels and the analyst's own quota at the default 3, the
// notebook's banner said "Your limit of 2 kernels is reached … (your limit)"): the refusal names the limit that
// actually refused — the user's own or default quota, the team envelope capping it, or the team's envelope for
// all its members — from the server's decision (server/quota/policy.ts) through the banner's words.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decideAdmission, NO_USE, userLimitsOf, type AdmissionInput, type Limits, type Use } from "@/server/quota/policy";
import { BUILTIN_SIZES, type SizeProfile } from "@/server/quota/sizes";
import { readableError, startRefusal } from "./refusal";

const medium = BUILTIN_SIZES.find((s) => s.name === "medium")!;
const unset: Limits = { maxKernels: null, maxVcores: null, maxMemoryMb: null, maxGpus: null, monthlyVcoreHours: null };
const now = new Date("2026-11-17T10:30:00Z");
const use = (u: Partial<Use> = {}): Use => ({ ...NO_USE, ...u });
const kernel = (id: string, notebook: string) => ({ id, kernelspec: "python3", notebook, startedAt: new Date("2026-11-17T09:00:00Z"), vcores: 2, memoryMb: 8192, gpus: 0 });

interface Case {
  name: string;
  own?: Partial<Limits>;
  team?: { name: string; limits: Partial<Limits>; use?: Partial<Use> } | null;
  use?: Partial<Use>;
  size?: SizeProfile;
  source: "own" | "default" | "envelope" | "team";
  headline: RegExp;
  detail: RegExp[];
  never: RegExp[];
}

/** The banner for a start refused as the server would refuse it: the decision's message and details, as tRPC sends them. */
function bannerFor(c: Case) {
  const input: AdmissionInput = {
    size: c.size ?? medium,
    now,
    user: { ...userLimitsOf(c.own ? { ...unset, ...c.own } : null, c.team ? { ...unset, ...c.team.limits } : null), use: use(c.use), kernels: [kernel("413dfad2-0000-4000-8000-000000000000", "Untitled.ipynb")] },
    team: c.team ? { name: c.team.name, limits: { ...unset, ...c.team.limits }, use: use(c.team.use ?? c.use) } : null,
  };
  const d = decideAdmission(input);
  assert.equal(d.admitted, false);
  if (d.admitted) throw new Error("admitted");
  const { message, admitted: _a, ...details } = d;
  const error = Object.assign(new Error(message), { data: { appCode: "QUOTA_EXCEEDED", details } });
  return { decision: d, banner: startRefusal(error) };
}

describe("a refused start names the limit that refused it", () => {
  const cases: Case[] = [
    {
      name: "the team envelope caps the member's default (QA's case): the team's limit, not 'your limit'",
      team: { name: "Risk", limits: { maxKernels: 2 } },
      use: { kernels: 2, vcores: 4, memoryMb: 16384 },
      source: "envelope",
      headline: /^Your team Risk's limit of 2 kernels is reached — stop one in Usage, or ask an admin\.$/,
      detail: [/team Risk's envelope, which caps your limit/, /stop kernel 413dfad2 \(Untitled\.ipynb, python3/],
      never: [/\(your limit\)/, /^Your limit/],
    },
    {
      name: "the member's own value: their limit, their team lead raises it",
      own: { maxKernels: 1 },
      team: { name: "Risk", limits: { maxKernels: 5 } },
      use: { kernels: 1, vcores: 2, memoryMb: 8192 },
      source: "own",
      headline: /^Your limit of 1 kernel is reached — stop one in Usage, or ask your team lead\.$/,
      detail: [/\(your limit\)/],
      never: [/Risk's/],
    },
    {
      name: "the default quota, in a team with a larger envelope: the user's limit",
      team: { name: "Risk", limits: { maxKernels: 10 } },
      use: { kernels: 3, vcores: 6, memoryMb: 24576 },
      source: "default",
      headline: /^Your limit of 3 kernels is reached — stop one in Usage, or ask your team lead\.$/,
      detail: [/\(your limit\)/],
      never: [/team Risk's/],
    },
    {
      name: "no team: the user's limit, an admin raises it",
      own: { maxKernels: 1 },
      team: null,
      use: { kernels: 1, vcores: 2, memoryMb: 8192 },
      source: "own",
      headline: /^Your limit of 1 kernel is reached — stop one in Usage, or ask an admin\.$/,
      detail: [/\(your limit\)/],
      never: [/team lead/],
    },
    {
      name: "the whole team fills its envelope (the member has room of their own): the team's limit",
      team: { name: "Risk", limits: { maxKernels: 4 }, use: { kernels: 4, vcores: 8, memoryMb: 32768 } },
      use: { kernels: 1, vcores: 2, memoryMb: 8192 },
      source: "team",
      headline: /^Your team Risk's limit of 4 kernels is reached — stop one in Usage, wait for a teammate to stop theirs, or ask an admin\.$/,
      detail: [/Team Risk is using 4 of 4 concurrent kernels \(the team's limit\)/],
      never: [/your limit/],
    },
    {
      name: "an envelope of 0 kernels: the team's limit is 0",
      team: { name: "Risk", limits: { maxKernels: 0 } },
      source: "envelope",
      headline: /^Your team Risk's limit is 0 kernels — ask an admin to raise it\.$/,
      detail: [/team Risk's envelope allows 0 concurrent kernels/],
      never: [/your limit/],
    },
    {
      name: "vCores capped by the envelope: the team's limit",
      team: { name: "Risk", limits: { maxVcores: 2 } },
      use: { kernels: 1, vcores: 2, memoryMb: 8192 },
      source: "envelope",
      headline: /^Your team Risk's limit of 2 vCores leaves no room for this kernel — stop a kernel in Usage, choose a smaller size, or ask an admin\.$/,
      detail: [/team Risk's envelope, which caps your limit/],
      never: [/\(your limit\)/],
    },
    {
      name: "a size that never fits under the envelope: says the envelope",
      team: { name: "Risk", limits: { maxMemoryMb: 4096 } },
      source: "envelope",
      headline: /^Your team Risk's limit of 4 GB is less than this kernel needs — choose a smaller size, or ask an admin\.$/,
      detail: [/can never fit under team Risk's envelope/],
      never: [/under your limit/],
    },
    {
      name: "the monthly budget capped by the envelope: the team's budget",
      own: { monthlyVcoreHours: 100 },
      team: { name: "Risk", limits: { monthlyVcoreHours: 10 } },
      use: { vcoreHours: 10 },
      source: "envelope",
      headline: /^Your team Risk's monthly budget of 10 vCore-hours is used up — new kernels can start when it renews, or ask an admin\.$/,
      detail: [/\(team Risk's envelope, which caps your limit\)/],
      never: [/\(your limit\)/],
    },
    {
      name: "the member's own monthly budget: theirs",
      own: { monthlyVcoreHours: 50 },
      team: { name: "Risk", limits: { monthlyVcoreHours: 1000 } },
      use: { vcoreHours: 50 },
      source: "own",
      headline: /^Your monthly budget of 50 vCore-hours is used up — new kernels can start when it renews, or ask your team lead\.$/,
      detail: [/\(your limit\)/],
      never: [/Risk's/],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { decision, banner } = bannerFor(c);
      assert.equal(decision.source, c.source);
      assert.equal(decision.teamName, c.source === "envelope" || c.source === "team" ? "Risk" : null);
      assert.equal(banner.quota, true);
      assert.match(banner.message, c.headline);
      for (const re of c.detail) assert.match(banner.detail ?? "", re);
      for (const re of c.never) {
        assert.doesNotMatch(banner.message, re);
        assert.doesNotMatch(banner.detail ?? "", re);
      }
    });
  }

  it("details from an older server (scope only) still say whose: the team's, without a name", () => {
    const error = Object.assign(new Error("Quota exceeded: x."), { data: { appCode: "QUOTA_EXCEEDED", details: { scope: "team", limit: "maxKernels", limitValue: 2, raisedBy: "admin" } } });
    assert.match(startRefusal(error).message, /^Your team's limit of 2 kernels is reached/);
  });

  it("other errors are not quota refusals", () => {
    const r = startRefusal(new Error("The launch failed."));
    assert.equal(r.quota, false);
    assert.equal(r.message, "The launch failed.");
  });
});

describe("readableError", () => {
  it("turns zod's issue list into field: message", () => {
    const issues = JSON.stringify([{ path: ["limits", "maxKernels"], message: "Concurrent kernels must be zero or more" }]);
    assert.equal(readableError(new Error(issues)), "limits.maxKernels: Concurrent kernels must be zero or more");
  });
});
