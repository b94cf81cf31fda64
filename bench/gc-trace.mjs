#!/usr/bin/env node
/**
 * `npm run profile:gc [keyless|vk] [seconds]`: what the gateway's garbage collection costs under wrk load, at c=1 and
 * c=32, from V8's own trace (`--trace-gc`) of the workerd process serving the built bundle: per isolate, the young
 * collections (scavenges), the bytes each request leaves in the old generation (promoted: they live until the next
 * full collection), and every full collection (mark-compact) with its pause. A full collection stops the isolate's
 * one thread — and with it every request in flight — while workerd finalizes the native objects (Request, Response,
 * Headers, AbortSignal, streams) that died since the last one, so its pauses are what a request's p99 sees.
 *
 * workerd prints the trace on its standard output, which miniflare reads for structured logs only, so the bundle is
 * served by a wrapper that sends that output to a file instead (the Worker's own logs go there too). V8 writes the trace in 4 KiB blocks: each load is preceded
 * and followed by idle time, and a short burst after the last one pushes the trace out.
 */
import { mkdtemp, readFile, rm, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { warmGateway } from "./warm-gateway.mjs";
import { startPlainPassthrough } from "./passthrough.mjs";
import { ROOT, buildGateway, freePort, workerdBinary } from "./tools.mjs";
import { runWrk } from "./wrk.mjs";

const mode = process.argv[2] === "vk" ? "vk" : "keyless";
const seconds = Number(process.argv[3] ?? 10);
/** Idle time around each load: under load a young collection runs about every second at most, so a gap of GAP_MS marks a boundary. */
const IDLE_MS = 4000;
const GAP_MS = 2500;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One `--trace-gc` line: `[pid:0xisolate]  1234 ms: Scavenge 10.0 (13.6) -> 7.2 (14.1) MB, …, 1.40 / 0.00 ms …`. */
const LINE = /^\[\d+:(0x[0-9a-f]+)(?::\d+)?\]\s+(\d+) ms: (Scavenge|Mark-Compact|Mark-Sweep)\S* ([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \//;

function parseTrace(text) {
  const events = [];
  for (const line of text.split("\n")) {
    const match = LINE.exec(line);
    if (!match) continue;
    const [, isolate, at, kind, before, after, pause] = match;
    events.push({ isolate, at: Number(at), full: kind !== "Scavenge", before: Number(before), after: Number(after), pause: Number(pause) });
  }
  return events;
}

/** Splits one isolate's events into the bursts of activity between idle gaps. */
function bursts(events) {
  const groups = [];
  for (const event of events) {
    const last = groups.at(-1);
    if (last && event.at - last.at(-1).at < GAP_MS) last.push(event);
    else groups.push([event]);
  }
  return groups;
}

/** MB the old generation grew by across a burst's scavenges (a full collection restarts the count from what it kept). */
function promotedMb(events) {
  let grown = 0;
  let previous = null;
  for (const event of events) {
    if (previous !== null && !event.full) grown += event.after - previous;
    previous = event.after;
  }
  return grown;
}

function report(label, requests, events) {
  const full = events.filter((event) => event.full);
  const scavenges = events.length - full.length;
  const pauses = full.map((event) => event.pause);
  console.log(
    `${label}: ${requests} requests, ${scavenges} scavenges, promoted ${((promotedMb(events) * 1024) / requests).toFixed(2)} KB/request, ` +
      (pauses.length ? `${full.length} full collection${full.length === 1 ? "" : "s"}, pauses ${pauses.map((pause) => pause.toFixed(0)).join(", ")} ms` : "no full collection"),
  );
}

/**
 * Runs the loads (c=1, then c=32, each after idle time, then a short burst that pushes the trace out) against `url`,
 * then reads the trace and reports the collections of the isolate that collected most during each load.
 */
async function traceLoads(label, url, script, traceFile) {
  const loads = [];
  for (const connections of [1, 32]) {
    await sleep(IDLE_MS);
    const load = await runWrk(url, script, connections, seconds);
    loads.push({ connections, requests: load.requests });
  }
  await sleep(IDLE_MS);
  await runWrk(url, script, 32, 3);
  await sleep(500);
  const events = parseTrace(await readFile(traceFile, "utf8"));
  const byIsolate = Map.groupBy(events, (event) => event.isolate);
  // The gateway's isolate (its Durable Objects included) collects the most; D1's and KV's simulators have their own.
  const [busiest] = [...byIsolate.keys()].sort((a, b) => byIsolate.get(b).length - byIsolate.get(a).length);
  const groups = bursts(byIsolate.get(busiest) ?? []);
  // Bursts: warm-up, c=1, c=32, the burst that pushes the trace out.
  if (groups.length < 3) throw new Error(`${label}: expected a burst of collections per load, found ${groups.length}`);
  console.log(`${label}, ${seconds} s per load:`);
  loads.forEach((load, index) => report(`  c=${load.connections}`, load.requests, groups[index + 1] ?? []));
}

async function main() {
  const bundle = buildGateway(join(ROOT, "bench", ".build", "gc"));
  const dir = await mkdtemp(join(tmpdir(), "gateway-gc-"));
  const trace = join(dir, "gc.log");
  const wrapper = join(dir, "workerd");
  await writeFile(wrapper, `#!/bin/sh\nexec ${JSON.stringify(await workerdBinary())} "$@" >> ${JSON.stringify(trace)}\n`);
  await chmod(wrapper, 0o755);
  process.env.MINIFLARE_WORKERD_PATH = wrapper;
  process.env.MINIFLARE_WORKERD_V8_FLAGS = "--trace-gc";
  const { url, script, origin, stop } = await warmGateway(bundle, dir, mode);
  let passthrough = null;
  try {
    await traceLoads(`${mode}, the gateway's isolate`, url, script, trace);
    // The same loads through the 10-line passthrough in plain workerd, against the same origin: the collections any
    // Worker pays for its Request, Response and Headers objects, beside the gateway's.
    const passthroughTrace = join(dir, "passthrough-gc.log");
    passthrough = await startPlainPassthrough(dir, origin, await freePort(), { v8Flags: ["--trace-gc"], stdoutPath: passthroughTrace });
    await runWrk(`${passthrough.url}/v1/chat/completions`, script, 8, 2);
    await traceLoads("the passthrough Worker", `${passthrough.url}/v1/chat/completions`, script, passthroughTrace);
  } finally {
    await passthrough?.stop();
    await stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
