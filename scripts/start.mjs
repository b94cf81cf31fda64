#!/usr/bin/env node
/**
 * Local quick start: applies the D1 migrations to the local database, then runs the gateway with `wrangler dev`
 * on embedded defaults — local D1, KV and Durable Objects under .wrangler/state, and a default `vllm` provider
 * pointing at VLLM_URL (default http://localhost:8000).
 *
 *   PORT=8080 VLLM_URL=http://localhost:8000 ADMIN_TOKEN=… npm start
 *
 * Without ADMIN_TOKEN the admin API answers requests addressed to localhost only (LOCAL_ADMIN_WITHOUT_TOKEN).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const port = process.env.PORT ?? "8080";
const vllmUrl = process.env.VLLM_URL ?? "http://localhost:8000";

const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local"], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" }, // no prompts
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

// Keyless requests are allowed locally unless REQUIRE_VIRTUAL_KEY=true is set.
const vars = [`DEFAULT_VLLM_URL:${vllmUrl}`, `REQUIRE_VIRTUAL_KEY:${process.env.REQUIRE_VIRTUAL_KEY ?? "false"}`];
// Ephemeral tokens need a signing secret; a fresh one per start means tokens end with the process.
vars.push(`EPHEMERAL_TOKEN_SECRET:${process.env.EPHEMERAL_TOKEN_SECRET ?? randomBytes(32).toString("hex")}`);
if (process.env.ADMIN_TOKEN) vars.push(`ADMIN_TOKEN:${process.env.ADMIN_TOKEN}`);
else vars.push("LOCAL_ADMIN_WITHOUT_TOKEN:true");

console.log(`\nvLLM edge gateway: http://localhost:${port}  (OpenAI API at /v1, admin API at /api, default vLLM origin ${vllmUrl})\n`);
const dev = spawn(wrangler, ["dev", "--port", port, "--ip", "127.0.0.1", ...vars.flatMap((v) => ["--var", v])], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
