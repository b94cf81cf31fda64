#!/usr/bin/env node
/**
 * Gateway overhead benchmark: `npm run bench`. Measures what ../shared/perf/compare.sh measures, the same way:
 * one non-stream chat request through nginx directly (the floor), a 10-line passthrough Worker in plain workerd, and
 * the built gateway in plain workerd (Miniflare API, direct socket) — keyless, and with a virtual key carrying a
 * budget and request/token windows — driven by wrk at concurrency 1 and 32, two interleaved rounds. Only ratios
 * within one run mean anything on a shared machine; the targets are ratios.
 *
 * Needs nginx and wrk (apt-get install -y nginx wrk). BENCH_SECONDS sets each wrk run's length (default 5).
 * Exits non-zero only when the bench itself fails; missed targets print MISS.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeAgent } from "./load.mjs";
import { addStreamProvider, measureConversion, reportConversion } from "./conversion.mjs";
import { startNginxOrigin } from "./nginx-origin.mjs";
import { startPlainPassthrough } from "./passthrough.mjs";
import { ORIGIN_BINDING, startGateway } from "./workers.mjs";
import { ROOT, buildGateway, freePort } from "./tools.mjs";
import { runWrk, wrkScript } from "./wrk.mjs";

const OUT_DIR = join(ROOT, "bench", ".build");
const PATH = "/v1/chat/completions";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = 2;

// The hot-path targets, as ratios to the passthrough Worker measured in the same run.
const TARGETS = {
  keylessRps: 0.67, // gateway req/s at c=32 ≥ 0.67 × passthrough's
  virtualKeyRps: 0.5, // with a virtual key ≥ 0.5 × passthrough's
  addedP50: 1.5, // gateway's p50 over the origin at c=1 ≤ 1.5 × the passthrough's
  p99: 2, // gateway's p99 at c=1 ≤ 2 × the passthrough's
};

/** The same virtual key as compare.sh's: a budget and request/token windows, all far from their limits. */
async function createVirtualKey(gatewayUrl) {
  const answer = await fetch(`${gatewayUrl}/api/governance/virtual-keys/bench-vk`, {
    method: "PUT",
    headers: { authorization: "Bearer bench-admin", "content-type": "application/json" },
    body: JSON.stringify({
      name: "bench-vk",
      provider_configs: [{ provider: "vllm", weight: 1, allowed_models: ["*"] }],
      budget: { max_limit: 1e9, reset_duration: "1d" },
      rate_limit: { request_max_limit: 1e9, request_reset_duration: "1h", token_max_limit: 1e12, token_reset_duration: "1h" },
    }),
  });
  if (!answer.ok) throw new Error(`creating the virtual key answered ${answer.status}: ${await answer.text()}`);
  return (await answer.json()).virtual_key.value;
}

const fmt = (ms) => (ms < 1 ? `${(ms * 1000).toFixed(0)}µs` : `${ms.toFixed(2)}ms`);

function range(values, digits = 2) {
  const low = Math.min(...values);
  const high = Math.max(...values);
  return low === high ? low.toFixed(digits) : `${low.toFixed(digits)}–${high.toFixed(digits)}`;
}

/** Per round: the ratios the targets are stated in. */
function ratios(round) {
  const { direct, passthrough, gateway, gatewayVk } = round;
  return {
    keylessRps: gateway.c32.rps / passthrough.c32.rps,
    virtualKeyRps: gatewayVk.c32.rps / passthrough.c32.rps,
    addedP50: (gateway.c1.p50 - direct.c1.p50) / (passthrough.c1.p50 - direct.c1.p50),
    addedP50VirtualKey: (gatewayVk.c1.p50 - direct.c1.p50) / (passthrough.c1.p50 - direct.c1.p50),
    p99: gateway.c1.p99 / passthrough.c1.p99,
  };
}

