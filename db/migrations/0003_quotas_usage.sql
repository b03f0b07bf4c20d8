CREATE TYPE "public"."over_budget_action" AS ENUM('keep', 'stop');--> statement-breakpoint
CREATE TYPE "public"."kernel_warning_kind" AS ENUM('idle', 'lifetime', 'budget', 'admin');--> statement-breakpoint
CREATE TABLE "cull_bounds" (
	"id" smallint PRIMARY KEY DEFAULT 1 NOT NULL,
	"bounds" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "team_cull_policies" (
	"team_id" uuid PRIMARY KEY NOT NULL,
	"idle_timeout_minutes" integer,
	"cull_busy" boolean,
	"cull_connected" boolean,
	"max_lifetime_hours" integer,
	"warning_minutes" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "team_quotas" (
	"team_id" uuid PRIMARY KEY NOT NULL,
	"max_kernels" integer,
	"max_vcores" double precision,
	"max_memory_mb" integer,
	"max_gpus" integer,
	"monthly_vcore_hours" double precision,
	"over_budget_action" "over_budget_action" DEFAULT 'keep' NOT NULL,
	"over_budget_grace_minutes" integer DEFAULT 30 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_quotas" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"max_kernels" integer,
	"max_vcores" double precision,
	"max_memory_mb" integer,
	"max_gpus" integer,
	"monthly_vcore_hours" double precision,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kernel_sessions" (
	"kernel_id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"team_id" uuid,
	"kernelspec" text NOT NULL,
	"engine" text NOT NULL,
	"engine_id" text,
	"size_profile" text NOT NULL,
	"vcores" double precision NOT NULL,
	"memory_mb" integer NOT NULL,
	"gpus" integer NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"end_reason" "kernel_end_reason",
	"end_detail" text,
	"busy_ms" bigint DEFAULT 0 NOT NULL,
	"busy_since" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "kernel_warnings" (
	"kernel_id" uuid NOT NULL,
	"owner_id" uuid NOT NULL,
	"kind" "kernel_warning_kind" NOT NULL,
	"message" text NOT NULL,
	"warned_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deadline" timestamp with time zone,
	"claimed_at" timestamp with time zone,
	CONSTRAINT "kernel_warnings_kernel_id_kind_pk" PRIMARY KEY("kernel_id","kind")
);
--> statement-breakpoint
ALTER TABLE "team_cull_policies" ADD CONSTRAINT "team_cull_policies_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "team_quotas" ADD CONSTRAINT "team_quotas_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_quotas" ADD CONSTRAINT "user_quotas_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "kernel_sessions_started_idx" ON "kernel_sessions" USING btree ("started_at");--> statement-breakpoint
CREATE INDEX "kernel_sessions_user_idx" ON "kernel_sessions" USING btree ("user_id","started_at");--> statement-breakpoint
CREATE INDEX "kernel_warnings_owner_idx" ON "kernel_warnings" USING btree ("owner_id");