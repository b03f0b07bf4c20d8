// The team lead's chart labels members by name (the table did, the chart used emails), and the team page's
// CSV carries the numbers behind the chart, written by the one CSV writer of the usage exports.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCsv } from "@/server/usage/report";
import { memberLabels, memberUsageCsv, TEAM_CSV_COLUMNS, type MemberUsage } from "./team-usage";

const member = (m: Partial<MemberUsage> & { userId: string; email: string }): MemberUsage => ({
  name: "",
  role: "member",
  use: { kernels: 0, vcores: 0, memoryMb: 0, gpus: 0, vcoreHours: 0 },
  limits: { maxKernels: 3, maxVcores: 8, maxMemoryMb: 32768, maxGpus: 0, monthlyVcoreHours: 200 },
  ...m,
});

describe("member labels", () => {
  it("names, the email when there is none, and the email beside a shared name", () => {
    const labels = memberLabels([
      member({ userId: "1", email: "carl@qa.test", name: "Carl Berg" }),
      member({ userId: "2", email: "noname@qa.test", name: "  " }),
      member({ userId: "3", email: "ana1@qa.test", name: "Ana Lyst" }),
      member({ userId: "4", email: "ana2@qa.test", name: "Ana Lyst" }),
    ]);
    assert.deepEqual([...labels.values()], ["Carl Berg", "noname@qa.test", "Ana Lyst (ana1@qa.test)", "Ana Lyst (ana2@qa.test)"]);
  });
});

describe("the team CSV", () => {
  it("one line per member, limits empty when there is none, and it parses back", () => {
    const csv = memberUsageCsv([
      member({ userId: "1", email: "carl@qa.test", name: 'Carl "C", Berg', role: "lead", use: { kernels: 1, vcores: 2, memoryMb: 8192, gpus: 0, vcoreHours: 12.5 } }),
      member({ userId: "2", email: "=evil@qa.test", limits: { maxKernels: null, maxVcores: null, maxMemoryMb: null, maxGpus: null, monthlyVcoreHours: null } }),
    ]);
    assert.equal(csv.split("\r\n")[0], TEAM_CSV_COLUMNS.join(","));
    const rows = parseCsv(csv);
    assert.equal(rows.length, 2);
    assert.deepEqual(
      [rows[0]!.member, rows[0]!.role, rows[0]!.memory_gb, rows[0]!.max_memory_gb, rows[0]!.vcore_hours_this_month, rows[0]!.vcore_hours_left],
      ['Carl "C", Berg', "lead", "8", "32", "12.500000", "187.500000"],
    );
    assert.equal(rows[1]!.email, "'=evil@qa.test", "a formula is neutralised");
    assert.equal(rows[1]!.monthly_vcore_hours, "");
    assert.equal(rows[1]!.vcore_hours_left, "");
  });
});
