// The CLI's database commands, written once against a Database so they run the same way in the CLI process
// (Postgres, or PGlite when no portal is running) and inside a running portal (PGlite, via the control socket).
import crypto from "node:crypto";
import type { Database } from "@/db";
import { checkInstallation, keepInstallationId, renewInstallationId } from "@/db/queries/installation";
import { COPIED_DATABASE } from "@/server/kernels/orphan-sweeper";
import { CLUSTER_LAUNCHERS } from "@/server/kernels/launchers/base";
import { listUsers } from "@/db/queries/users";
import { listApiTokens } from "@/db/queries/tokens";
import { tokenExpiryDays, tokenNameProblem } from "@/server/auth/token-rules";
import { createApiToken, revokeToken } from "@/server/auth/tokens";
import { AppError, isAppError } from "@/server/errors";
import { cliActor } from "@/server/identity/actor";
import { setPosixIds } from "@/server/identity/posix-ids";
import { changeRole, createTeam, createUser, requireTeam, requireUser, resetPassword, setMembership, setTeamQueue, unlinkIdentities } from "@/server/identity/users";
import { quotaCommand, kernelsListCommand, kernelsKillCommand, QUOTA_SET_FLAGS } from "@/server/quota/cli";

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class UsageError extends Error {}

export const USAGE = `Usage: npx atrium <command>

  start [--dev]                                   serve the portal (PORT, default 3000)
  build                                           build the web app if its sources changed
  migrate                                         apply database migrations
  users add EMAIL [--name NAME] [--role analyst|admin] [--username NAME] [--password PW | --password-stdin]
  users list
  users set-role EMAIL analyst|admin
  users set-password EMAIL (--password PW | --password-stdin)
  users set-posix EMAIL UID [GID]   the uid/gid the user's Kubernetes pods run as (never root)
  users unlink EMAIL [--issuer URL]   end the user's links to OpenID provider or directory accounts
  teams add NAME [--description TEXT]
  teams add-member TEAM EMAIL [--lead]
  teams set-queue TEAM QUEUE|default              the YARN queue of the team's kernels
  tokens create --user EMAIL [--name NAME] [--expires-days N]
  tokens list --user EMAIL                        the user's tokens (never the secrets)
  tokens revoke --user EMAIL ID                   revoke one (its open kernel WebSockets close too)
  quota set (--user EMAIL | --team NAME) [--max-kernels N] [--max-vcores N] [--max-memory-gb N] [--max-gpus N]
            [--monthly-vcore-hours N] [--over-budget keep|stop] [--grace-minutes N]   (N or "default")
  kernels list                                    live kernels of every user
  kernels kill ID                                 stop a kernel (the portal's culler stops it within a minute)
  installation show                               this installation's id (what its cluster engines are tagged with)
  installation new-id [--physical-copy]           a copied database: give it its own id (then restart the portal)
  installation keep-id                            a moved database (restore, upgrade): keep the id (then restart)

Configuration comes from the environment (see README): DATABASE_URL, ATRIUM_DATA_DIR, ...`;

/** What a command takes: its options with a value, its on/off options, and at most how many plain words. */
export interface CommandOptions {
  values?: readonly string[];
  booleans?: readonly string[];
  positional: number;
}

/**
 * Every database command's options. An option not listed is refused, never ignored: a mistyped `--rol admin` on
 * `users add` made an analyst with a random password, and said nothing (QA).
 */
