/** /api/providers and /api/providers/{provider}/keys — Bifrost's provider and key management API. */
import { routeGroup, type App } from "../http/apps";
import type { Context } from "hono";
import { createProviderSchema, providerKeySchema, updateProviderSchema, type ProviderKey } from "../config/schema";
import { deleteProvider, loadProvider, loadProviders, publishSnapshot, saveProvider } from "../config/store";
import { parseOrThrow } from "../config/validation";
import type { AppEnv } from "../env";
import { readJsonObject } from "../http/body";
import { GatewayError, badRequest, jsonResponse } from "../http/errors";
import { originHealth, testConnection } from "./origin-checks";
import { presentKey, presentProvider, presentRecord } from "./present";
import { buildProviderRecord, identifyKey } from "./records";

const ADMIN_BODY_LIMIT = 4 * 1024 * 1024;

type AdminContext = Context<AppEnv>;

function readBody(c: AdminContext) {
  return readJsonObject(c.req.raw, ADMIN_BODY_LIMIT);
}

async function existingProvider(c: AdminContext, name: string) {
  const record = await loadProvider(c.env, name);
  if (!record) throw new GatewayError(404, `provider '${name}' is not configured`, "provider_not_found");
  return record;
}

function findKey(keys: readonly ProviderKey[], idOrName: string, provider: string): ProviderKey {
  const key = keys.find((k) => k.id === idOrName) ?? keys.find((k) => k.name === idOrName);
  if (!key) throw new GatewayError(404, `provider '${provider}' has no key '${idOrName}'`, "key_not_found");
  return key;
}

export const providerRoutes = routeGroup();

providerRoutes.get("/", async (c) => {
  const providers = (await loadProviders(c.env)).map(presentProvider);
  return jsonResponse({ providers, total: providers.length });
});

providerRoutes.post("/", async (c) => {
  const { provider: name, ...settings } = parseOrThrow(createProviderSchema, await readBody(c), "provider");
  if (await loadProvider(c.env, name)) {
    throw new GatewayError(409, `provider '${name}' already exists; update it with PUT /api/providers/${name}`, "provider_exists");
  }
  const { record, warnings } = buildProviderRecord(name, settings);
  await saveProvider(c.env, record);
  await publishSnapshot(c.env);
  return jsonResponse({ ...presentProvider(record), warnings });
});

providerRoutes.get("/:provider", async (c) => jsonResponse(presentProvider(await existingProvider(c, c.req.param("provider")))));

/**
 * Create-or-update: sections present in the body replace the stored ones; `keys`, when present, replaces the key set.
 * What the body leaves out is merged in masked, as the client would have sent it back: its stored secrets are kept,
 * but may not follow a key to a new origin.
 */
providerRoutes.put("/:provider", async (c) => {
  const name = c.req.param("provider");
  const { provider: named, name: alsoNamed, provider_status: _status, ...settings } = parseOrThrow(updateProviderSchema, await readBody(c), "provider");
  for (const provider of [named, alsoNamed]) {
    if (provider !== undefined && provider !== name) throw badRequest(`body names provider '${provider}' but the path names '${name}'`, "provider_mismatch", "provider");
  }
  const previous = await loadProvider(c.env, name);
  const shown = previous ? presentRecord(previous) : null;
  const merged = { ...(shown?.settings ?? {}), ...settings, keys: settings.keys ?? shown?.keys };
  const { record, warnings } = buildProviderRecord(name, merged, previous);
  await saveProvider(c.env, record);
  await publishSnapshot(c.env);
  return jsonResponse({ ...presentProvider(record), warnings });
});

providerRoutes.delete("/:provider", async (c) => {
  const name = c.req.param("provider");
  if (!(await deleteProvider(c.env, name))) throw new GatewayError(404, `provider '${name}' is not configured`, "provider_not_found");
  await publishSnapshot(c.env);
  return jsonResponse({ message: `provider '${name}' deleted` });
});

providerRoutes.get("/:provider/keys", async (c) => {
  const keys = (await existingProvider(c, c.req.param("provider"))).keys.map(presentKey);
  return jsonResponse({ keys, total: keys.length });
});

providerRoutes.post("/:provider/keys", async (c) => {
  const previous = await existingProvider(c, c.req.param("provider"));
  const key = identifyKey(parseOrThrow(providerKeySchema, await readBody(c), "key"));
  if (previous.keys.some((k) => k.id === key.id)) throw new GatewayError(409, `key id '${key.id}' already exists`, "key_exists");
  const shown = presentRecord(previous);
  const { record, warnings } = buildProviderRecord(previous.name, { ...shown.settings, keys: [...shown.keys, key] }, previous);
  await saveProvider(c.env, record);
  await publishSnapshot(c.env);
  return jsonResponse({ ...presentKey(findKey(record.keys, key.id, record.name)), warnings });
});

providerRoutes.get("/:provider/keys/:key", async (c) => {
  const record = await existingProvider(c, c.req.param("provider"));
  return jsonResponse(presentKey(findKey(record.keys, c.req.param("key"), record.name)));
});

/**
 * Partial update of one key: fields present replace the stored ones; a masked or omitted value keeps the stored
 * secret — unless the key's origin changes, which needs the secret re-entered.
 */
providerRoutes.put("/:provider/keys/:key", async (c) => {
  const previous = await existingProvider(c, c.req.param("provider"));
  const current = findKey(previous.keys, c.req.param("key"), previous.name);
  const patch = await readBody(c);
  if (patch.id !== undefined && patch.id !== current.id) throw badRequest("a key's id cannot change", "key_id_mismatch", "id");
  const shown = presentRecord(previous);
  const updated = identifyKey(parseOrThrow(providerKeySchema, { ...presentKey(current), ...patch }, "key"));
  const keys = shown.keys.map((k) => (k.id === current.id ? updated : k));
  const { record, warnings } = buildProviderRecord(previous.name, { ...shown.settings, keys }, previous);
  await saveProvider(c.env, record);
  await publishSnapshot(c.env);
  return jsonResponse({ ...presentKey(findKey(record.keys, current.id, record.name)), warnings });
});

/** "Test connection": the key's models, health and load, asked of its origin now (origin-checks.ts). */
providerRoutes.post("/:provider/keys/:key/test", async (c) => {
  const record = await existingProvider(c, c.req.param("provider"));
  return testConnection(c, record, findKey(record.keys, c.req.param("key"), record.name).id);
});

/** What routing believes of each key's origin: circuit state and the scheduled probe's last report. */
providerRoutes.get("/:provider/health", async (c) => originHealth(c, await existingProvider(c, c.req.param("provider"))));

providerRoutes.delete("/:provider/keys/:key", async (c) => {
  const previous = await existingProvider(c, c.req.param("provider"));
  const key = findKey(previous.keys, c.req.param("key"), previous.name);
  const shown = presentRecord(previous);
  const { record } = buildProviderRecord(previous.name, { ...shown.settings, keys: shown.keys.filter((k) => k.id !== key.id) }, previous);
  await saveProvider(c.env, record);
  await publishSnapshot(c.env);
  return jsonResponse({ message: `key '${key.name}' deleted` });
});
