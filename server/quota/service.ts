// Quota mechanism: admission in one transaction, quota status for the pages, and setting quotas (admins set
// team envelopes, leads set member quotas inside them). The rules are in policy.ts; this file does the I/O.
//
// Admission: ensure the quota rows exist (INSERT ... ON CONFLICT DO NOTHING), lock the team's then the user's
// row (SELECT ... FOR UPDATE), count the live kernels and this month's vCore-hours, decide, and insert the
// kernel row and its usage session — all in one transaction. A concurrent start for the same user or team, on
// any replica, waits on the lock and then counts the kernel this one inserted. A refusal rolls everything back.
import type { Database, Tx } from "@/db";
import { appendAudit } from "@/db/queries/audit";
import { findKernel, insertKernel, markKernelDead } from "@/db/queries/kernels";
import {
  ensureQuotaRows,
  findTeamCullPolicy,
  findTeamQuota,
  findUserQuota,
  isMemberOf,
  listTeamQuotas,
  liveKernelsOfUser,
  liveUse,
  lockQuotaRows,
  teamMembersWithQuotas,
  upsertTeamQuota,
  upsertUserQuota,
  vcoreHoursSince,
  type LimitValues,
} from "@/db/queries/quotas";
import { findTeamById, teamsOfUser } from "@/db/queries/teams";
import { findUserById } from "@/db/queries/users";
import { insertSession } from "@/db/queries/usage";
import { AppError } from "@/server/errors";
import type { Actor } from "@/server/identity/actor";
import { kernelMetrics } from "@/server/usage/metrics";
import { budgetMonth, decideAdmission, effectiveUserLimits, envelopeViolations, keysAboveEnvelope, LIMIT_KEYS, userLimitsOf, type Limits, type Use } from "./policy";
import type { SizeProfile } from "./sizes";

const limitsOf = (row: LimitValues | null | undefined): Limits | null =>
  row ? { maxKernels: row.maxKernels, maxVcores: row.maxVcores, maxMemoryMb: row.maxMemoryMb, maxGpus: row.maxGpus, monthlyVcoreHours: row.monthlyVcoreHours } : null;
const NO_ENVELOPE: Limits = { maxKernels: null, maxVcores: null, maxMemoryMb: null, maxGpus: null, monthlyVcoreHours: null };

/**
 * The team a user's kernels are charged to, whose envelope caps their quota: the first team they joined, as
 * KernelManager.begin() picks it for admission. Null for a user in no team. Keep the two in step.
 */
export async function chargedTeamOf(db: Database, userId: string): Promise<{ id: string; name: string } | null> {
  const [team] = await teamsOfUser(db, userId);
  return team ? { id: team.id, name: team.name } : null;
}

export interface AdmitRequest {
  kernelId: string;
  userId: string;
  team: { id: string; name: string } | null;
  kernelspec: string;
  launcher: string;
  /** The portal host a local kernel's process will run on (see kernels.portalHost); null for cluster kernels. */
  portalHost?: string | null;
  size: SizeProfile;
  now?: Date;
  /** The client's KERNEL_* variables, sealed, kept on the row for restarts (written with it: nothing to strand). */
  sealedClientEnv?: string;
  /**
   * A live kernel of the same user this one takes the place of (another size or kernelspec for a notebook): admitted
   * as if it were gone, and ended in the same transaction, so a refused start leaves it running and two starts can
   * never both count it out. Its process is the caller's to stop.
   */
  replaces?: string;
}

/**
 * Admits a kernel (its row and usage session are inserted, state "starting") or throws QUOTA_EXCEEDED; NOT_FOUND when
 * the kernel it replaces is not one of the user's.
 */
