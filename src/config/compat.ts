/**
 * Bifrost fields this gateway accepts so existing config.json files and scripts keep working, but cannot act on.
 * They are stored as given and reported back as warnings — accepted, never silently ignored.
 */
import type { ProviderSettings } from "./schema";

const PROVIDER_FIELDS: Record<string, string> = {
  concurrency_and_buffer_size: "Workers scale per request; there is no worker queue to size",
  proxy_config: "Workers cannot use an outbound proxy",
  send_back_raw_request: "raw provider payloads are not echoed",
  send_back_raw_response: "raw provider payloads are not echoed",
  store_raw_request_response: "raw provider payloads are not stored",
  openai_config: "OpenAI-specific provider options are not used",
};

const NETWORK_FIELDS: Record<string, string> = {
  max_conns_per_host: "the Workers runtime manages upstream connections",
  insecure_skip_verify: "the Workers runtime always verifies TLS",
  ca_cert_pem: "the Workers runtime uses its own trust store",
  enforce_http2: "the Workers runtime negotiates the protocol",
  beta_header_overrides: "applies to Anthropic's native API only",
  allow_private_network: "origins on private networks are reached through Cloudflare Tunnel or a key's vpc_binding",
  keep_alive_timeout_in_seconds: "the Workers runtime manages upstream connections",
  http2_ping_interval_in_seconds: "the Workers runtime manages upstream connections",
};

const KEY_FIELDS: Record<string, string> = {
  use_for_batch_api: "batches are not supported",
  status: "bookkeeping field",
  config_hash: "bookkeeping field",
};

export function compatibilityWarnings(providerName: string, settings: ProviderSettings): string[] {
  const warnings: string[] = [];
  const note = (path: string, why: string) => warnings.push(`providers.${providerName}.${path} is accepted but has no effect: ${why}`);
  for (const [field, why] of Object.entries(PROVIDER_FIELDS)) {
    if (field in settings && settings[field as keyof ProviderSettings] !== undefined) note(field, why);
  }
  const network = settings.network_config;
  if (network) {
    for (const [field, why] of Object.entries(NETWORK_FIELDS)) {
      if (network[field as keyof typeof network] !== undefined) note(`network_config.${field}`, why);
    }
  }
  (settings.keys ?? []).forEach((key, index) => {
    for (const [field, why] of Object.entries(KEY_FIELDS)) {
      if (key[field as keyof typeof key] !== undefined) note(`keys[${index}].${field}`, why);
    }
  });
  return warnings;
}
