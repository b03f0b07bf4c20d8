// What users and leads do about culling: see the warnings on their kernels, keep a kernel running (within the
// team's policy), read and set the team's policy inside the admin's bounds.
import type { Database } from "@/db";
import { appendAudit } from "@/db/queries/audit";
import { findKernel, touchKernelActivity, type KernelRow } from "@/db/queries/kernels";
import { findTeamCullPolicy, upsertTeamCullPolicy } from "@/db/queries/quotas";
import { findTeamById } from "@/db/queries/teams";
import { findUserById } from "@/db/queries/users";
import { deleteWarning, upsertWarning, warningsOfOwner } from "@/db/queries/usage";
import { AppError } from "@/server/errors";
import type { Actor } from "@/server/identity/actor";
import type { LeadScope } from "@/server/quota/service";
import { loadCullBounds } from "./bounds";
import { effectiveCullPolicy, keepAliveUntil, policyViolations, type StoredCullPolicy } from "./policy";

/** The warnings on a user's live kernels, soonest first: what the notebook page shows. */
export async function cullWarnings(db: Database, userId: string) {
  const rows = await warningsOfOwner(db, userId);
  return rows.map((r) => ({
    kernelId: r.warning.kernelId,
    kernelspec: r.kernelspec,
    kind: r.warning.kind,
    message: r.warning.message,
    warnedAt: r.warning.warnedAt,
    deadline: r.warning.deadline,
    /** Only idle warnings can be answered with "keep running". */
    canKeepAlive: r.warning.kind === "idle",
  }));
}

/**
 * "Keep running": counts as activity now, so the idle timeout starts again, and removes the idle warning. It
 * does not move a lifetime or budget deadline: those are the team's policy, not idleness.
 */
export async function keepAlive(db: Database, userId: string, kernelId: string, now = new Date()) {
  const kernel = await findKernel(db, { id: kernelId, ownerId: userId });
  if (!kernel || kernel.state === "dead") throw new AppError("NOT_FOUND", `Kernel ${kernelId} is not running.`);
  const policy = effectiveCullPolicy(kernel.teamId ? ((await findTeamCullPolicy(db, kernel.teamId)) ?? null) : null, await loadCullBounds(db));
  const until = keepAliveUntil(policy, kernel.startedAt ?? kernel.createdAt, now);
  await touchKernelActivity(db, kernelId, until.activityAt);
  await deleteWarning(db, { kernelId, ownerId: userId, kinds: ["idle"] });
  return { kernelId, idleDeadline: until.idleDeadline, cappedByLifetime: until.capped };
}

/** An admin's stop request for a kernel any replica holds: the next sweep stops it. */
export async function requestStop(db: Database, actor: Actor, kernelId: string) {
  const kernel = await findKernel(db, { id: kernelId });
  if (!kernel || kernel.state === "dead") throw new AppError("NOT_FOUND", `Kernel ${kernelId} is not running.`);
  const now = new Date();
  await upsertWarning(db, { kernelId, ownerId: kernel.ownerId, kind: "admin", message: `stopped by an admin (${actor.label})`, deadline: now, warnedAt: now });
  await auditKernelStop(db, actor, kernel);
  return kernel;
}

/** Records who stopped whose kernel; the owner by email, as the audit log reads (and is searched). */
export async function auditKernelStop(db: Database, actor: Actor, kernel: KernelRow) {
  const owner = await findUserById(db, kernel.ownerId);
  await appendAudit(db, { actorId: actor.id, actorLabel: actor.label, action: "kernel.stop", targetType: "kernel", targetId: kernel.id, details: { owner: owner?.email ?? kernel.ownerId } });
}

export async function teamCullPolicy(db: Database, scope: LeadScope, teamId: string) {
  if (!scope.isAdmin && !scope.ledTeamIds.includes(teamId)) throw new AppError("NOT_FOUND", `Team ${teamId} was not found among the teams you lead.`);
  const stored = (await findTeamCullPolicy(db, teamId)) ?? null;
  const bounds = await loadCullBounds(db);
  return { stored, effective: effectiveCullPolicy(stored, bounds), bounds };
}

export async function setTeamCullPolicy(db: Database, actor: Actor, scope: LeadScope, teamId: string, policy: StoredCullPolicy) {
  if (!scope.isAdmin && !scope.ledTeamIds.includes(teamId)) throw new AppError("NOT_FOUND", `Team ${teamId} was not found among the teams you lead.`);
  const problems = policyViolations(policy, await loadCullBounds(db));
  if (problems.length) throw new AppError("BAD_REQUEST", `The culling policy was not saved: ${problems.join("; ")}.`, { problems });
  const team = await findTeamById(db, teamId);
  if (!team) throw new AppError("NOT_FOUND", `Team ${teamId} was not found: reload the page.`);
  await upsertTeamCullPolicy(db, { teamId, ...policy });
  await appendAudit(db, { actorId: actor.id, actorLabel: actor.label, action: "cull.policy.set", targetType: "team", targetId: teamId, details: { team: team.name, ...policy } });
}