export async function admitKernel(db: Database, request: AdmitRequest): Promise<void> {
  const now = request.now ?? new Date();
  const teamId = request.team?.id ?? null;
  const decision = await db.transaction(async (tx) => {
    await ensureQuotaRows(tx, { userId: request.userId, teamId });
    // The user's quota row, locked, serialises their admissions: the replaced kernel's state is read under it.
    const locked = await lockQuotaRows(tx, { userId: request.userId, teamId });
    const except = request.replaces ? await replacedKernel(tx as unknown as Database, request.replaces, request.userId) : undefined;
    const month = budgetMonth(now).start;
    const envelope = limitsOf(locked.team);
    const userUse = await useOf(tx, { userId: request.userId, except }, month, now);
    const decision = decideAdmission({
      size: request.size,
      now,
      user: { ...userLimitsOf(limitsOf(locked.user), envelope), use: userUse, kernels: await liveKernelsOfUser(tx, request.userId, { except }) },
      team: request.team ? { name: request.team.name, limits: envelope ?? NO_ENVELOPE, use: await useOf(tx, { teamId: request.team.id, except }, month, now) } : null,
    });
    if (!decision.admitted) return decision;
    if (except) {
      await markKernelDead(tx as unknown as Database, { id: except, reason: "stopped", detail: `replaced by kernel ${request.kernelId} (${request.kernelspec}, ${request.size.name})` });
    }
    await insertKernel(tx as unknown as Database, {
      id: request.kernelId,
      ownerId: request.userId,
      teamId,
      kernelspec: request.kernelspec,
      launcher: request.launcher,
      portalHost: request.portalHost ?? null,
      sizeProfile: request.size.name,
      sealedClientEnv: request.sealedClientEnv ?? null,
    });
    await insertSession(tx, {
      kernelId: request.kernelId,
      userId: request.userId,
      teamId,
      kernelspec: request.kernelspec,
      engine: request.launcher,
      sizeProfile: request.size.name,
      vcores: request.size.vcores,
      memoryMb: request.size.memoryMb,
      gpus: request.size.gpus,
      startedAt: now,
    });
    return decision;
  });
  if (!decision.admitted) {
    kernelMetrics().quotaRefused(request.team?.name ?? null, decision.scope, decision.limit);
    throw new AppError("QUOTA_EXCEEDED", decision.message, {
      scope: decision.scope,
      limit: decision.limit,
      limitValue: decision.limitValue,
      current: decision.current,
      requested: decision.requested,
      raisedBy: decision.raisedBy,
      source: decision.source,
      teamName: decision.teamName,
    });
  }
}

async function useOf(db: Database | Tx, who: { userId?: string; teamId?: string; except?: string }, month: Date, now: Date): Promise<Use> {
  const live = await liveUse(db, who);
  // The month's budget keeps what a replaced kernel already used: only its reservation is freed.
  return { ...live, vcoreHours: await vcoreHoursSince(db, { userId: who.userId, teamId: who.teamId, from: month, now }) };
}

/** The live kernel a start replaces, if it still runs; NOT_FOUND if it is not the user's (another's is never named). */
async function replacedKernel(db: Database, id: string, userId: string): Promise<string | undefined> {
  const row = await findKernel(db, { id });
  if (!row || row.ownerId !== userId) throw new AppError("NOT_FOUND", `There is no kernel ${id} of yours to replace.`);
  return row.state === "dead" ? undefined : row.id;
}

const remainingOf = (limits: Limits, use: Use) =>
  Object.fromEntries(
    LIMIT_KEYS.map((k) => {
      const cap = limits[k];
      const used = k === "maxKernels" ? use.kernels : k === "maxVcores" ? use.vcores : k === "maxMemoryMb" ? use.memoryMb : k === "maxGpus" ? use.gpus : use.vcoreHours;
      return [k, cap === null ? null : Math.max(0, cap - used)];
    }),
  ) as Limits;

const tighterOf = (own: Limits, team: Limits | null): Limits =>
  team ? (Object.fromEntries(LIMIT_KEYS.map((k) => [k, own[k] === null ? team[k] : team[k] === null ? own[k] : Math.min(own[k], team[k])])) as Limits) : own;

