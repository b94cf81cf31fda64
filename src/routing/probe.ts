/**
 * The optional scheduled probe (HEALTH_PROBE=true with the cron trigger): every origin's /health, and with
 * HEALTH_PROBE_METRICS=true vLLM's own load signals from /metrics (requests waiting, KV-cache use). The results go
 * to one KV entry that isolates pick up with their config refresh, so a replica that is down — even one receiving no
 * traffic — is tried last, and busy replicas receive less.
 */
import { hostedBaseUrl } from "../config/providers";
import type { Env } from "../env";
import { callOrigin } from "../upstream/origin";
import type { Target } from "./resolve";
import type { RoutingTable } from "./table";
import { settingsOf } from "../settings";

export const PROBE_KV_KEY = "health/probe";
const PROBE_TIMEOUT_MS = 5000;

export interface OriginReport {
  healthy: boolean;
  /** Requests waiting in vLLM's queue (vllm:num_requests_waiting). */
  waiting?: number;
  /** KV-cache use, 0–1 (vllm:kv_cache_usage_perc, or the older vllm:gpu_cache_usage_perc). */
  kvCacheUsage?: number;
  checkedAt: number;
}

export type ProbeReports = Record<string, OriginReport>;

/**
 * The values of every series (one per engine of a data-parallel server) of the first of `names` the text has: vLLM
 * exports its older metric name as a copy of the newer one while both exist, so the two must not be added up.
 */
function metricValues(text: string, names: readonly string[]): number[] {
  const lines = text.split("\n");
  for (const name of names) {
    const values: number[] = [];
    for (const line of lines) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      const value = Number(line.slice(line.lastIndexOf(" ") + 1));
      if (Number.isFinite(value)) values.push(value);
    }
    if (values.length > 0) return values;
  }
  return [];
}

const sum = (values: number[]): number | undefined => (values.length === 0 ? undefined : values.reduce((total, value) => total + value, 0));

export function originKey(target: Target): string {
  return `${target.provider.name}/${target.key.id}`;
}

/** One origin's /health (and, with metrics, vLLM's load), as the scheduled probe and the admin's connection test read it. */
export async function probeOrigin(env: Env, target: Target, withMetrics: boolean): Promise<OriginReport> {
  const ask = (path: string) =>
    callOrigin({ target, path, pathKey: "list_models", method: "GET", requestId: crypto.randomUUID(), timeoutMs: PROBE_TIMEOUT_MS }, env).then(async (call) => {
      call.stopTimer();
      return { ok: call.response.ok, text: await call.response.text() };
    });
  const report: OriginReport = { healthy: false, checkedAt: Date.now() };
  try {
    report.healthy = (await ask("/health")).ok;
    if (report.healthy && withMetrics) {
      const metrics = await ask("/metrics");
      if (metrics.ok) {
        // Queues add up across engines; KV-cache use is a share per engine, so the origin's is their mean.
        report.waiting = sum(metricValues(metrics.text, ["vllm:num_requests_waiting"]));
        const kvCache = metricValues(metrics.text, ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"]);
        report.kvCacheUsage = kvCache.length === 0 ? undefined : (sum(kvCache) ?? 0) / kvCache.length;
      }
    }
  } catch {
    report.healthy = false;
  }
  return report;
}

/** Probes every enabled key's origin (self-hosted providers: hosted APIs have no /health) and publishes the results. */
export async function probeOrigins(env: Env, table: RoutingTable): Promise<ProbeReports> {
  const targets: Target[] = [];
  for (const provider of table.providers.values()) {
    if (hostedBaseUrl(provider.name) !== undefined) continue;
    for (const key of provider.keys) if (key.enabled) targets.push({ provider, key, upstreamModel: "" });
  }
  const withMetrics = settingsOf(env).HEALTH_PROBE_METRICS;
  const results = await Promise.all(targets.map((target) => probeOrigin(env, target, withMetrics)));
  const reports: ProbeReports = Object.fromEntries(targets.map((target, i) => [originKey(target), results[i] as OriginReport]));
  const ttl = probeReportTtlMs(env) / 1000;
  await env.CONFIG_KV.put(PROBE_KV_KEY, JSON.stringify(reports), { expirationTtl: ttl });
  return reports;
}

/** How long a probe report counts: HEALTH_PROBE_TTL_SECONDS, at least a minute (KV's shortest expiry). */
export function probeReportTtlMs(env: Env): number {
  return Math.max(60, settingsOf(env).HEALTH_PROBE_TTL_SECONDS) * 1000;
}