export const COMMAND_OPTIONS: Record<string, CommandOptions> = {
  "users add": { values: ["name", "role", "username", "password"], booleans: ["password-stdin"], positional: 1 },
  "users list": { positional: 0 },
  "users set-role": { positional: 2 },
  "users set-password": { values: ["password"], booleans: ["password-stdin"], positional: 1 },
  "users set-posix": { positional: 3 },
  "users unlink": { values: ["issuer"], positional: 1 },
  "teams add": { values: ["description"], positional: 1 },
  "teams add-member": { booleans: ["lead"], positional: 2 },
  "teams set-queue": { positional: 2 },
  "tokens create": { values: ["user", "name", "expires-days"], positional: 0 },
  "tokens list": { values: ["user"], positional: 0 },
  "tokens revoke": { values: ["user"], positional: 1 },
  "quota set": { values: ["user", "team", ...Object.keys(QUOTA_SET_FLAGS), "over-budget", "grace-minutes"], positional: 0 },
  "kernels list": { positional: 0 },
  "kernels kill": { positional: 1 },
  "installation show": { positional: 0 },
  "installation new-id": { booleans: ["physical-copy"], positional: 0 },
  "installation keep-id": { positional: 0 },
};

/** Parses one command's words: `--option value`, `--option=value`, on/off `--option`, plain words; refuses the rest. */
export function parseArgs(argv: string[], command: string, options: CommandOptions) {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  const values = options.values ?? [];
  const booleans = options.booleans ?? [];
  const known = () => {
    const all = [...values, ...booleans].map((o) => `--${o}`);
    return all.length ? `Its options: ${all.join(", ")}.` : "It takes no options.";
  };
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (!word.startsWith("--")) {
      positional.push(word);
      if (positional.length > options.positional) throw new UsageError(`Unexpected "${word}" after \`${command}\`${positional.length > 1 ? ` ${positional.slice(0, -1).join(" ")}` : ""}.`);
      continue;
    }
    const [name, inline] = word.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (!values.includes(name) && !booleans.includes(name)) throw new UsageError(`Unknown option --${name} for \`${command}\`. ${known()}`);
    if (booleans.includes(name)) {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value.`);
      flags.set(name, true);
    } else if (inline !== undefined) flags.set(name, inline);
    else {
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value.`);
      flags.set(name, value);
    }
  }
  const str = (name: string) => {
    const v = flags.get(name);
    return typeof v === "string" ? v : undefined;
  };
  return { positional, flags, str };
}

/** Runs a database command. `stdinText` is what `--password-stdin` reads. */
export async function runDbCommand(db: Database, argv: string[], stdinText?: string): Promise<CommandResult> {
  try {
    const stdout = await dispatch(db, argv, stdinText);
    return { exitCode: 0, stdout, stderr: "" };
  } catch (error) {
    if (error instanceof UsageError) return { exitCode: 2, stdout: "", stderr: `${error.message}\n\n${USAGE}\n` };
    if (isAppError(error)) return { exitCode: 1, stdout: "", stderr: `Error: ${error.message}\n` };
    throw error;
  }
}

