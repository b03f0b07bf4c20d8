// Who people are and what they may do: users, teams, memberships and personal API tokens.
import { sql } from "drizzle-orm";
import { boolean, check, index, integer, pgEnum, pgSequence, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

/** Global role. Team leadership is per team, on the membership. */
export const userRole = pgEnum("user_role", ["analyst", "admin"]);
export const membershipRole = pgEnum("membership_role", ["member", "lead"]);

/**
 * POSIX ids for the identity kernels and home folders run as on Kubernetes (the pod's runAsUser/runAsGroup and
 * the owner of the files on the user's PVC). Handed out in creation order from a sequence, so every user has
 * one that is unique and never reused; the first id is 100000 (above the ranges images and hosts use), and
 * ATRIUM_POSIX_ID_BASE can move the next one higher at boot (see identity/posix-ids.ts). An admin may set
 * a user's ids explicitly (`npx atrium users set-posix`), e.g. to match LDAP.
 */
export const userPosixIds = pgSequence("users_posix_uid_seq", { startWith: 100000, minValue: 1000, maxValue: 2147483647 });

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** Always stored lower-case; the sign-in name. */
    email: text("email").notNull(),
    /** The identity kernels and home folders run as (YARN proxy user, HDFS owner, pod labels). */
    username: text("username").notNull(),
    name: text("name").notNull(),
    /** Argon2id hash; null for accounts that sign in through an external provider only. */
    passwordHash: text("password_hash"),
    role: userRole("role").notNull().default("analyst"),
    disabledAt: timestamp("disabled_at", { withTimezone: true }),
    /**
     * When the user's sessions were last all ended (password reset or change, disabling, sign out everywhere): a
     * sign-in whose password or account was checked before then gets no session (it raced the ending).
     */
    sessionsValidFrom: timestamp("sessions_valid_from", { withTimezone: true }),
    lastSignInAt: timestamp("last_sign_in_at", { withTimezone: true }),
    /** The user's POSIX uid (pods run as it; never 0). */
    posixUid: integer("posix_uid").notNull().default(sql`nextval('users_posix_uid_seq')`),
    /** The user's primary POSIX gid; null means a private group with the uid's number. */
    posixGid: integer("posix_gid"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("users_email_key").on(t.email),
    uniqueIndex("users_username_key").on(t.username),
    uniqueIndex("users_posix_uid_key").on(t.posixUid),
    // Root (and the system range below 1000) is never a user's identity: a pod as root could read every home.
    check("users_posix_uid_range", sql`${t.posixUid} >= 1000`),
    check("users_posix_gid_range", sql`${t.posixGid} IS NULL OR ${t.posixGid} >= 1000`),
  ],
);

/**
 * An account at an external identity provider (OpenID Connect) that signs in as an Atrium user: the provider's
 * issuer and its stable subject id, never the email (which a provider may let people change).
 */
export const userIdentities = pgTable(
  "user_identities",
  {
    issuer: text("issuer").notNull(),
    subject: text("subject").notNull(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  // One account per user at each issuer: two first sign-ins racing with different accounts cannot both link.
  (t) => [primaryKey({ columns: [t.issuer, t.subject] }), uniqueIndex("user_identities_user_issuer_key").on(t.userId, t.issuer)],
);

export const teams = pgTable(
  "teams",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    /** Where the team's YARN applications go; null means the engine's default queue. */
    yarnQueue: text("yarn_queue"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("teams_name_key").on(sql`lower(${t.name})`)],
);

export const memberships = pgTable(
  "memberships",
  {
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    role: membershipRole("role").notNull().default("member"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.teamId] }), index("memberships_team_idx").on(t.teamId)],
);

/** Personal API tokens. Only a SHA-256 of the token is stored; the token itself is shown once. */
export const apiTokens = pgTable(
  "api_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    tokenHash: text("token_hash").notNull(),
    /** The first characters, so a user can tell tokens apart without the secret. */
    prefix: text("prefix").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    revoked: boolean("revoked").notNull().default(false),
  },
  (t) => [uniqueIndex("api_tokens_hash_key").on(t.tokenHash), index("api_tokens_user_idx").on(t.userId)],
);

/**
 * Signed-in browser sessions. The session cookie (an encrypted JWT) names its row; a request is let in only while
 * the row is not ended, so signing out, a password change or an admin can end a session everywhere at once,
 * including a copy of the cookie.
 */
export const userSessions = pgTable(
  "user_sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** How the session was signed in: "password", "ldap" or "oidc". */
    method: text("method").notNull(),
    /** Where and with what it was signed in (the browser's User-Agent, the client address): for the sessions list. */
    userAgent: text("user_agent"),
    address: text("address"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** To the minute: written at most once a minute per session. */
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull().defaultNow(),
    /** When the cookie itself expires; rows past it are deleted by the session sweep. */
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    /** Why it ended, for the sessions list: "signed out", "password changed", "ended by an admin"... */
    endedReason: text("ended_reason"),
    /**
     * The OpenID provider's session it was signed in with (the ID token's `sid`, when the provider sends one): a
     * back-channel logout naming that session ends this one (server/auth/backchannel-logout.ts).
     */
    providerSession: text("provider_session"),
  },
  (t) => [index("user_sessions_user_idx").on(t.userId)],
);
