import type { NextConfig } from "next";

const config: NextConfig = {
  // Native and database modules stay outside the bundle: they are loaded once by Node, not per route.
  serverExternalPackages: ["zeromq", "@electric-sql/pglite", "@node-rs/argon2", "postgres"],
  poweredByHeader: false,
  reactStrictMode: true,
  // `npm test` typechecks the whole project once (tsc --noEmit); the build need not do it again.
  typescript: { ignoreBuildErrors: true },
  // forbidden(): admin pages answer 403 to everyone else.
  experimental: { authInterrupts: true },
};

export default config;