async function dispatch(db: Database, argv: string[], stdinText?: string): Promise<string> {
  const [group, action, ...rest] = argv;
  const key = `${group ?? ""} ${action ?? ""}`;
  const options = COMMAND_OPTIONS[key];
  if (!options) throw new UsageError(group ? `Unknown command "${[group, action].filter(Boolean).join(" ")}".` : "No command given.");
  const args = parseArgs(rest, key, options);
  const password = () => {
    if (args.flags.get("password-stdin")) {
      const text = (stdinText ?? "").replace(/\r?\n$/, "");
      if (!text) throw new UsageError("--password-stdin: nothing was read from standard input.");
      return text;
    }
    return args.str("password");
  };
  const need = (index: number, what: string) => {
    const value = args.positional[index];
    if (!value) throw new UsageError(`Missing ${what}.`);
    return value;
  };

  switch (key) {
    case "users add": {
      const given = password();
      const generated = given === undefined ? crypto.randomBytes(12).toString("base64url") : undefined;
      const role = args.str("role") ?? "analyst";
      if (role !== "analyst" && role !== "admin") throw new UsageError(`--role must be analyst or admin, not "${role}".`);
      const user = await createUser(db, cliActor, {
        email: need(0, "EMAIL"),
        name: args.str("name"),
        username: args.str("username"),
        role,
        password: given ?? generated,
      });
      return (
        `Created ${user.role} ${user.email} (username ${user.username}).\n` +
        (generated ? `Password: ${generated}\n(shown once; change it with \`npx atrium users set-password ${user.email}\`)\n` : "")
      );
    }
    case "users list": {
      const rows = await listUsers(db);
      // UID/GID last: scripts reading the first five columns keep working.
      const lines = rows.map((u) =>
        [
          u.email,
          u.username,
          u.role,
          u.disabled ? "disabled" : "active",
          u.teams.map((t) => (t.role === "lead" ? `${t.name}(lead)` : t.name)).join(",") || "-",
          u.posixUid,
          u.posixGid ?? u.posixUid,
        ].join("\t"),
      );
      return ["EMAIL\tUSERNAME\tROLE\tSTATUS\tTEAMS\tUID\tGID", ...lines].join("\n") + "\n";
    }
    case "users set-role": {
      const user = await requireUser(db, need(0, "EMAIL"));
      const role = need(1, "ROLE (analyst or admin)");
      if (role !== "analyst" && role !== "admin") {
        throw new UsageError(`ROLE must be analyst or admin, not "${role}". Team leads are set per team: teams add-member TEAM EMAIL --lead.`);
      }
      await changeRole(db, cliActor, user.id, role);
      return `${user.email} is now ${role}.\n`;
    }
    case "users set-password": {
      const user = await requireUser(db, need(0, "EMAIL"));
      const given = password();
      if (given === undefined) throw new UsageError("Give the new password with --password PW or --password-stdin.");
      await resetPassword(db, cliActor, user.id, given);
      return `Password of ${user.email} changed.\n`;
    }
    case "users set-posix": {
      const parseId = (text: string | undefined, what: string) => {
        if (text === undefined) return null;
        if (!/^\d{1,10}$/.test(text)) throw new UsageError(`${what} must be a number, not "${text}".`);
        return Number(text);
      };
      const uid = parseId(need(1, "UID"), "UID")!;
      const gid = parseId(args.positional[2], "GID");
      const user = await setPosixIds(db, cliActor, { user: need(0, "EMAIL"), uid, gid });
      return (
        `${user.email} now runs as uid ${uid}, gid ${gid ?? uid}.\n` +
        "Files already on the user's home volume keep their old owner: change them from a pod that mounts it if needed.\n"
      );
    }
    case "users unlink": {
      const email = need(0, "EMAIL");
      const count = await unlinkIdentities(db, cliActor, { user: email, issuer: args.str("issuer") });
      return count === 0 ? `${email} had no links to accounts elsewhere.\n` : `${email}: ${count} link${count === 1 ? "" : "s"} ended; the next sign-in through a provider or directory links again.\n`;
    }
    case "teams add": {
      const team = await createTeam(db, cliActor, { name: need(0, "NAME"), description: args.str("description") });
      return `Created team ${team.name}.\n`;
    }
    case "teams set-queue": {
      const team = await requireTeam(db, need(0, "TEAM"));
      const queue = need(1, "QUEUE (or 'default')");
      await setTeamQueue(db, cliActor, { teamId: team.id, queue: queue === "default" ? null : queue });
      return queue === "default" ? `${team.name} uses the default YARN queue.\n` : `${team.name}'s kernels go to the YARN queue ${queue}.\n`;
    }
    case "teams add-member": {
      const team = await requireTeam(db, need(0, "TEAM"));
      const user = await requireUser(db, need(1, "EMAIL"));
      const role = args.flags.get("lead") ? "lead" : "member";
      await setMembership(db, cliActor, { teamId: team.id, userId: user.id, role });
      return `${user.email} is a ${role === "lead" ? "team lead" : "member"} of ${team.name}.\n`;
    }
    case "tokens create": {
      const email = args.str("user");
      if (!email) throw new UsageError("tokens create needs --user EMAIL.");
      const user = await requireUser(db, email);
      const expiry = tokenExpiryDays(args.str("expires-days") ?? "");
      if (expiry.problem !== undefined) throw new UsageError(`--expires-days: ${expiry.problem.replace("leave it empty", "leave --expires-days out")}`);
      const name = args.str("name") ?? "cli";
      const nameProblem = tokenNameProblem(name);
      if (nameProblem) throw new UsageError(`--name: ${nameProblem}`);
      const { token } = await createApiToken(db, cliActor, {
        userId: user.id,
        name: name.trim(),
        expiresAt: expiry.days ? new Date(Date.now() + expiry.days * 86_400_000) : null,
      });
      return `${token}\n`;
    }
    case "tokens list": {
      const email = args.str("user");
      if (!email) throw new UsageError("tokens list needs --user EMAIL.");
      const user = await requireUser(db, email);
      const rows = await listApiTokens(db, user.id);
      if (rows.length === 0) return `${user.email} has no API tokens.\n`;
      const day = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : "-");
      return rows
        .map((t) => `${t.id}  ${t.prefix}…  ${t.revoked ? "revoked" : t.expiresAt && t.expiresAt.getTime() <= Date.now() ? "expired" : "active"}  created ${day(t.createdAt)}  last used ${day(t.lastUsedAt)}  expires ${day(t.expiresAt)}  ${t.name}`)
        .join("\n") + "\n";
    }
    case "tokens revoke": {
      const email = args.str("user");
      if (!email) throw new UsageError("tokens revoke needs --user EMAIL and the token's ID (tokens list shows it).");
      const user = await requireUser(db, email);
      const tokenId = need(0, "token ID");
      if (!(await revokeToken(db, cliActor, { userId: user.id, tokenId }))) throw new AppError("NOT_FOUND", `${user.email} has no token ${tokenId}.`);
      return `Revoked token ${tokenId} of ${user.email}.\n`;
    }
    case "quota set":
      return quotaCommand(db, args.str, QUOTA_SET_FLAGS, (message) => new UsageError(message));
    case "kernels list":
      return kernelsListCommand(db);
    case "kernels kill":
      return kernelsKillCommand(db, need(0, "kernel ID"));
    case "installation show": {
      const { id, sameDatabase, unreadable } = await checkInstallation(db);
      if (unreadable) return `${id}\nThis database's identity cannot be read (${unreadable}), so whether it is a copy is unknown.\n`;
      return sameDatabase ? `${id}\n` : `${id}\n${COPIED_DATABASE}`;
    }
    case "installation new-id": {
      const { id, sameDatabase } = await checkInstallation(db);
      // A physical copy looks like the original: only its admin can say which it is.
      if (sameDatabase && !args.flags.get("physical-copy")) {
        throw new UsageError(
          `This database is the one installation ${id} was made in, so it is the original or a physical copy of it (a base ` +
            `backup, a point-in-time restore, a volume snapshot). On the original, a new id would leave its running YARN and ` +
            `Kubernetes kernels to no one. On a physical copy, run: npx atrium installation new-id --physical-copy`,
        );
      }
      const { id: after, previousId: before, kernelsEnded } = await renewInstallationId(db, CLUSTER_LAUNCHERS);
      return (
        `This installation's id is now ${after} (was ${before}).\n` +
        (kernelsEnded
          ? `YARN and Kubernetes kernels this database said were running: ${kernelsEnded}. They are the original installation's: ended here, left running there.\n`
          : "") +
        `Restart the portal (every replica) for new kernels to carry it. Engines tagged with the old id are no longer\n` +
        `this installation's: the orphan sweep leaves them alone, as it does another installation's.\n`
      );
    }
    case "installation keep-id": {
      const id = await keepInstallationId(db);
      return `This database keeps the installation id ${id}; restart the portal for its orphan sweep to run again.\n`;
    }
    default:
      throw new UsageError(`Unknown command "${key.trim()}".`); // listed in COMMAND_OPTIONS but not handled here
  }
}
