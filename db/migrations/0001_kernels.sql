CREATE TYPE "public"."kernel_end_reason" AS ENUM('stopped', 'culled', 'died', 'quota', 'launch_failed');--> statement-breakpoint
CREATE TYPE "public"."kernel_state" AS ENUM('starting', 'idle', 'busy', 'restarting', 'dead');--> statement-breakpoint
CREATE TABLE "kernels" (
	"id" uuid PRIMARY KEY NOT NULL,
	"owner_id" uuid NOT NULL,
	"team_id" uuid,
	"kernelspec" text NOT NULL,
	"launcher" text NOT NULL,
	"engine_id" text,
	"size_profile" text,
	"state" "kernel_state" DEFAULT 'starting' NOT NULL,
	"state_detail" text,
	"sealed_launch_state" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"last_activity_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"end_reason" "kernel_end_reason"
);
--> statement-breakpoint
ALTER TABLE "kernels" ADD CONSTRAINT "kernels_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "kernels" ADD CONSTRAINT "kernels_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "kernels_owner_idx" ON "kernels" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "kernels_state_idx" ON "kernels" USING btree ("state");