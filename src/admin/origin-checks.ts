/**
 * What an admin asks of a provider's origins: "test connection" (POST …/keys/{key}/test) asks one key's origin for
 * its models now, through the same origin client requests use, and for a self-hosted origin also reads /health and
 * vLLM's load; "health" (GET /api/providers/{provider}/health) shows what routing currently believes of each key's
 * origin — its circuit and the scheduled probe's last report. Both answer 200 with what they found: an origin that
 * is down is a finding, not an error of this API.
 */
import type { Context } from "hono";
import { hostedBaseUrl } from "../config/providers";
import type { ProviderRecord } from "../config/schema";
import { listFromOrigin } from "../endpoints/models";
import type { AppEnv } from "../env";
import { GatewayError, asGatewayError, jsonResponse } from "../http/errors";
import { circuitView, healthSettings } from "../routing/health";
import { PROBE_KV_KEY, originKey, probeOrigin, type OriginReport, type ProbeReports } from "../routing/probe";
import type { Target } from "../routing/resolve";
import { compileProvider } from "../routing/table";
import { settingsOf } from "../settings";

type AdminContext = Context<AppEnv>;

/** Every key of a provider as routing would reach it (disabled keys too: an admin tests one before enabling it). */
function targetsOf(record: ProviderRecord): Target[] {
  const provider = compileProvider(record);
  return provider.keys.map((key) => ({ provider, key: { ...key, enabled: true }, upstreamModel: "" }));
}

function presentReport(report: OriginReport | undefined) {
  if (!report) return null;
  return { healthy: report.healthy, checked_at: new Date(report.checkedAt).toISOString(), waiting: report.waiting ?? null, kv_cache_usage: report.kvCacheUsage ?? null };
}

/** Hosted APIs have no /health; only self-hosted origins are probed (as the scheduled probe does). */
function isProbed(provider: string): boolean {
  return hostedBaseUrl(provider) === undefined;
}

export async function testConnection(c: AdminContext, record: ProviderRecord, keyId: string): Promise<Response> {
  const target = targetsOf(record).find((t) => t.key.id === keyId);
  if (!target) throw new GatewayError(404, `provider '${record.name}' has no key '${keyId}'`, "key_not_found");
  const started = Date.now();
  const [listed, probe] = await Promise.allSettled([
    listFromOrigin(c, target, null, true),
    isProbed(record.name) ? probeOrigin(c.env, target, true) : Promise.resolve(undefined),
  ]);
  const latency_ms = Date.now() - started;
  const health = presentReport(probe.status === "fulfilled" ? probe.value : undefined);
  if (listed.status === "fulfilled") return jsonResponse({ ok: true, latency_ms, models: listed.value.map((model) => model.id), health });
  const failure = asGatewayError(listed.reason);
  return jsonResponse({ ok: false, latency_ms, status: failure.status, code: failure.code ?? null, error: failure.message, health });
}

export async function originHealth(c: AdminContext, record: ProviderRecord): Promise<Response> {
  const settings = healthSettings(c.env);
  const probing = settingsOf(c.env);
  // The scheduled probe's last reports, as isolates read them with their config refresh.
  const reports = (await c.env.CONFIG_KV.get<ProbeReports>(PROBE_KV_KEY, "json")) ?? {};
  const now = Date.now();
  const keys = await Promise.all(
    targetsOf(record).map(async (target) => {
      const circuit = await circuitView(target, settings, now);
      return {
        key_id: target.key.id,
        key_name: target.key.name,
        enabled: record.keys.find((k) => k.id === target.key.id)?.enabled ?? false,
        circuit: {
          state: circuit.state,
          consecutive_failures: circuit.failures,
          open_until: circuit.openUntil ? new Date(circuit.openUntil).toISOString() : null,
          in_flight: circuit.inFlight,
          last_success_at: circuit.lastSuccessAt === null ? null : new Date(circuit.lastSuccessAt).toISOString(),
        },
        probe: presentReport(reports[originKey(target)]),
      };
    }),
  );
  return jsonResponse({
    provider: record.name,
    probe: { enabled: probing.HEALTH_PROBE, metrics: probing.HEALTH_PROBE_METRICS, probed: isProbed(record.name) },
    circuit: { failure_threshold: settings.threshold, cooldown_seconds: settings.cooldownMs / 1000 },
    keys,
  });
}
