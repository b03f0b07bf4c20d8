CREATE SEQUENCE "public"."users_posix_uid_seq" INCREMENT BY 1 MINVALUE 1000 MAXVALUE 2147483647 START WITH 100000 CACHE 1;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "posix_uid" integer DEFAULT nextval('users_posix_uid_seq') NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "posix_gid" integer;--> statement-breakpoint
CREATE UNIQUE INDEX "users_posix_uid_key" ON "users" USING btree ("posix_uid");--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_posix_uid_range" CHECK ("users"."posix_uid" >= 1000);--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_posix_gid_range" CHECK ("users"."posix_gid" IS NULL OR "users"."posix_gid" >= 1000);