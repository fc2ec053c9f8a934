#!/usr/bin/env node
/**
 * `npm run align-sandbox`: the Align sandbox emulator on loopback.
 * ALIGN_SANDBOX_PORT (default 3001), ALIGN_SANDBOX_KEY (default `sandbox-key`).
 */
import { startAlignSandbox } from "./server.js";

const port = Number(process.env.ALIGN_SANDBOX_PORT ?? 3001);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`ALIGN_SANDBOX_PORT must be a port number, got "${process.env.ALIGN_SANDBOX_PORT}"`);
  process.exit(1);
}
const apiKey = process.env.ALIGN_SANDBOX_KEY || "sandbox-key";

try {
  const sandbox = await startAlignSandbox({
    apiKey,
    port,
    log: (entry) => console.log(JSON.stringify({ source: "align-sandbox", ...entry })),
  });
  console.log(`Align sandbox emulator listening on ${sandbox.url} (API key from ALIGN_SANDBOX_KEY)`);
  console.log(`  admin: ${sandbox.url}/_emulator/state, /_emulator/faults, /_emulator/reset`);
  const stop = (signal: string) => {
    console.log(`${signal} received, stopping`);
    sandbox.close().then(() => process.exit(0));
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
} catch (error) {
  const code = (error as { code?: string }).code;
  console.error(
    code === "EADDRINUSE"
      ? `Port ${port} is in use: set ALIGN_SANDBOX_PORT to a free port`
      : `Could not start: ${String(error)}`,
  );
  process.exit(1);
}
