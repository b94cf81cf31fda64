/**
 * Encryption at rest for secrets in configuration. With the CONFIG_ENCRYPTION_KEY Worker secret set, literal key
 * values, Access service-token values and `network_config.extra_headers` values are stored in D1 and KV — and alert
 * webhook secrets in D1 and Durable Object storage (alerts/config.ts) — as `enc:v1:<iv>.<ciphertext>` (AES-256-GCM
 * under a key derived from the secret), and opened only in isolate memory. `env.NAME` references are not secrets and
 * stay as they are. Without the secret, values are stored as given.
 */
import { isEnvReference } from "../upstream/secrets";
import { lastResolved } from "./last-resolved";
import type { ProviderKey, ProviderRecord } from "./schema";

const PREFIX = "enc:v1:";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const keyFor = lastResolved(async (secret) => crypto.subtle.importKey("raw", await crypto.subtle.digest("SHA-256", encoder.encode(secret)), "AES-GCM", false, ["encrypt", "decrypt"]));

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

/** One value sealed for storage; empty values, `env.NAME` references and values already sealed stay as they are. */
export async function sealSecret(value: string, secret: string): Promise<string> {
  if (value === "" || isEnvReference(value) || isSealed(value)) return value;
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await keyFor(secret), encoder.encode(value)));
  return `${PREFIX}${toBase64(iv)}.${toBase64(sealed)}`;
}

/** One stored value opened; a value that is not sealed, or that this secret cannot open, comes back unchanged. */
export async function openSecret(value: string, secret: string | undefined): Promise<string> {
  if (!isSealed(value)) return value;
  if (!secret) return value; // stays sealed: the request path reports it as unresolved
  const [iv, data] = value.slice(PREFIX.length).split(".");
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromBase64(iv ?? "") }, await keyFor(secret), fromBase64(data ?? ""));
    return decoder.decode(plain);
  } catch {
    return value; // another key sealed it: unusable, and reported as unresolved when used
  }
}

async function mapSecrets(key: ProviderKey, transform: (value: string) => Promise<string>): Promise<ProviderKey> {
  const out: ProviderKey = { ...key, value: await transform(key.value) };
  if (key.cloudflare_access) {
    out.cloudflare_access = { client_id: await transform(key.cloudflare_access.client_id), client_secret: await transform(key.cloudflare_access.client_secret) };
  }
  return out;
}

type Settings = ProviderRecord["settings"];

async function mapHeaderSecrets(settings: Settings, transform: (value: string) => Promise<string>): Promise<Settings> {
  const headers = settings.network_config?.extra_headers;
  if (!headers || Object.keys(headers).length === 0) return settings;
  const entries = await Promise.all(Object.entries(headers).map(async ([name, value]) => [name, await transform(value)] as const));
  return { ...settings, network_config: { ...settings.network_config, extra_headers: Object.fromEntries(entries) } };
}

function hasSealed(record: ProviderRecord): boolean {
  if (Object.values(record.settings.network_config?.extra_headers ?? {}).some(isSealed)) return true;
  return record.keys.some((key) => isSealed(key.value) || (key.cloudflare_access !== undefined && (isSealed(key.cloudflare_access.client_id) || isSealed(key.cloudflare_access.client_secret))));
}

export async function sealRecord(record: ProviderRecord, secret: string | undefined): Promise<ProviderRecord> {
  if (!secret) return record;
  const close = (value: string) => sealSecret(value, secret);
  return { ...record, settings: await mapHeaderSecrets(record.settings, close), keys: await Promise.all(record.keys.map((key) => mapSecrets(key, close))) };
}

export async function openRecord(record: ProviderRecord, secret: string | undefined): Promise<ProviderRecord> {
  if (!hasSealed(record)) return record;
  const unseal = (value: string) => openSecret(value, secret);
  return { ...record, settings: await mapHeaderSecrets(record.settings, unseal), keys: await Promise.all(record.keys.map((key) => mapSecrets(key, unseal))) };
}
