#!/usr/bin/env node
/**
 * Gateway overhead benchmark: `npm run bench`.
 *
 * Builds the Worker bundle, starts a fake vLLM origin, runs a bare passthrough Worker and the gateway in workerd,
 * and measures the origin directly and both Workers with the same client. The gateway's cost is judged against the
 * passthrough's, i.e. against what any Worker in front of the origin costs anyway.
 *
 * Each Worker is reached two ways: through the miniflare `port` (where miniflare's own entry Worker runs before
 * ours, adding roughly half a millisecond and a lot of CPU to every request) and through a direct workerd socket
 * to the Worker alone, which is closer to production. The targets are evaluated for both. Either way miniflare
 * sends each Worker's outgoing fetch through a small outbound Worker of its own, so "passthrough − direct" is larger
 * than in production; it is the same for both Workers, so the gateway-vs-passthrough comparison stays fair.
 *
 * Exits non-zero only when the bench itself fails (build, startup, a non-200 check); missed targets print MISS.
 */
import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { closeAgent, percentile, post, put, sequential, throughput } from "./load.mjs";
import { startOrigin } from "./origin.mjs";
import { measureConversion, reportConversion } from "./conversion.mjs";
import { startGateway, startPassthrough } from "./workers.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT_DIR = join(ROOT, "bench", ".build");
const PATH = "/v1/chat/completions";

// Sizes chosen to keep the whole run (5 targets) around 70 s on 2 cores.
const WARMUP = 200; // per target and request kind, before anything is measured
const LATENCY_REQUESTS = Number(process.env.BENCH_LATENCY_REQUESTS ?? 2000); // per target, concurrency 1
const TTFB_REQUESTS = Number(process.env.BENCH_TTFB_REQUESTS ?? 1000); // per target, concurrency 1
// Every measurement is split into rounds with a rotating target order, so that bursts of other load on the machine
// and slow drift hit all targets alike instead of whichever happened to run at the time.
const ROUNDS = 10;
const CONCURRENCY = 32;
const RPS_SECONDS = 4; // per target, in RPS_ROUNDS slices
const RPS_ROUNDS = 4;

// Targets: ratio of gateway-added to passthrough-added p50 latency, and gateway − passthrough TTFB p50 (ms).
const TARGET_ADDED_RATIO = 1.5;
const TARGET_TTFB_DIFF_MS = 1;
const TARGET_ADMISSION_SHARE = 0.3;
const TARGETS_NOTE = { addedRatioMax: TARGET_ADDED_RATIO, ttfbDiffMaxMs: TARGET_TTFB_DIFF_MS };

const nonStreamBody = Buffer.from(JSON.stringify({ model: "vllm/bench-model", messages: [{ role: "user", content: "hi" }], max_tokens: 16 }));
// include_usage is sent explicitly so the origin streams the same frames to every target (the gateway would add it).
const streamBody = Buffer.from(
  JSON.stringify({ model: "vllm/bench-model", messages: [{ role: "user", content: "hi" }], max_tokens: 16, stream: true, stream_options: { include_usage: true } }),
);

function fail(message, detail) {
  const error = new Error(message);
  error.detail = detail;
  throw error;
}

function build() {
  const wrangler = join(ROOT, "node_modules", ".bin", "wrangler");
  // Run wrangler's script with this Node (22), whatever `node` the shebang would find on PATH.
  const result = spawnSync(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", OUT_DIR], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
  });
  if (result.status !== 0) fail("wrangler build failed", `${result.stdout}\n${result.stderr}`);
  return join(OUT_DIR, "index.js");
}

/** One request of each kind must answer 200 with the expected shape before anything is measured. */
async function verify(target) {
  const plain = await post(target.url, PATH, nonStreamBody, target.headers);
  if (plain.status !== 200 || !plain.body.includes('"chat.completion"')) {
    fail(`${target.label}: chat request answered ${plain.status}`, plain.body);
  }
  const stream = await post(target.url, PATH, streamBody, target.headers);
  if (stream.status !== 200 || !stream.body.includes("data: [DONE]")) fail(`${target.label}: stream request answered ${stream.status}`, stream.body);
}

/** Calls `run(target)` for every target, `rounds` times, rotating which target goes first. */
async function interleaved(targets, rounds, run) {
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) await run(targets[(i + round) % targets.length]);
  }
}

/** `count` sequential requests per target, interleaved across targets; samples and non-200 count per target. */
async function sequentialByTarget(targets, body, count) {
  const byTarget = new Map(targets.map((t) => [t.key, { samples: [], errors: 0 }]));
  await interleaved(targets, ROUNDS, async (target) => {
    const run = await sequential(target.url, PATH, body, count / ROUNDS, target.headers);
    const acc = byTarget.get(target.key);
    acc.samples.push(...run.samples);
    acc.errors += run.errors;
  });
  return byTarget;
}