/** A user's limits, current use and what is left (the analyst's page, before starting a kernel). */
export async function quotaStatus(db: Database, userId: string, now = new Date()) {
  const team = await chargedTeamOf(db, userId);
  const month = budgetMonth(now);
  const envelope = team ? limitsOf(await findTeamQuota(db, team.id)) : null;
  const own = limitsOf(await findUserQuota(db, userId));
  const { limits, sources } = userLimitsOf(own, envelope);
  const use = await useOf(db, { userId }, month.start, now);
  // The team's envelope is shared: what teammates use may leave less than the user's own limits do.
  const teamRemaining = team && envelope ? remainingOf(envelope, await useOf(db, { teamId: team.id }, month.start, now)) : null;
  const ownRemaining = remainingOf(limits, use);
  return {
    team: team ? { id: team.id, name: team.name } : null,
    limits,
    explicit: own,
    use,
    /** What the user can still start: their own limits' remainder, or the team's where that is less. */
    remaining: tighterOf(ownRemaining, teamRemaining),
    /** The limits whose remainder is the team's (teammates' kernels leave the user less than their own limit). */
    limitedByTeam: LIMIT_KEYS.filter((k) => teamRemaining?.[k] != null && (ownRemaining[k] === null || teamRemaining[k]! < ownRemaining[k]!)),
    budget: {
      used: use.vcoreHours,
      limit: limits.monthlyVcoreHours,
      renews: month.renews,
      exhausted: (limits.monthlyVcoreHours !== null && use.vcoreHours >= limits.monthlyVcoreHours) || teamRemaining?.monthlyVcoreHours === 0,
      // A lead raises a member's own budget; the team's envelope, and a user in no team, are an admin's.
      raisedBy: team && sources.monthlyVcoreHours !== "envelope" ? ("team-lead" as const) : ("admin" as const),
    },
    kernels: await liveKernelsOfUser(db, userId),
  };
}

export interface LeadScope {
  ledTeamIds: string[];
  isAdmin: boolean;
}

function requireLeads(scope: LeadScope, teamId: string) {
  // Another team's data is "not found" to a lead, the way another user's kernel is.
  if (!scope.isAdmin && !scope.ledTeamIds.includes(teamId)) throw new AppError("NOT_FOUND", `Team ${teamId} was not found among the teams you lead.`);
}

/**
 * A user's quota applies wherever they start kernels, and those are charged to one team: so a lead may set it
 * only when that team is one they lead (admins always may).
 */
const mayLeadSetQuota = (scope: LeadScope, charged: { id: string } | null) => scope.isAdmin || (charged !== null && scope.ledTeamIds.includes(charged.id));

/**
 * A team lead's view: the envelope, the team's use, every member's quota, use and live kernels. A member's `use`
 * and `remaining` are against their own limits, which count all their kernels (as admission does); `useHere` and
 * `kernels` are only what is charged to this team (another team's kernels are not this lead's to see), so those
 * add up to the team's use. A member whose kernels are charged to another team (the first they joined) shows it in
 * `chargedTeam`, and only that team's lead (or an admin) may set their quota (`canSetQuota`). `aboveEnvelope`
 * names the limits where a member's own value is above the envelope that caps it (it counts only up to it).
 */
export async function teamQuotaOverview(db: Database, scope: LeadScope, teamId: string, now = new Date()) {
  requireLeads(scope, teamId);
  const month = budgetMonth(now);
  const envelopeRow = await findTeamQuota(db, teamId);
  const envelope = limitsOf(envelopeRow);
  const members = await teamMembersWithQuotas(db, teamId);
  return {
    teamId,
    envelope,
    overBudget: { action: envelopeRow?.overBudgetAction ?? "keep", graceMinutes: envelopeRow?.overBudgetGraceMinutes ?? 30 },
    use: await useOf(db, { teamId }, month.start, now),
    renews: month.renews,
    cullPolicy: (await findTeamCullPolicy(db, teamId)) ?? null,
    members: await Promise.all(
      members.map(async (m) => {
        const charged = await chargedTeamOf(db, m.userId);
        // The member's limits are capped by the envelope of the team their kernels are charged to.
        const cap = !charged || charged.id === teamId ? envelope : limitsOf(await findTeamQuota(db, charged.id));
        const own = limitsOf(m.quota);
        const limits = effectiveUserLimits(own, cap);
        const use = await useOf(db, { userId: m.userId }, month.start, now);
        const useHere = await useOf(db, { userId: m.userId, teamId }, month.start, now);
        return {
          userId: m.userId,
          email: m.email,
          name: m.name,
          role: m.role,
          chargedTeam: charged,
          canSetQuota: mayLeadSetQuota(scope, charged),
          explicit: own,
          aboveEnvelope: keysAboveEnvelope(own, cap),
          limits,
          use,
          useHere,
          remaining: remainingOf(limits, use),
          // What the member's notebooks are called is theirs: a lead sees kernels, sizes and times.
          kernels: (await liveKernelsOfUser(db, m.userId, { teamId })).map(({ notebook: _notebook, ...kernel }) => kernel),
        };
      }),
    ),
  };
}

