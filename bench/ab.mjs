#!/usr/bin/env node
/**
 * `npm run bench:ab -- <bundle> [<bundle> …]`: what each built gateway bundle costs per request, side by side, in the
 * CPU time of the workerd process serving it — a steadier figure than requests per second on a shared machine, where
 * two runs of one build differ by 5–10% in throughput. Every bundle is served at once (plain workerd through the
 * Miniflare API, like `npm run bench`), each behind its own nginx origin; then rounds of `wrk` at c=32 go to each in
 * turn, so drift in the machine's speed reaches all of them alike. For each run the process's user and system time
 * (from /proc, Linux only) is divided by the requests it answered; the medians are compared with the first bundle's.
 *
 * Build a variant with `npx wrangler deploy --dry-run --outdir /tmp/variant`, then
 * `npm run bench:ab -- dist/index.js /tmp/variant/index.js`. Two names stand for reference Workers instead of bundles:
 * `passthrough` (compare.sh's 10-line Worker, in plain workerd) and `floor` (floor-worker.mjs: what any gateway that
 * reads what it forwards must do); `script:<file.js>` serves a one-module Worker the same way, its `@ORIGIN_BINDING@` and
 * `@ORIGIN_URL@` replaced by the origin's binding and URL. AB_ROUNDS (default 7), AB_SECONDS (3), AB_MODE (keyless, or vk: every request to a
 * bundle with a budgeted virtual key), AB_CONNECTIONS (32; 1 compares latency, reported as wrk's median p50 too).
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FLOOR_SOURCE } from "./floor-worker.mjs";
import { startNginxOrigin } from "./nginx-origin.mjs";
import { startPlainPassthrough } from "./passthrough.mjs";
import { freePort } from "./tools.mjs";
import { warmGateway } from "./warm-gateway.mjs";
import { ORIGIN_BINDING, startWorkerScript } from "./workers.mjs";
import { runWrk, wrkScript } from "./wrk.mjs";

const REFERENCES = new Set(["passthrough", "floor"]);
const targets = process.argv.slice(2).map((arg) => (REFERENCES.has(arg) || arg.startsWith("script:") ? arg : resolve(arg)));
const rounds = Number(process.env.AB_ROUNDS ?? 7);
const seconds = Number(process.env.AB_SECONDS ?? 3);
const mode = process.env.AB_MODE === "vk" ? "vk" : "keyless";
const connections = Number(process.env.AB_CONNECTIONS ?? 32);

/** The pid of the process listening on `port` on 127.0.0.1 (the workerd that serves that gateway). */
function listenerPid(port) {
  const result = spawnSync("ss", ["-Hltnp", `sport = :${port}`], { encoding: "utf8" });
  const pid = /pid=(\d+)/.exec(result.stdout ?? "")?.[1];
  if (pid === undefined) throw new Error(`no process found listening on port ${port} (needs ss, from iproute2)`);
  return Number(pid);
}

/** Clock ticks of CPU (user + system) the process has used so far. */
async function cpuTicks(pid) {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1].split(" ");
  // After the command name: fields 14 and 15 of stat(5), utime and stime, are the 12th and 13th here.
  return Number(fields[11]) + Number(fields[12]);
}

const ticksPerSecond = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim() || 100);

/** A reference Worker (`passthrough` or `floor`) behind its own nginx origin, warmed up like the gateways. */
async function serveReference(name, dir) {
  const origin = await startNginxOrigin(dir, await freePort());
  try {
    const script = await wrkScript(dir, "post", { model: "vllm/m", messages: [{ role: "user", content: "Hello" }] }, {});
    let base;
    let stopWorker;
    if (name === "passthrough") {
      const passthrough = await startPlainPassthrough(dir, origin.url, await freePort());
      base = passthrough.url;
      stopWorker = passthrough.stop;
    } else if (name.startsWith("script:")) {
      const source = (await readFile(name.slice("script:".length), "utf8")).replaceAll("@ORIGIN_BINDING@", ORIGIN_BINDING).replaceAll("@ORIGIN_URL@", origin.url);
      const worker = await startWorkerScript("script", source);
      base = worker.direct;
      stopWorker = () => worker.mf.dispose();
    } else {
      const floor = await startWorkerScript("floor", FLOOR_SOURCE(ORIGIN_BINDING, origin.url));
      base = floor.direct;
      stopWorker = () => floor.mf.dispose();
    }
    const url = `${base}/v1/chat/completions`;
    await runWrk(url, script, 8, 2);
    return { url, script, stop: async () => { await stopWorker(); await origin.stop(); } };
  } catch (error) {
    await origin.stop();
    throw error;
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

async function main() {
  if (targets.length === 0) throw new Error("usage: npm run bench:ab -- <bundle.js | passthrough | floor> …");
  const dir = await mkdtemp(join(tmpdir(), "gateway-ab-"));
  const served = [];
  try {
    for (const target of targets) {
      const targetDir = await mkdtemp(join(dir, "t-"));
      const running = REFERENCES.has(target) || target.startsWith("script:") ? await serveReference(target, targetDir) : await warmGateway(target, targetDir, mode);
      served.push({ name: target, ...running, pid: listenerPid(Number(new URL(running.url).port)), samples: [], p50s: [] });
    }
    for (let round = 0; round < rounds; round += 1) {
      for (const target of served) {
        const before = await cpuTicks(target.pid);
        const load = await runWrk(target.url, target.script, connections, seconds);
        const used = (await cpuTicks(target.pid)) - before;
        target.samples.push((used / ticksPerSecond) * 1e6 / load.requests);
        target.p50s.push(load.p50 * 1000);
      }
    }
    const base = median(served[0].samples);
    console.log(`${mode}, c=${connections}, ${rounds} rounds of ${seconds} s: CPU µs per request of each one's workerd process`);
    for (const target of served) {
      const mid = median(target.samples);
      const all = target.samples.map((value) => value.toFixed(0)).join(" ");
      console.log(`  ${target.name}: median ${mid.toFixed(0)} µs (×${(mid / base).toFixed(3)} the first), p50 ${median(target.p50s).toFixed(0)} µs  runs: ${all}`);
    }
  } finally {
    for (const target of served) await target.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
