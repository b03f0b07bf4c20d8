DROP INDEX "user_identities_user_idx";--> statement-breakpoint
CREATE UNIQUE INDEX "user_identities_user_issuer_key" ON "user_identities" USING btree ("user_id","issuer");