/** Requests per second at CONCURRENCY per target, measured in interleaved slices and summed. */
async function throughputByTarget(targets, body) {
  const byTarget = new Map(targets.map((t) => [t.key, { requests: 0, errors: 0, seconds: 0 }]));
  // Open all the connections and let each Worker settle under load before counting.
  for (const target of targets) await throughput(target.url, PATH, body, CONCURRENCY, 1000, target.headers);
  await interleaved(targets, RPS_ROUNDS, async (target) => {
    const run = await throughput(target.url, PATH, body, CONCURRENCY, (RPS_SECONDS * 1000) / RPS_ROUNDS, target.headers);
    const acc = byTarget.get(target.key);
    acc.requests += run.requests;
    acc.errors += run.errors;
    acc.seconds += run.seconds;
  });
  return byTarget;
}

const round3 = (n) => Math.round(n * 1000) / 1000;
const summary = (values) => ({ p50: round3(percentile(values, 50)), p99: round3(percentile(values, 99)) });

async function measure(targets) {
  process.stdout.write("warming up…\n");
  for (const target of targets) {
    await sequential(target.url, PATH, nonStreamBody, WARMUP, target.headers);
    await sequential(target.url, PATH, streamBody, WARMUP, target.headers);
  }

  process.stdout.write(`latency: ${LATENCY_REQUESTS} non-stream requests per target, concurrency 1…\n`);
  const latency = await sequentialByTarget(targets, nonStreamBody, LATENCY_REQUESTS);
  process.stdout.write(`ttfb: ${TTFB_REQUESTS} stream requests per target, concurrency 1…\n`);
  const ttfb = await sequentialByTarget(targets, streamBody, TTFB_REQUESTS);

  process.stdout.write(`throughput: concurrency ${CONCURRENCY}, ${RPS_SECONDS} s per target…\n`);
  const rps = await throughputByTarget(targets, nonStreamBody);

  const results = {};
  for (const { key } of targets) {
    const lat = latency.get(key);
    const first = ttfb.get(key);
    const load = rps.get(key);
    results[key] = {
      nonStream: { ...summary(lat.samples.map((s) => s.total)), requests: lat.samples.length, errors: lat.errors },
      streamTtfb: { ...summary(first.samples.map((s) => s.ttfb)), requests: first.samples.length, errors: first.errors },
      streamTotal: summary(first.samples.map((s) => s.total)),
      rps: { value: Math.round(load.requests / load.seconds), concurrency: CONCURRENCY, seconds: round3(load.seconds), requests: load.requests, errors: load.errors },
    };
  }
  return results;
}

/** The figures the targets are about, for one way of reaching the Workers (`via`: "port" or "directSocket"). */
function derive(r, via) {
  const passthrough = r[`passthrough_${via}`];
  const gateway = r[`gateway_${via}`];
  const passthroughAdded = passthrough.nonStream.p50 - r.direct.nonStream.p50;
  const gatewayAdded = gateway.nonStream.p50 - r.direct.nonStream.p50;
  const addedRatio = gatewayAdded / passthroughAdded;
  const ttfbDiff = gateway.streamTtfb.p50 - passthrough.streamTtfb.p50;
  return {
    passthroughAddedMs: round3(passthroughAdded),
    gatewayAddedMs: round3(gatewayAdded),
    addedRatio: round3(addedRatio),
    addedRatioPass: addedRatio <= TARGET_ADDED_RATIO,
    ttfbDiffMs: round3(ttfbDiff),
    ttfbDiffPass: ttfbDiff <= TARGET_TTFB_DIFF_MS,
    rpsGatewayToPassthrough: round3(gateway.rps.value / passthrough.rps.value),
    rpsGatewayToDirect: round3(gateway.rps.value / r.direct.rps.value),
    rpsPassthroughToDirect: round3(passthrough.rps.value / r.direct.rps.value),
  };
}

/** What a virtual key's admission adds, as a share of the passthrough Worker's own overhead (target ≤ 30%). */
function deriveAdmission(r) {
  const passthroughAdded = r.passthrough_directSocket.nonStream.p50 - r.direct.nonStream.p50;
  const admission = r.gatewayVk_directSocket.nonStream.p50 - r.gateway_directSocket.nonStream.p50;
  const share = admission / passthroughAdded;
  return {
    admissionAddedMs: round3(admission),
    shareOfPassthroughOverhead: round3(share),
    pass: share <= TARGET_ADMISSION_SHARE,
    rpsVkToKeyless: round3(r.gatewayVk_directSocket.rps.value / r.gateway_directSocket.rps.value),
  };
}

