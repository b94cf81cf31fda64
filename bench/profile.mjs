#!/usr/bin/env node
/**
 * `npm run profile [keyless|vk] [seconds]`: a CPU profile of the gateway, built unminified so functions keep their
 * names, under wrk load at c=32, taken through workerd's inspector. Prints the
 * functions with the most self time and the most inclusive time, and writes the .cpuprofile (open it in Chrome's
 * DevTools) next to the bench results. `PROFILE_HEAP=1` samples allocations instead of CPU.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { warmGateway } from "./warm-gateway.mjs";
import { ROOT, buildGateway, freePort } from "./tools.mjs";
import { runWrk } from "./wrk.mjs";

const OUT_DIR = join(ROOT, "bench", ".build");
const mode = process.argv[2] === "vk" ? "vk" : "keyless";
const seconds = Number(process.argv[3] ?? 5);
const heap = process.env.PROFILE_HEAP === "1";

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
async function inspector(port, workerName) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((entry) => entry.webSocketDebuggerUrl?.endsWith(`/${workerName}`) || entry.webSocketDebuggerUrl?.includes(`:user:${workerName}`));
  if (!target) throw new Error(`no inspector target for ${workerName}: ${targets.map((entry) => entry.webSocketDebuggerUrl).join(", ")}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", reject, { once: true });
  });
  let nextId = 0;
  const pending = new Map();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  });
  return {
    call: (method, params = {}) =>
      new Promise((resolve) => {
        const id = ++nextId;
        pending.set(id, resolve);
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

const frameName = (frame) => `${frame.functionName || "(anonymous)"} ${frame.url.split("/").pop()}:${frame.lineNumber + 1}`;

function printTop(title, totals, all, count = 30) {
  console.log(`\n${title}`);
  for (const [name, value] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, count)) console.log(`${((100 * value) / all).toFixed(1).padStart(6)}%  ${name}`);
}

function summariseCpu(profile) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map();
  const inclusive = new Map();
  for (const sample of profile.samples) {
    const name = frameName(nodes.get(sample).callFrame);
    self.set(name, (self.get(name) ?? 0) + 1);
    const seen = new Set();
    for (let id = sample; id !== undefined; id = parent.get(id)) {
      const key = frameName(nodes.get(id).callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + 1);
    }
  }
  printTop("self time", self, profile.samples.length);
  printTop("inclusive time", inclusive, profile.samples.length);
}

function summariseHeap(profile) {
  const bySite = new Map();
  let all = 0;
  const walk = (node, stack) => {
    const here = [frameName(node.callFrame), ...stack].slice(0, 3);
    if (node.selfSize) {
      all += node.selfSize;
      const key = here.join(" < ");
      bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, []);
  console.log(`\n${(all / 1e6).toFixed(1)} MB allocated while sampling`);
  printTop("allocations by site (function < caller < caller)", bySite, all, 40);
}

async function main() {
  // Unminified, so the profile names functions (the deployed build is minified).
  const bundle = buildGateway(join(OUT_DIR, "profile"), ["--no-minify"]);
  const dir = await mkdtemp(join(tmpdir(), "gateway-profile-"));
  const inspectorPort = await freePort();
  process.env.INSPECT_PORT = String(inspectorPort);
  const { url, script, stop } = await warmGateway(bundle, dir, mode);
  try {
    const session = await inspector(inspectorPort, "gateway");
    if (heap) {
      await session.call("HeapProfiler.enable");
      await session.call("HeapProfiler.startSampling", { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    } else {
      await session.call("Profiler.enable");
      await session.call("Profiler.setSamplingInterval", { interval: 100 });
      await session.call("Profiler.start");
    }
    const load = await runWrk(url, script, 32, seconds);
    console.log(`${mode}: ${load.rps.toFixed(0)} req/s at c=32 while profiling (the profiler slows it down), p50 ${load.p50.toFixed(2)} ms`);
    await mkdir(OUT_DIR, { recursive: true });
    if (heap) {
      const { profile } = (await session.call("HeapProfiler.stopSampling")).result;
      await writeFile(join(OUT_DIR, `${mode}.heapprofile`), JSON.stringify(profile));
      summariseHeap(profile);
    } else {
      const { profile } = (await session.call("Profiler.stop")).result;
      await writeFile(join(OUT_DIR, `${mode}.cpuprofile`), JSON.stringify(profile));
      summariseCpu(profile);
    }
    session.close();
  } finally {
    await stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
