/**
 * The gateway's variables, parsed once per environment object (so once per isolate) into typed settings. A
 * malformed value is not replaced by a default: every request answers 500 `gateway_misconfigured` naming the
 * variable until it is fixed. Switches fail closed — `REQUIRE_VIRTUAL_KEY` requires keys unless it is exactly
 * "false", so an environment that forgot it (a new `[env.*]` section does not inherit `vars`) is not keyless.
 */
import * as z from "zod/mini";
import type { Env } from "./env";
import { GatewayError } from "./http/errors";
import { parseKeyValueList } from "./telemetry/key-value-list";
import { ALERT_URL_RULE, isAlertUrl, normaliseThresholds } from "./alerts/config";

/** A setting's raw value turned into its typed one, or an issue naming what is wrong with it. */
function setting<T>(fallback: T, read: (raw: string) => T | undefined, expected: string) {
  return z.pipe(
    z.optional(z.string()),
    z.transform((raw: string | undefined, ctx): T => {
      if (raw === undefined) return fallback;
      const value = read(raw);
      if (value !== undefined) return value;
      ctx.issues.push({ code: "custom", message: `must be ${expected}, not ${JSON.stringify(raw.slice(0, 40))}`, input: raw });
      return z.NEVER;
    }),
  );
}

/** A positive number given as a string; absent means the default. */
function positive(fallback: number) {
  return setting(
    fallback,
    (raw) => {
      const value = Number(raw.trim());
      return raw.trim() !== "" && Number.isFinite(value) && value > 0 ? value : undefined;
    },
    "a positive number",
  );
}

/** An http(s) URL; absent means none. */
function optionalUrl() {
  return setting<string | undefined>(undefined, (raw) => (URL.canParse(raw.trim()) && /^https?:$/.test(new URL(raw.trim()).protocol) ? raw.trim() : undefined), "an http or https URL");
}

/** OpenTelemetry's `key=value,…` list, percent-decoded; absent means empty. */
function keyValues() {
  return setting<Record<string, string>>({}, parseKeyValueList, "a list of key=value pairs separated by commas (percent-encoded)");
}

/** "true" or "false"; absent means the default. */
function flag(fallback: boolean) {
  return setting(
    fallback,
    (raw) => {
      const value = raw.trim().toLowerCase();
      return value === "true" || value === "false" ? value === "true" : undefined;
    },
    '"true" or "false"',
  );
}

const settingsSchema = z.object({
  MAX_REQUEST_BODY_MB: positive(32),
  MAX_UPLOAD_BODY_MB: positive(100),
  CONFIG_CACHE_SECONDS: positive(10),
  // Fail closed: anything but exactly "false" requires a virtual key.
  REQUIRE_VIRTUAL_KEY: z.pipe(
    z.optional(z.string()),
    z.transform((raw: string | undefined) => raw?.trim().toLowerCase() !== "false"),
  ),
  DEFAULT_MAX_TOKENS_ESTIMATE: positive(4096),
  RESERVATION_TTL_SECONDS: positive(60),
  // The share of each limit isolates may lease for admission without a round trip, for keys, teams and customers
  // that set none themselves (0: every request asks its limiters; the bound on overspend).
  LEASE_SHARE: setting(
    0,
    (raw) => {
      const value = Number(raw.trim());
      return raw.trim() !== "" && Number.isFinite(value) && value >= 0 && value <= 0.5 ? value : undefined;
    },
    "a number from 0 to 0.5",
  ),
  LEASE_TTL_SECONDS: positive(10),
  // One call carries what an isolate's requests ask of a limiter while its previous call runs (limiter-line.ts).
  GROUP_LIMITER_CALLS: flag(true),
  CIRCUIT_FAILURE_THRESHOLD: positive(3),
  CIRCUIT_COOLDOWN_SECONDS: positive(10),
  SSE_KEEPALIVE_SECONDS: positive(15),
  KEYLESS_ALLOWED_ORIGINS: z.pipe(
    z.optional(z.string()),
    z.transform((raw: string | undefined) => (raw ?? "").split(",").map((entry) => entry.trim()).filter(Boolean)),
  ),
  LOG_PAYLOADS: flag(false),
  LOG_RETENTION_DAYS: positive(30),
  RESPONSE_RETENTION_DAYS: positive(30),
  HEALTH_PROBE: flag(false),
  HEALTH_PROBE_METRICS: flag(false),
  HEALTH_PROBE_TTL_SECONDS: positive(180),
  LOCAL_ADMIN_WITHOUT_TOKEN: flag(false),
  // Trace export under OpenTelemetry's own variable names (telemetry/): nothing is recorded while no endpoint is set.
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalUrl(),
  OTEL_EXPORTER_OTLP_HEADERS: keyValues(),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: keyValues(),
  OTEL_EXPORTER_OTLP_TIMEOUT: positive(10_000),
  // JSON is the only encoding sent: a collector asked for protobuf or gRPC would be told wrongly, so it is refused.
  OTEL_EXPORTER_OTLP_PROTOCOL: setting("http/json", (raw) => (raw.trim() === "http/json" ? "http/json" : undefined), '"http/json" (the only protocol the gateway sends)'),
  OTEL_SERVICE_NAME: setting<string | undefined>(undefined, (raw) => (raw.trim() !== "" ? raw.trim() : undefined), "a name"),
  OTEL_RESOURCE_ATTRIBUTES: keyValues(),
  OTEL_BSP_SCHEDULE_DELAY: positive(1000),
  OTEL_BSP_MAX_QUEUE_SIZE: positive(2048),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: positive(512),
  // The alert webhook of every key, team and customer that names none of its own (alerts/).
  ALERT_WEBHOOK_URL: setting<string | undefined>(undefined, (raw) => (isAlertUrl(raw.trim()) ? raw.trim() : undefined), ALERT_URL_RULE),
  ALERT_THRESHOLDS: setting(
    [50, 80, 100],
    (raw) => {
      const values = raw.split(",").filter((entry) => entry.trim() !== "").map(Number);
      return values.every((value) => value > 0 && value <= 100) ? normaliseThresholds(values) : undefined;
    },
    "percentages from 1 to 100 separated by commas",
  ),
  // Secrets are checked too: a weak or blank one is a misconfiguration, not a feature quietly switched off.
  ALERT_WEBHOOK_SECRET: z.optional(z.string().check(z.refine((value) => value.trim() !== "", "must not be blank"))),
  ADMIN_TOKEN: z.optional(z.string().check(z.refine((value) => value.trim() !== "", "must not be blank"))),
  EPHEMERAL_TOKEN_SECRET: z.optional(z.string().check(z.minLength(32, "must be at least 32 characters"))),
  CONFIG_ENCRYPTION_KEY: z.optional(z.string().check(z.minLength(16, "must be at least 16 characters"))),
});

export type Settings = z.output<typeof settingsSchema>;

const parsed = new WeakMap<Env, Settings | GatewayError>();

function parse(env: Env): Settings | GatewayError {
  const result = z.safeParse(settingsSchema, env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`).join("; ");
  console.error(JSON.stringify({ event: "gateway_misconfigured", problems }));
  return new GatewayError(500, `the gateway is misconfigured: ${problems}`, "gateway_misconfigured");
}

/** The settings of this environment; throws the misconfiguration (a 500 naming the variables) when there is one. */
export function settingsOf(env: Env): Settings {
  let settings = parsed.get(env);
  if (settings === undefined) {
    settings = parse(env);
    parsed.set(env, settings);
  }
  if (settings instanceof GatewayError) throw settings;
  return settings;
}
