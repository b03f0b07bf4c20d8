// People who left: an Atrium user linked to a directory entry (LDAP) keeps a signed-in session and personal tokens
// after the entry is deleted, locked out of the user filter or moved out of the user base. Every interval, the
// directory is asked which linked entries it still has; the users whose entries are gone are disabled (sessions and
// tokens stop working at once: both re-read the user), and the audit log says why.
//
// Nothing is concluded from a directory that does not answer, and a check that would disable more than a few
// people at once (a changed base, filter or service account, more likely than a wave of leavers) disables no one
// and says so in the log. Admins are never disabled this way: they sign in with their own password. To keep an
// account without its entry: `npx atrium users unlink EMAIL`, then enable it.
import type { Database } from "@/db";
import { activeUsersLinkedTo } from "@/db/queries/users";
import { log } from "@/server/log";
import { setDisabled } from "@/server/identity/users";
import { Periodic } from "@/server/periodic";

export const LEFT_THE_DIRECTORY = "no longer in the directory (entry deleted, or outside the user base or filter)";

/** At most this many, or this share of the linked users if more, are disabled by one check. */
export const MASS_LEAVING = { count: 3, share: 0.1 } as const;

export type LeaverVerdict = { act: true } | { act: false; why: string };

/** Whether to disable the users whose entries are gone (the policy, pure). */
export function judgeLeavers(linked: number, gone: number): LeaverVerdict {
  const limit = Math.max(MASS_LEAVING.count, Math.floor(linked * MASS_LEAVING.share));
  if (gone <= limit) return { act: true };
  return {
    act: false,
    why:
      `${gone} of the ${linked} users linked to the directory are no longer found in it, more than the ${limit} one check ` +
      "disables: check ATRIUM_LDAP_USER_BASE, ATRIUM_LDAP_USER_FILTER and the bind account. No one was disabled; " +
      "disable those who left in Admin → Users.",
  };
}

export interface LeaverCheckOptions {
  db: Database;
  /** The directory's URL (its issuer in user_identities). */
  issuer: string;
  /** The subjects of those the directory still has (throws when it cannot say). */
  entriesStillThere(subjects: readonly string[]): Promise<Set<string>>;
  intervalMs: number;
}

export interface LeaverCheckReport {
  linked: number;
  disabled: string[];
  /** Set when no one was disabled for a reason: the directory did not answer, or too many at once. */
  skipped?: string;
}

export class DirectoryLeaverCheck {
  private readonly loop: Periodic<LeaverCheckReport>;

  constructor(private readonly options: LeaverCheckOptions) {
    this.loop = new Periodic("directory leaver check", options.intervalMs, () => this.check());
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  runOnce(): Promise<LeaverCheckReport> {
    return this.loop.runOnce();
  }

  private async check(): Promise<LeaverCheckReport> {
    const { db, issuer } = this.options;
    const linked = await activeUsersLinkedTo(db, issuer);
    if (linked.length === 0) return { linked: 0, disabled: [] };
    let present: Set<string>;
    try {
      present = await this.options.entriesStillThere(linked.map((user) => user.subject));
    } catch (error) {
      const skipped = `the directory ${issuer} could not be asked who is still in it: ${(error as Error).message}`;
      log.warn(`directory leaver check: ${skipped}; no one was disabled (tried again next interval)`);
      return { linked: linked.length, disabled: [], skipped };
    }
    const gone = linked.filter((user) => !present.has(user.subject));
    const verdict = judgeLeavers(linked.length, gone.length);
    if (!verdict.act) {
      log.error(`directory leaver check: ${verdict.why}`);
      return { linked: linked.length, disabled: [], skipped: verdict.why };
    }
    const disabled: string[] = [];
    for (const user of gone) {
      // A user linked since the list was read, or enabled by an admin meanwhile, is disabled anyway: the entry is gone.
      await setDisabled(db, { id: null, label: `ldap ${issuer}` }, user.userId, true, LEFT_THE_DIRECTORY);
      log.info(`directory leaver check: disabled ${user.email}, ${LEFT_THE_DIRECTORY}`);
      disabled.push(user.email);
    }
    return { linked: linked.length, disabled };
  }
}
