#!/usr/bin/env node
// `npx atrium <command>`: loads the TypeScript CLI through tsx, in this same process (signals reach it).
import { register } from "tsx/esm/api";

process.env.NEXT_TELEMETRY_DISABLED ??= "1";
register();
const { main } = await import("./main.ts");
process.exitCode = await main(process.argv.slice(2));
