/**
 * How providers and keys leave the admin API: secrets masked — key values, Access service tokens and extra header
 * values. A masked value sent back on update means "unchanged", so clients can round-trip what they read.
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

type Settings = ProviderRecord["settings"];

function mapHeaders(headers: Record<string, string>, transform: (name: string, value: string) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, transform(name, value)]));
}

/** A provider's settings with its extra header values masked. */
export function presentSettings(settings: Settings): Settings {
  const headers = settings.network_config?.extra_headers;
  if (!headers) return settings;
  return { ...settings, network_config: { ...settings.network_config, extra_headers: mapHeaders(headers, (_, value) => maskSecret(value)) } };
}

/** A provider as admin answers show it: what clients send back unchanged keeps every stored secret. */
export function presentRecord(record: ProviderRecord): ProviderRecord {
  return { name: record.name, settings: presentSettings(record.settings), keys: record.keys.map(presentKey) };
}

export function presentProvider(record: ProviderRecord): Record<string, unknown> {
  return {
    name: record.name,
    provider: record.name,
    ...presentSettings(record.settings),
    keys: record.keys.map(presentKey),
    provider_status: "active",
  };
}

/** True when `incoming` is the masked form of a stored literal secret (not a value of its own). */
function isMaskOf(incoming: string, stored: string | undefined): stored is string {
  return stored !== undefined && incoming === maskSecret(stored) && incoming !== stored;
}

/** A value after restoring masked secrets, with the fields whose stored secret was kept rather than sent. */
export interface Restored<T> {
  value: T;
  kept: string[];
}

/** Restores stored secrets where the incoming key carries their masked form. Keys match by id, then by name. */
export function restoreMaskedSecrets(incoming: ProviderKey, previous: readonly ProviderKey[]): Restored<ProviderKey> {
  const stored = previous.find((key) => key.id === incoming.id) ?? previous.find((key) => key.name === incoming.name);
  if (!stored) return { value: incoming, kept: [] };
  const kept: string[] = [];
  const restore = (field: string, value: string, from: string | undefined): string => {
    if (!isMaskOf(value, from)) return value;
    kept.push(field);
    return from;
  };
  const restored: ProviderKey = { ...incoming, value: restore("value", incoming.value, stored.value) };
  if (incoming.cloudflare_access) {
    restored.cloudflare_access = {
      client_id: restore("cloudflare_access.client_id", incoming.cloudflare_access.client_id, stored.cloudflare_access?.client_id),
      client_secret: restore("cloudflare_access.client_secret", incoming.cloudflare_access.client_secret, stored.cloudflare_access?.client_secret),
    };
  }
  return { value: restored, kept };
}

/** Restores stored extra header values where the incoming settings carry their masked form (names match ignoring case). */
export function restoreMaskedHeaders(incoming: Settings, previous: Settings | undefined): Restored<Settings> {
  const headers = incoming.network_config?.extra_headers;
  const stored = previous?.network_config?.extra_headers;
  if (!headers || !stored) return { value: incoming, kept: [] };
  const storedByName = new Map(Object.entries(stored).map(([name, value]) => [name.toLowerCase(), value]));
  const kept: string[] = [];
  const restored = mapHeaders(headers, (name, value) => {
    const from = storedByName.get(name.toLowerCase());
    if (!isMaskOf(value, from)) return value;
    kept.push(name);
    return from;
  });
  return { value: { ...incoming, network_config: { ...incoming.network_config, extra_headers: restored } }, kept };
}
