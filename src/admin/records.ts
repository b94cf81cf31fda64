/** Builds validated provider records from admin input, shared by the provider, key and import endpoints. */
import { compatibilityWarnings } from "../config/compat";
import { validateProvider } from "../config/providers";
import type { ProviderKey, ProviderKeyInput, ProviderRecord, ProviderSettings } from "../config/schema";
import { restoreMaskedSecrets } from "./present";

/** Gives every key an id and a name (each defaults to the other; a fresh UUID when both are missing). */
export function identifyKey(key: ProviderKeyInput): ProviderKey {
  const id = key.id ?? crypto.randomUUID();
  return { ...key, id, name: key.name ?? id };
}

export interface BuiltRecord {
  record: ProviderRecord;
  warnings: string[];
}

/** Validates a provider as a whole and restores masked secrets from the previous version of it. */
export function buildProviderRecord(name: string, settings: ProviderSettings, previous?: ProviderRecord | null): BuiltRecord {
  const { keys: keyInputs, ...rest } = settings;
  const keys = (keyInputs ?? previous?.keys ?? []).map((key) => restoreMaskedSecrets(identifyKey(key), previous?.keys ?? []));
  const whole: ProviderSettings = { ...rest, keys };
  validateProvider(name, whole);
  return { record: { name, settings: rest, keys }, warnings: compatibilityWarnings(name, whole) };
}
