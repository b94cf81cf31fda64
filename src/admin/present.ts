/**
 * How providers and keys leave the admin API: secrets masked. A masked value sent back on update means
 * "unchanged", so clients can round-trip what they read.
 */
import type { ProviderKey, ProviderRecord } from "../config/schema";
import { isEnvReference } from "../upstream/secrets";

export function maskSecret(value: string): string {
  if (value === "" || isEnvReference(value)) return value;
  if (value.length < 16) return "********";
  return `${value.slice(0, 3)}********${value.slice(-4)}`;
}

export function presentKey(key: ProviderKey): ProviderKey {
  const presented: ProviderKey = { ...key, value: maskSecret(key.value) };
  if (key.cloudflare_access) {
    presented.cloudflare_access = {
      client_id: maskSecret(key.cloudflare_access.client_id),
      client_secret: maskSecret(key.cloudflare_access.client_secret),
    };
  }
  return presented;
}

export function presentProvider(record: ProviderRecord): Record<string, unknown> {
  return {
    name: record.name,
    provider: record.name,
    ...record.settings,
    keys: record.keys.map(presentKey),
    provider_status: "active",
  };
}

function keepIfMasked(incoming: string, stored: string | undefined): string {
  return stored !== undefined && incoming === maskSecret(stored) ? stored : incoming;
}

/** Restores stored secrets where the incoming key carries their masked form. Keys match by id, then by name. */
export function restoreMaskedSecrets(incoming: ProviderKey, previous: readonly ProviderKey[]): ProviderKey {
  const stored = previous.find((key) => key.id === incoming.id) ?? previous.find((key) => key.name === incoming.name);
  if (!stored) return incoming;
  const restored: ProviderKey = { ...incoming, value: keepIfMasked(incoming.value, stored.value) };
  if (incoming.cloudflare_access) {
    restored.cloudflare_access = {
      client_id: keepIfMasked(incoming.cloudflare_access.client_id, stored.cloudflare_access?.client_id),
      client_secret: keepIfMasked(incoming.cloudflare_access.client_secret, stored.cloudflare_access?.client_secret),
    };
  }
  return restored;
}
