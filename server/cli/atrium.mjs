#!/usr/bin/env node
// `npx atrium <command>`: loads the TypeScript CLI through tsx, in this same process (signals reach it).
import { register } from "tsx/esm/api";

process.env.NEXT_TELEMETRY_DISABLED ??= "1";
register();
const { main } = await import("./main.ts");
const code = await main(process.argv.slice(2));
// A stopped server is done even if a dependency left a handle open (next dev's file watchers do).
if (process.argv[2] === "start") process.exit(code);
process.exitCode = code;
