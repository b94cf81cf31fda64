// Runs the admission simulation (admission-sim.ts, bundled with esbuild) and prints its report:
//   npm run sim            the hot key and the running-out scenarios, strict, grouped, leased and placed
import { build } from "esbuild";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "../tools.mjs";

const dir = await mkdtemp(join(tmpdir(), "admission-sim-"));
const outfile = join(dir, "sim.mjs");
await build({ entryPoints: [join(ROOT, "bench/sim/admission-sim.ts")], bundle: true, platform: "node", format: "esm", outfile, logLevel: "error" });
const { simulate, WORLD } = await import(pathToFileURL(outfile).href);
await rm(dir, { recursive: true, force: true });

// 0.7 ms per call is one durable commit in local workerd; an operation more in the same call costs its own counter
// and reservation writes, about 0.05 ms there.
const base = { locations: WORLD, leaseShare: 0.05, serviceMs: 0.7, opServiceMs: 0.05, requestMs: 500, rampMs: 2000, seed: 7 };
const scenarios = [
  ["hot key: 3,000 requests/s (after a 2 s ramp) for 10 s, limits far away", { ...base, requestsPerSecond: 3000, durationMs: 10_000, tokenLimit: 1e12, crashEveryMs: 0 }],
  ["running out: 400 requests/s, a 1.5M-token window, an isolate dies every 0.5 s", { ...base, requestsPerSecond: 400, durationMs: 16_000, tokenLimit: 1_500_000, crashEveryMs: 500 }],
];
const ms = (value) => (Number.isNaN(value) ? "-" : `${value.toFixed(1)} ms`);
for (const [title, scenario] of scenarios) {
  console.log(`\n## ${title}\n`);
  console.log("| mode | location | requests | admitted | added p50 | added p99 | no wait | no wait, after warm-up |");
  console.log("|---|---|---|---|---|---|---|---|");
  const totals = [];
  for (const mode of ["strict", "grouped", "leased", "placed"]) {
    const report = await simulate({ ...scenario, mode });
    for (const location of report.locations) {
      console.log(`| ${mode} | ${location.name} | ${location.requests} | ${location.admitted} | ${ms(location.p50Ms)} | ${ms(location.p99Ms)} | ${(location.instantShare * 100).toFixed(1)}% | ${(location.steadyInstantShare * 100).toFixed(1)}% |`);
    }
    totals.push(report);
  }
  console.log("\n| mode | object calls per request | admitted/s | tokens used | counted by the limiter | limit | overspend | bound |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const report of totals) {
    console.log(`| ${report.mode} | ${report.roundTripsPerRequest.toFixed(3)} | ${report.admittedPerSecond.toFixed(0)} | ${report.usedTokens} | ${report.countedTokens} | ${report.tokenLimit} | ${report.overspend} | ${report.bound} |`);
  }
}
