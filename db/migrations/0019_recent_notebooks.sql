CREATE TABLE "recent_notebooks" (
	"owner_id" uuid NOT NULL,
	"path" text NOT NULL,
	"opened_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "recent_notebooks_owner_id_path_pk" PRIMARY KEY("owner_id","path")
);
--> statement-breakpoint
ALTER TABLE "recent_notebooks" ADD CONSTRAINT "recent_notebooks_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "recent_notebooks_owner_opened_idx" ON "recent_notebooks" USING btree ("owner_id","opened_at");