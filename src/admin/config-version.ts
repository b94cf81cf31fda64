/**
 * Bifrost's config.json `version`. Version 2 (the default since Bifrost v1.5) reads an empty allow-list as "none" and
 * `["*"]` as "all", as this gateway does. Version 1 restores Bifrost v1.4's reading, where an empty list allows
 * everything: such lists are rewritten to what means "all" here before the file is read, so a v1 file keeps serving
 * what it served.
 */
import { badRequest } from "../http/errors";
import type { JsonObject } from "../http/body";

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);
const isEmptyList = (value: unknown) => Array.isArray(value) && value.length === 0;

/** The file read as version 2; `warnings` gets what version 1 meant that cannot be kept. */
export function asVersionTwo(file: JsonObject, warnings: string[]): JsonObject {
  const { version, ...rest } = file;
  if (version === undefined || version === 2) return rest;
  if (version !== 1) throw badRequest("version must be 1 or 2", "invalid_request", "version");
  const providers = isObject(rest.providers) ? rest.providers : {};
  for (const provider of Object.values(providers)) {
    if (!isObject(provider) || !Array.isArray(provider.keys)) continue;
    for (const key of provider.keys) if (isObject(key) && isEmptyList(key.models)) key.models = ["*"];
  }
  const governance = isObject(rest.governance) ? rest.governance : {};
  for (const key of Array.isArray(governance.virtual_keys) ? governance.virtual_keys : []) {
    if (!isObject(key)) continue;
    const configs = Array.isArray(key.provider_configs) ? key.provider_configs : [];
    if (configs.length === 0) {
      warnings.push(`virtual key '${String(key.name)}': version 1 let a key without provider_configs use every provider; here it may use none until they are listed`);
    }
    for (const config of configs) {
      if (!isObject(config)) continue;
      if (isEmptyList(config.allowed_models)) delete config.allowed_models;
      if (isEmptyList(config.key_ids)) delete config.key_ids;
    }
  }
  return rest;
}
