/**
 * The gateway's variables, parsed once per environment object (so once per isolate) into typed settings. A
 * malformed value is not replaced by a default: every request answers 500 `gateway_misconfigured` naming the
 * variable until it is fixed. Switches fail closed — `REQUIRE_VIRTUAL_KEY` requires keys unless it is exactly
 * "false", so an environment that forgot it (a new `[env.*]` section does not inherit `vars`) is not keyless.
 */
import { z } from "zod";
import type { Env } from "./env";
import { GatewayError } from "./http/errors";

/** A positive number given as a string; absent means the default. */
function positive(fallback: number) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return fallback;
      const value = Number(raw.trim());
      if (raw.trim() !== "" && Number.isFinite(value) && value > 0) return value;
      ctx.addIssue({ code: "custom", message: `must be a positive number, not ${JSON.stringify(raw.slice(0, 40))}` });
      return z.NEVER;
    });
}

/** "true" or "false"; absent means the default. */
function flag(fallback: boolean) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return fallback;
      const value = raw.trim().toLowerCase();
      if (value === "true" || value === "false") return value === "true";
      ctx.addIssue({ code: "custom", message: `must be "true" or "false", not ${JSON.stringify(raw.slice(0, 40))}` });
      return z.NEVER;
    });
}

const settingsSchema = z.object({
  MAX_REQUEST_BODY_MB: positive(32),
  MAX_UPLOAD_BODY_MB: positive(100),
  CONFIG_CACHE_SECONDS: positive(10),
  // Fail closed: anything but exactly "false" requires a virtual key.
  REQUIRE_VIRTUAL_KEY: z.string().optional().transform((raw) => raw?.trim().toLowerCase() !== "false"),
  DEFAULT_MAX_TOKENS_ESTIMATE: positive(4096),
  RESERVATION_TTL_SECONDS: positive(60),
  CIRCUIT_FAILURE_THRESHOLD: positive(3),
  CIRCUIT_COOLDOWN_SECONDS: positive(10),
  SSE_KEEPALIVE_SECONDS: positive(15),
  KEYLESS_ALLOWED_ORIGINS: z
    .string()
    .optional()
    .transform((raw) => (raw ?? "").split(",").map((entry) => entry.trim()).filter(Boolean)),
  LOG_PAYLOADS: flag(false),
  LOG_RETENTION_DAYS: positive(30),
  HEALTH_PROBE: flag(false),
  HEALTH_PROBE_METRICS: flag(false),
  HEALTH_PROBE_TTL_SECONDS: positive(180),
  LOCAL_ADMIN_WITHOUT_TOKEN: flag(false),
  // Secrets are checked too: a weak or blank one is a misconfiguration, not a feature quietly switched off.
  ADMIN_TOKEN: z.string().refine((value) => value.trim() !== "", "must not be blank").optional(),
  EPHEMERAL_TOKEN_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  CONFIG_ENCRYPTION_KEY: z.string().min(16, "must be at least 16 characters").optional(),
});

export type Settings = z.output<typeof settingsSchema>;

const parsed = new WeakMap<Env, Settings | GatewayError>();

function parse(env: Env): Settings | GatewayError {
  const result = settingsSchema.safeParse(env);
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
