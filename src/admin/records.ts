/** Builds validated provider records from admin input, shared by the provider, key and import endpoints. */
import { compatibilityWarnings } from "../config/compat";
import { keyDestinations, providerDestinations, validateProvider } from "../config/providers";
import type { ProviderKey, ProviderKeyInput, ProviderRecord, ProviderSettings } from "../config/schema";
import { GatewayError } from "../http/errors";
import { presentKey, restoreMaskedHeaders, restoreMaskedSecrets } from "./present";

/**
 * Gives every key an id and a name (each defaults to the other; a fresh UUID when both are missing). A key sent
 * again without its id (a re-imported config.json) keeps the id of the stored key with its name, so virtual keys'
 * `key_ids` and logs still point at it.
 */
export function identifyKey(key: ProviderKeyInput, stored: readonly ProviderKey[] = []): ProviderKey {
  const id = key.id ?? (key.name !== undefined ? stored.find((known) => known.name === key.name)?.id : undefined) ?? crypto.randomUUID();
  return { ...key, id, name: key.name ?? id };
}

export interface BuiltRecord {
  record: ProviderRecord;
  warnings: string[];
}

function reentryRequired(message: string): GatewayError {
  return new GatewayError(400, message, "secret_reentry_required");
}

function firstNew(now: Iterable<string>, before: ReadonlySet<string>): string | undefined {
  for (const destination of now) if (!before.has(destination)) return destination;
  return undefined;
}

/**
 * A stored secret goes only where it went when it was entered: a key whose requests would reach a new destination
 * (its URL, its provider's base URL or an absolute path override changed) must carry its secrets in full or as
 * env.NAME, and so must the provider's extra headers when any of its requests would.
 */
function checkKeptSecretsStayPut(name: string, settings: ProviderRecord["settings"], keys: readonly ProviderKey[], kept: Map<ProviderKey, string[]>, keptHeaders: string[], previous: ProviderRecord): void {
  for (const key of keys) {
    const fields = kept.get(key) ?? [];
    if (fields.length === 0) continue;
    const stored = previous.keys.find((k) => k.id === key.id) ?? previous.keys.find((k) => k.name === key.name);
    if (!stored) continue;
    const moved = firstNew(keyDestinations(name, settings, key), new Set(keyDestinations(name, previous.settings, stored)));
    if (moved !== undefined) {
      throw reentryRequired(
        `key '${key.name}' of provider '${name}' would send its stored ${fields.join(" and ")} to a new origin (${moved}): ` +
          "re-enter it in full or as env.NAME — a masked or omitted secret does not follow a key to a new origin",
      );
    }
  }
  if (keptHeaders.length === 0) return;
  const moved = firstNew(providerDestinations(name, settings, keys), providerDestinations(name, previous.settings, previous.keys));
  if (moved !== undefined) {
    throw reentryRequired(
      `provider '${name}' would send its stored network_config.extra_headers values (${keptHeaders.join(", ")}) to a new origin (${moved}): ` +
        `re-enter them in full or as env.NAME (PUT /api/providers/${name} with network_config) — a masked or omitted secret does not follow a provider to a new origin`,
    );
  }
}

/**
 * Validates a provider as a whole and restores masked secrets from the previous version of it. Callers pass what
 * the client did not send in its masked form (presentRecord), so "kept" and "sent back masked" are the same thing.
 */
export function buildProviderRecord(name: string, settings: ProviderSettings, previous?: ProviderRecord | null): BuiltRecord {
  const { keys: keyInputs, ...sent } = settings;
  const { value: rest, kept: keptHeaders } = restoreMaskedHeaders(sent, previous?.settings);
  const kept = new Map<ProviderKey, string[]>();
  const keys = (keyInputs ?? previous?.keys.map(presentKey) ?? []).map((input) => {
    const { value: key, kept: fields } = restoreMaskedSecrets(identifyKey(input, previous?.keys), previous?.keys ?? []);
    kept.set(key, fields);
    return key;
  });
  const whole: ProviderSettings = { ...rest, keys };
  validateProvider(name, whole);
  if (previous) checkKeptSecretsStayPut(name, rest, keys, kept, keptHeaders, previous);
  return { record: { name, settings: rest, keys }, warnings: compatibilityWarnings(name, whole) };
}
