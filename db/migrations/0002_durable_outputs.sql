CREATE TYPE "public"."cell_run_status" AS ENUM('running', 'ok', 'error', 'aborted');--> statement-breakpoint
CREATE TABLE "cell_runs" (
	"msg_id" text PRIMARY KEY NOT NULL,
	"kernel_id" uuid NOT NULL,
	"owner_id" uuid NOT NULL,
	"notebook_path" text,
	"cell_id" text,
	"code" text DEFAULT '' NOT NULL,
	"status" "cell_run_status" DEFAULT 'running' NOT NULL,
	"execution_count" integer,
	"outputs" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"spilled_bytes" bigint DEFAULT 0 NOT NULL,
	"clipped" boolean DEFAULT false NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notebook_kernels" (
	"owner_id" uuid NOT NULL,
	"path" text NOT NULL,
	"kernel_id" uuid NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "notebook_kernels_owner_id_path_pk" PRIMARY KEY("owner_id","path")
);
--> statement-breakpoint
ALTER TABLE "cell_runs" ADD CONSTRAINT "cell_runs_kernel_id_kernels_id_fk" FOREIGN KEY ("kernel_id") REFERENCES "public"."kernels"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cell_runs" ADD CONSTRAINT "cell_runs_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notebook_kernels" ADD CONSTRAINT "notebook_kernels_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notebook_kernels" ADD CONSTRAINT "notebook_kernels_kernel_id_kernels_id_fk" FOREIGN KEY ("kernel_id") REFERENCES "public"."kernels"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "cell_runs_notebook_idx" ON "cell_runs" USING btree ("owner_id","notebook_path","cell_id","started_at");--> statement-breakpoint
CREATE INDEX "cell_runs_kernel_idx" ON "cell_runs" USING btree ("kernel_id");