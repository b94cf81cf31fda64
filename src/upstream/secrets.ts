/** Secret-typed config values may be literals or `env.NAME` references to Worker secrets and variables. */
import { GatewayError } from "../http/errors";

const ENV_REF = /^env\.([A-Za-z_][A-Za-z0-9_]*)$/;

export function isEnvReference(value: string): boolean {
  return ENV_REF.test(value);
}

/** Resolves a config value; `what` names it in the error when an env reference points nowhere. */
export function resolveSecret(value: string, env: object, what: string): string {
  if (value.startsWith("enc:v1:")) {
    throw new GatewayError(502, `${what} is stored encrypted and cannot be opened: set the CONFIG_ENCRYPTION_KEY it was stored with`, "provider_config_unresolved");
  }
  const match = ENV_REF.exec(value);
  if (!match) return value;
  const name = match[1] ?? "";
  const resolved: unknown = (env as Record<string, unknown>)[name];
  if (typeof resolved !== "string") {
    throw new GatewayError(502, `${what} refers to env.${name}, which is not set in the gateway's environment`, "provider_config_unresolved");
  }
  return resolved;
}
