#!/usr/bin/env node
/**
 * `npm run bench:cold-start [bundle.js ...]`: what a fresh isolate pays before it answers its first request — the
 * bundle's parse, compile and top-level evaluation. Each bundle (default: the build in bench/.build or dist/) is
 * served alone by a new plain workerd process, RUNS times; the time from spawn to the first `/health` answer, less
 * the same for a 10-line Worker, is the bundle's own startup cost. Prints its median and the bundle's size.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { performance } from "node:perf_hooks";
import { ROOT, freePort, workerdBinary } from "./tools.mjs";
import { COMPATIBILITY_DATE, COMPATIBILITY_FLAGS } from "./workers.mjs";

const RUNS = Number(process.env.COLD_START_RUNS ?? 15);
const TINY = 'export default { fetch: () => new Response("ok") };\n';

/** Milliseconds from spawning workerd with `module` to its first answer on /health. */
async function firstAnswerMs(workerd, dir, module) {
  const port = await freePort();
  const flags = COMPATIBILITY_FLAGS.map((flag) => JSON.stringify(flag)).join(", ");
  await writeFile(
    join(dir, "cold.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w) ],
  sockets = [ ( name = "http", address = "127.0.0.1:${port}", http = (), service = "main" ) ],
);
const w :Workerd.Worker = (
  modules = [ (name = "index.js", esModule = embed "${module}") ],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  compatibilityFlags = [${flags}],
);
`,
  );
  const started = performance.now();
  const child = spawn(workerd, ["serve", join(dir, "cold.capnp")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`workerd exited: ${stderr}`);
      const answered = await fetch(`http://127.0.0.1:${port}/health`).then((response) => response.status, () => 0);
      if (answered === 200) return performance.now() - started;
      if (performance.now() - started > 20_000) throw new Error(`no answer within 20 s: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  } finally {
    child.kill();
    await new Promise((resolve) => child.once("exit", resolve));
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const given = process.argv.slice(2);
  const bundles = given.length > 0 ? given : [join(ROOT, "bench", ".build", "index.js"), join(ROOT, "dist", "index.js")].filter((path) => existsSync(path)).slice(0, 1);
  if (bundles.length === 0) throw new Error("build the gateway first: npm run build");
  const workerd = await workerdBinary();
  const dir = await mkdtemp(join(tmpdir(), "gateway-cold-"));
  try {
    await writeFile(join(dir, "tiny.js"), TINY);
    const samples = new Map([["tiny.js", []], ...bundles.map((bundle, i) => [`bundle${i}.js`, []])]);
    for (const [i, bundle] of bundles.entries()) await copyFile(bundle, join(dir, `bundle${i}.js`));
    // Interleaved, so drift on a shared machine hits every bundle alike.
    for (let run = 0; run < RUNS; run++) {
      for (const [module, values] of samples) values.push(await firstAnswerMs(workerd, dir, module));
    }
    const baseline = median(samples.get("tiny.js"));
    console.log(`spawn to first answer, median of ${RUNS}: a 10-line Worker ${baseline.toFixed(1)} ms`);
    for (const [i, bundle] of bundles.entries()) {
      const own = median(samples.get(`bundle${i}.js`)) - baseline;
      const size = (await stat(bundle)).size;
      console.log(`${basename(bundle)} (${bundle}): ${(size / 1024).toFixed(0)} KiB, startup ${own.toFixed(1)} ms over the 10-line Worker`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