/** A lead sets a member's quota inside the team's envelope (null: back to the default). */
export async function setMemberQuota(db: Database, actor: Actor, scope: LeadScope, input: { teamId: string; userId: string; limits: Limits }) {
  requireLeads(scope, input.teamId);
  if (!(await isMemberOf(db, { userId: input.userId, teamId: input.teamId }))) {
    throw new AppError("NOT_FOUND", `That user is not a member of this team.`);
  }
  const charged = await chargedTeamOf(db, input.userId);
  if (charged && !mayLeadSetQuota(scope, charged)) {
    throw new AppError(
      "FORBIDDEN",
      `Quota not saved: this member's kernels are charged to team ${charged.name} (the first team they joined), and their quota limits them there, so only the lead of team ${charged.name}, or an admin, can set it. Ask one of them.`,
      { chargedTeamId: charged.id, chargedTeamName: charged.name },
    );
  }
  await setUserQuotaChecked(db, actor, input.userId, input.limits);
}

/** Sets a user's quota, refusing values above the envelope of any team they belong to. */
export async function setUserQuotaChecked(db: Database, actor: Actor, userId: string, limits: Limits) {
  for (const [key, value] of Object.entries(limits)) {
    if (value !== null && (!Number.isFinite(value) || value < 0)) throw new AppError("BAD_REQUEST", `${key} must be zero or more.`);
  }
  for (const team of await teamsOfUser(db, userId)) {
    const problems = envelopeViolations(limits, limitsOf(await findTeamQuota(db, team.id)), team.name);
    if (problems.length) {
      throw new AppError("QUOTA_EXCEEDED", `The quota is not inside the team envelope: ${problems.join("; ")}. Ask an admin to raise the envelope first.`, { problems });
    }
  }
  const user = await findUserById(db, userId);
  if (!user) throw new AppError("NOT_FOUND", `User ${userId} was not found: reload the page.`);
  await upsertUserQuota(db, { userId, ...limits });
  // The email as well as the id: the audit log reads (and is searched) by it.
  await appendAudit(db, { actorId: actor.id, actorLabel: actor.label, action: "quota.user.set", targetType: "user", targetId: userId, details: { email: user.email, ...limits } });
}

/** Admins set a team's envelope and what happens to running kernels when a member's budget is used up. */
export async function setTeamEnvelope(
  db: Database,
  actor: Actor,
  input: { teamId: string; limits: Limits; overBudgetAction?: "keep" | "stop"; overBudgetGraceMinutes?: number },
) {
  for (const [key, value] of Object.entries(input.limits)) {
    if (value !== null && (!Number.isFinite(value) || value < 0)) throw new AppError("BAD_REQUEST", `${key} must be zero or more.`);
  }
  const team = await findTeamById(db, input.teamId);
  if (!team) throw new AppError("NOT_FOUND", `Team ${input.teamId} was not found: reload the page.`);
  await upsertTeamQuota(db, { teamId: input.teamId, ...input.limits, overBudgetAction: input.overBudgetAction, overBudgetGraceMinutes: input.overBudgetGraceMinutes });
  await appendAudit(db, { actorId: actor.id, actorLabel: actor.label, action: "quota.team.set", targetType: "team", targetId: input.teamId, details: { team: team.name, ...input.limits, overBudgetAction: input.overBudgetAction, overBudgetGraceMinutes: input.overBudgetGraceMinutes } });
}

/** Every team's envelope and use (the admin's page). */
export async function teamEnvelopes(db: Database, now = new Date()) {
  const month = budgetMonth(now).start;
  const rows = await listTeamQuotas(db);
  return Promise.all(rows.map(async (r) => ({ teamId: r.teamId, name: r.name, envelope: limitsOf(r.quota), overBudgetAction: r.quota?.overBudgetAction ?? "keep", use: await useOf(db, { teamId: r.teamId }, month, now) })));
}
