// The CLI's quota and kernel commands (dispatched from server/cli/commands.ts): `quota set`, `kernels list`,
// `kernels kill`. They act as the command line (cliActor), i.e. with an admin's rights.
import type { Database } from "@/db";
import { checkInstallation } from "@/db/queries/installation";
import { listLiveKernels } from "@/db/queries/kernels";
import { findTeamQuota, findUserQuota } from "@/db/queries/quotas";
import { requestStop } from "@/server/culler/service";
import { cliActor } from "@/server/identity/actor";
import { CLUSTER_LAUNCHERS } from "@/server/kernels/launchers/base";
import { requireTeam, requireUser } from "@/server/identity/users";
import { LIMIT_RULES, MEMORY_GB_RULE, numberProblem } from "./input-rules";
import { LIMIT_KEYS, type Limits } from "./policy";
import { setTeamEnvelope, setUserQuotaChecked } from "./service";

export const QUOTA_SET_FLAGS: Record<string, (typeof LIMIT_KEYS)[number]> = {
  "max-kernels": "maxKernels",
  "max-vcores": "maxVcores",
  "max-memory-gb": "maxMemoryMb",
  "max-gpus": "maxGpus",
  "monthly-vcore-hours": "monthlyVcoreHours",
};

const show = (l: Limits) =>
  LIMIT_KEYS.map((k) => (k === "maxMemoryMb" ? `maxMemoryGb=${l[k] === null ? "default" : l[k]! / 1024}` : `${k}=${l[k] ?? "default"}`)).join(" ");

export async function quotaCommand(db: Database, str: (name: string) => string | undefined, flags: typeof QUOTA_SET_FLAGS, usage: (message: string) => Error): Promise<string> {
  const email = str("user");
  const teamName = str("team");
  if (!email === !teamName) throw usage("quota set needs exactly one of --user EMAIL or --team NAME.");
  const given: Partial<Limits> = {};
  for (const [flag, key] of Object.entries(flags)) {
    const raw = str(flag);
    if (raw === undefined) continue;
    if (raw === "default" || raw === "none") {
      given[key] = null;
      continue;
    }
    const value = raw.trim() === "" ? NaN : Number(raw);
    // The forms' rules (memory in GB, as the flag says), with the flag's name.
    const problem = numberProblem(key === "maxMemoryMb" ? MEMORY_GB_RULE : LIMIT_RULES[key], value, `--${flag}`);
    if (problem) throw usage(`${problem}; or "default".`);
    given[key] = key === "maxMemoryMb" ? Math.round(value * 1024) : value;
  }
  const overBudget = str("over-budget");
  const grace = str("grace-minutes");
  if (overBudget !== undefined && overBudget !== "keep" && overBudget !== "stop") throw usage("--over-budget must be keep or stop.");
  if (grace !== undefined && !/^\d{1,6}$/.test(grace)) throw usage("--grace-minutes must be a whole number of minutes.");
  if (Object.keys(given).length === 0 && overBudget === undefined && grace === undefined) throw usage("quota set: give at least one limit, e.g. --max-kernels 5.");
  const merge = (current: Partial<Limits> | undefined): Limits => Object.fromEntries(LIMIT_KEYS.map((k) => [k, k in given ? given[k]! : (current?.[k] ?? null)])) as Limits;

  if (email) {
    if (overBudget !== undefined || grace !== undefined) throw usage("--over-budget and --grace-minutes are team settings: use --team NAME.");
    const user = await requireUser(db, email);
    const limits = merge(await findUserQuota(db, user.id));
    await setUserQuotaChecked(db, cliActor, user.id, limits);
    return `Quota of ${user.email}: ${show(limits)}\n`;
  }
  const team = await requireTeam(db, teamName!);
  const limits = merge(await findTeamQuota(db, team.id));
  await setTeamEnvelope(db, cliActor, { teamId: team.id, limits, overBudgetAction: overBudget as "keep" | "stop" | undefined, overBudgetGraceMinutes: grace === undefined ? undefined : Number(grace) });
  return `Envelope of team ${team.name}: ${show(limits).replaceAll("=default", "=none")}${overBudget ? ` over-budget=${overBudget}` : ""}${grace ? ` grace=${grace}min` : ""}\n`;
}

export async function kernelsListCommand(db: Database): Promise<string> {
  const rows = await listLiveKernels(db);
  const lines = rows.map(({ kernel: k, ownerEmail }) =>
    [k.id, ownerEmail, k.kernelspec, k.sizeProfile ?? "-", k.state, k.engineId ?? "-", (k.startedAt ?? k.createdAt).toISOString(), k.lastActivityAt.toISOString()].join("\t"),
  );
  return ["ID\tOWNER\tKERNELSPEC\tSIZE\tSTATE\tENGINE_ID\tSTARTED\tLAST_ACTIVITY", ...lines].join("\n") + "\n";
}

export async function kernelsKillCommand(db: Database, id: string): Promise<string> {
  const kernel = await requestStop(db, cliActor, id);
  const { sameDatabase } = await checkInstallation(db);
  const paused = !sameDatabase && CLUSTER_LAUNCHERS.includes(kernel.launcher);
  return paused
    ? `Kernel ${kernel.id} (${kernel.kernelspec}) will be marked stopped at the portal's next culling sweep; its engine is left running: this database looks like a copy, and YARN and Kubernetes kernels are paused here (npx atrium installation show).\n`
    : `Kernel ${kernel.id} (${kernel.kernelspec}) will be stopped by the portal at its next culling sweep (within a minute).\n`;
}
