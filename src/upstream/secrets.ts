/**
 * Secret-typed config values may be literals or `env.NAME` references to Worker secrets and variables — any except
 * the gateway's own settings, secrets and bindings (every field of Env), which provider configuration may not read.
 */
import type { Env } from "../env";
import { GatewayError } from "../http/errors";

const ENV_REF = /^env\.([A-Za-z_][A-Za-z0-9_]*)$/;

/** The gateway's own names. Provider config that could name them could send ADMIN_TOKEN to an origin of its choosing. */
const GATEWAY_NAMES = [
  "DB",
  "CONFIG_KV",
  "VK_LIMITER",
  "ADMIN_TOKEN",
  "LOCAL_ADMIN_WITHOUT_TOKEN",
  "DEFAULT_VLLM_URL",
  "MAX_REQUEST_BODY_MB",
  "MAX_UPLOAD_BODY_MB",
  "CONFIG_CACHE_SECONDS",
  "REQUIRE_VIRTUAL_KEY",
  "DEFAULT_MAX_TOKENS_ESTIMATE",
  "GROUP_LIMITER_CALLS",
  "RESERVATION_TTL_SECONDS",
  "CIRCUIT_FAILURE_THRESHOLD",
  "CIRCUIT_COOLDOWN_SECONDS",
  "SSE_KEEPALIVE_SECONDS",
  "CONFIG_ENCRYPTION_KEY",
  "EPHEMERAL_TOKEN_SECRET",
  "KEYLESS_ALLOWED_ORIGINS",
  "LOG_PAYLOADS",
  "LOG_RETENTION_DAYS",
  "RESPONSE_RETENTION_DAYS",
  "HEALTH_PROBE",
  "HEALTH_PROBE_METRICS",
  "HEALTH_PROBE_TTL_SECONDS",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_HEADERS",
  "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
  "OTEL_EXPORTER_OTLP_TIMEOUT",
  "OTEL_EXPORTER_OTLP_PROTOCOL",
  "OTEL_SERVICE_NAME",
  "OTEL_RESOURCE_ATTRIBUTES",
  "OTEL_BSP_SCHEDULE_DELAY",
  "OTEL_BSP_MAX_QUEUE_SIZE",
  "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
  "ALERT_WEBHOOK_URL",
  "ALERT_WEBHOOK_SECRET",
  "ALERT_THRESHOLDS",
] as const satisfies readonly (keyof Env)[];

/** Fails to compile when Env gains a field that is not listed above: a new gateway setting is reserved by default. */
type MustBeNever<T extends never> = T;
export type UnreservedGatewaySetting = MustBeNever<Exclude<keyof Env, (typeof GATEWAY_NAMES)[number]>>;

const RESERVED: ReadonlySet<string> = new Set(GATEWAY_NAMES);

/** True for the names of the gateway's own settings, secrets and bindings. */
export function isGatewayName(name: string): boolean {
  return RESERVED.has(name);
}

export function isEnvReference(value: string): boolean {
  return ENV_REF.test(value);
}

/** Why a value may not be stored, or undefined when it may: an `env.NAME` reference to one of the gateway's own names. */
export function envReferenceProblem(value: string): string | undefined {
  const name = ENV_REF.exec(value)?.[1];
  if (name === undefined || !RESERVED.has(name)) return undefined;
  return `env.${name} is one of the gateway's own settings; provider configuration may reference other Worker secrets and variables only`;
}

/**
 * A provider setting the gateway cannot use. The detail (which variable, which binding, the encryption key) is for
 * the operator's logs; the client learns which provider key is misconfigured, not the gateway's environment.
 */
export function unresolved(what: string, detail: string): GatewayError {
  console.error(JSON.stringify({ event: "provider_config_unresolved", what, detail }));
  return new GatewayError(502, `${what} cannot be used: its configuration on the gateway is incomplete (the gateway's logs say why)`, "provider_config_unresolved");
}

/** Resolves a config value; `what` names it in the error when an env reference points nowhere. */
export function resolveSecret(value: string, env: object, what: string): string {
  if (value.startsWith("enc:v1:")) {
    throw unresolved(what, "stored encrypted and cannot be opened: set the CONFIG_ENCRYPTION_KEY it was stored with");
  }
  const match = ENV_REF.exec(value);
  if (!match) return value;
  const name = match[1] ?? "";
  // Configuration stored before the rule existed is refused here, never sent.
  if (RESERVED.has(name)) {
    throw unresolved(what, `refers to env.${name}, one of the gateway's own settings, which provider configuration may not use`);
  }
  const resolved: unknown = Object.hasOwn(env, name) ? (env as Record<string, unknown>)[name] : undefined;
  if (typeof resolved !== "string") throw unresolved(what, `refers to env.${name}, which is not set in the gateway's environment`);
  return resolved;
}