function report(targets, results, derived) {
  const ms = (n) => `${n.toFixed(3)} ms`;
  const rows = [
    ["target", "chat p50", "chat p99", "stream TTFB p50", "stream TTFB p99", `rps @${CONCURRENCY}`, "errors"],
    ...targets.map(({ key, label }) => {
      const r = results[key];
      return [label, ms(r.nonStream.p50), ms(r.nonStream.p99), ms(r.streamTtfb.p50), ms(r.streamTtfb.p99), String(r.rps.value), String(r.nonStream.errors + r.streamTtfb.errors + r.rps.errors)];
    }),
  ];
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => row[col].length)));
  const line = (row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join("  ");
  console.log(`\n${line(rows[0])}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const row of rows.slice(1)) console.log(line(row));

  const verdict = (ok) => (ok ? "PASS" : "MISS");
  for (const [via, title] of [
    ["port", "via the miniflare `port` (miniflare's entry Worker runs first)"],
    ["directSocket", "via a direct socket (the Worker alone, as in production)"],
  ]) {
    const d = derived[via];
    console.log(`
${title}
  added p50 latency, passthrough − direct:   ${ms(d.passthroughAddedMs)}
  added p50 latency, gateway − direct:       ${ms(d.gatewayAddedMs)}
  gateway-added / passthrough-added:         ${d.addedRatio.toFixed(2)}  (target ≤ ${TARGET_ADDED_RATIO})  ${verdict(d.addedRatioPass)}
  stream TTFB p50, gateway − passthrough:    ${ms(d.ttfbDiffMs)}  (target ≤ ${TARGET_TTFB_DIFF_MS} ms)  ${verdict(d.ttfbDiffPass)}
  rps gateway / passthrough:                 ${d.rpsGatewayToPassthrough.toFixed(2)}
  rps gateway / direct:                      ${d.rpsGatewayToDirect.toFixed(2)}
  rps passthrough / direct:                  ${d.rpsPassthroughToDirect.toFixed(2)}`);
  }
  const a = derived.admission;
  console.log(`
virtual-key admission (budget + request and token windows), direct socket
  added p50 latency, gateway+key − gateway:  ${ms(a.admissionAddedMs)}
  as a share of the passthrough's overhead:  ${(a.shareOfPassthroughOverhead * 100).toFixed(0)}%  (target ≤ ${TARGET_ADMISSION_SHARE * 100}%)  ${verdict(a.pass)}
  rps gateway+key / gateway:                 ${a.rpsVkToKeyless.toFixed(2)}`);
}

/**
 * A virtual key with a budget and request/token windows, all far from their limits, so every request pays for the
 * full admission (key lookup, one Durable Object transaction) and settlement without ever being refused.
 */
async function createVirtualKey(gatewayUrl) {
  const body = Buffer.from(
    JSON.stringify({
      provider_configs: [{ provider: "vllm", weight: 1 }],
      budgets: [{ max_limit: 1e9, reset_duration: "1d" }],
      rate_limit: { request_max_limit: 1e9, request_reset_duration: "1h", token_max_limit: 1e12, token_reset_duration: "1h" },
    }),
  );
  const answer = await put(gatewayUrl, "/api/governance/virtual-keys/bench", body, { authorization: "Bearer bench-admin" });
  if (answer.status !== 200) fail(`creating the virtual key answered ${answer.status}`, answer.body);
  return JSON.parse(answer.body).virtual_key.value;
}

async function main() {
  const started = Date.now();
  const running = []; // things to stop, in reverse order
  const stopAll = async () => {
    closeAgent();
    for (const stop of running.reverse()) await stop().catch((error) => console.error("shutdown:", error.message));
  };
  try {
    process.stdout.write("building the gateway bundle…\n");
    const bundle = build();

    // Started one by one so that whatever did start is stopped if a later step fails.
    const origin = await startOrigin();
    running.push(origin.stop);
    const passthrough = await startPassthrough(origin.url);
    running.push(() => passthrough.mf.dispose());
    const gateway = await startGateway(bundle, ROOT, origin.url);
    running.push(() => gateway.mf.dispose());

    // Each Worker is measured on both of its workerd sockets: the miniflare `port` and a direct socket.
    const virtualKey = await createVirtualKey(gateway.direct);
    const targets = [
      { key: "direct", label: "origin direct", url: origin.url },
      { key: "passthrough_port", label: "passthrough (port)", url: passthrough.entry },
      { key: "gateway_port", label: "gateway (port)", url: gateway.entry },
      { key: "passthrough_directSocket", label: "passthrough (direct socket)", url: passthrough.direct },
      { key: "gateway_directSocket", label: "gateway (direct socket)", url: gateway.direct },
      { key: "gatewayVk_directSocket", label: "gateway + virtual key (direct socket)", url: gateway.direct, headers: { "x-bf-vk": virtualKey } },
    ];
    for (const target of targets) await verify(target);
    process.stdout.write(`all answer 200: ${targets.map((t) => `${t.label} ${t.url}`).join(", ")}\n`);

    const results = await measure(targets);
    const derived = { port: derive(results, "port"), directSocket: derive(results, "directSocket"), admission: deriveAdmission(results) };
    report(targets, results, derived);
    process.stdout.write("\nconversion: 200-chunk streams as chat, Responses and Messages…\n");
    const conversion = await measureConversion(gateway.direct);
    reportConversion(conversion);

    const file = join(OUT_DIR, "results.json");
    await mkdir(OUT_DIR, { recursive: true });
    await writeFile(file, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, targets: TARGETS_NOTE, results, derived, conversion }, null, 2)}\n`);
    console.log(`\nresults written to ${file} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    console.error(`\nbench failed: ${error.message}`);
    if (error.detail) console.error(error.detail);
    process.exitCode = 1;
  } finally {
    await stopAll();
  }
}

await main();