function report(rounds) {
  console.log("\nround  target        c=1 p50   c=1 p99   c=32 p50  c=32 req/s  non-2xx");
  rounds.forEach((round, index) => {
    for (const [name, result] of Object.entries(round)) {
      const cells = [fmt(result.c1.p50), fmt(result.c1.p99), fmt(result.c32.p50), result.c32.rps.toFixed(0), String(result.c1.non2xx + result.c32.non2xx)];
      console.log(`${String(index + 1).padEnd(6)} ${name.padEnd(13)} ${cells[0].padStart(8)}  ${cells[1].padStart(8)}  ${cells[2].padStart(8)}  ${cells[3].padStart(10)}  ${cells[4].padStart(7)}`);
    }
  });
  const all = rounds.map(ratios);
  const verdict = (values, target, atLeast) => (values.every((value) => (atLeast ? value >= target : value <= target)) ? "PASS" : "MISS");
  const line = (label, key, target, atLeast) => {
    const values = all.map((r) => r[key]);
    console.log(`  ${label.padEnd(52)} ${range(values).padStart(11)}  (target ${atLeast ? "≥" : "≤"} ${target})  ${verdict(values, target, atLeast)}`);
  };
  console.log(`\nratios to the passthrough Worker, over ${rounds.length} rounds`);
  line("req/s at c=32, gateway (keyless) / passthrough", "keylessRps", TARGETS.keylessRps, true);
  line("req/s at c=32, gateway + virtual key / passthrough", "virtualKeyRps", TARGETS.virtualKeyRps, true);
  line("p50 added over the origin at c=1, gateway / passthrough", "addedP50", TARGETS.addedP50, false);
  line("p99 at c=1, gateway / passthrough", "p99", TARGETS.p99, false);
  console.log(`  ${"p50 added at c=1, gateway + virtual key / passthrough".padEnd(52)} ${range(all.map((r) => r.addedP50VirtualKey)).padStart(11)}`);
  return all;
}

async function main() {
  for (const tool of ["wrk", "nginx"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
      console.error(`npm run bench needs ${tool}: apt-get install -y nginx wrk`);
      process.exit(2);
    }
  }
  const dir = await mkdtemp(join(tmpdir(), "gateway-bench-"));
  const running = [];
  try {
    process.stdout.write("building the gateway bundle…\n");
    const bundle = buildGateway(OUT_DIR);
    const origin = await startNginxOrigin(dir, await freePort());
    running.push(origin.stop);
    const passthrough = await startPlainPassthrough(dir, origin.url, await freePort());
    running.push(passthrough.stop);
    const gateway = await startGateway(bundle, ROOT, origin.url);
    running.push(() => gateway.mf.dispose());
    const virtualKey = await createVirtualKey(gateway.direct);

    const body = { model: "vllm/m", messages: [{ role: "user", content: "Hello" }] };
    const plain = await wrkScript(dir, "post", body, {});
    const withKey = await wrkScript(dir, "post-vk", body, { authorization: `Bearer ${virtualKey}` });
    const targets = [
      { name: "direct", url: `${origin.url}${PATH}`, script: plain },
      { name: "passthrough", url: `${passthrough.url}${PATH}`, script: plain },
      { name: "gateway", url: `${gateway.direct}${PATH}`, script: plain },
      { name: "gatewayVk", url: `${gateway.direct}${PATH}`, script: withKey },
    ];
    // Warm every target (JIT, connection pools, the key's Durable Object) before anything is measured.
    for (const target of targets) await runWrk(target.url, target.script, 4, 1);

    const rounds = [];
    for (let round = 0; round < ROUNDS; round++) {
      const results = Object.fromEntries(targets.map((target) => [target.name, {}]));
      // Interleaved as compare.sh does: every target at c=1, then every target at c=32.
      for (const connections of [1, 32]) {
        for (const target of targets) {
          process.stdout.write(`round ${round + 1}: ${target.name} at c=${connections}…\n`);
          results[target.name][`c${connections}`] = await runWrk(target.url, target.script, connections, SECONDS);
        }
      }
      rounds.push(results);
    }
    const summary = report(rounds);

    process.stdout.write("\nmeasuring stream conversion…\n");
    await addStreamProvider(gateway.direct, origin.url, ORIGIN_BINDING);
    const conversion = await measureConversion(gateway.direct);
    reportConversion(conversion);

    await mkdir(OUT_DIR, { recursive: true });
    await writeFile(join(OUT_DIR, "results.json"), `${JSON.stringify({ date: new Date().toISOString(), seconds: SECONDS, targets: TARGETS, rounds, ratios: summary, conversion }, null, 2)}\n`);
    console.log(`\nresults written to ${join(OUT_DIR, "results.json")}`);
  } finally {
    closeAgent();
    for (const stop of running.reverse()) await stop().catch((error) => console.error("shutdown:", error.message));
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
