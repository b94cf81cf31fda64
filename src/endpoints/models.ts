/**
 * GET /v1/models: every enabled key's origin is asked in parallel; cards are renamed to the client-facing
 * `provider/name`, filtered by each key's models/aliases, deduplicated and sorted. One dead origin does not fail
 * the list; only when every origin fails does the client get a 502.
 */
import { getRoutingTable } from "../config/store";
import { isJsonObject, type JsonObject } from "../http/body";
import { waitUntilOf, type AppContext } from "../http/context";
import { GatewayError, jsonResponse } from "../http/errors";
import type { Target } from "../routing/resolve";
import { servedModelName, type CompiledKey, type RoutingTable } from "../routing/table";
import { allowsModel, keyAllowed } from "../governance/routing";
import type { VirtualKeyRecord } from "../governance/schema";
import { callOrigin, originLabel } from "../upstream/origin";
import { authenticate } from "../pipeline/authenticate";
import { relayJson } from "../upstream/respond";

const LIST_TIMEOUT_MS = 10_000;

/** The client-facing names under which a key exposes a model its origin serves. */
export function publicNamesFor(key: CompiledKey, served: string): string[] {
  const names = new Set<string>();
  for (const [alias, target] of key.aliases) if (target === served) names.add(alias);
  if (key.modelName === undefined) names.add(served);
  else if (key.modelName === served) {
    names.add(served);
    for (const model of key.models ?? []) names.add(model);
  }
  return [...names].filter((name) => servedModelName(key, name) === served);
}

function listTargets(table: RoutingTable, allowed: (provider: string, key: CompiledKey) => boolean): Target[] {
  const targets: Target[] = [];
  const seen = new Set<string>();
  for (const provider of table.providers.values()) {
    if (provider.allowedRequests && !provider.allowedRequests.has("list_models")) continue;
    for (const key of provider.keys) {
      // Keys of one provider sharing an origin and credentials would list the same thing.
      const identity = `${provider.name}\n${key.originUrl}\n${key.value}`;
      if (!key.enabled || seen.has(identity) || !allowed(provider.name, key)) continue;
      seen.add(identity);
      targets.push({ provider, key, upstreamModel: "" });
    }
  }
  return targets;
}

/**
 * Each origin's model cards, kept briefly per isolate: listing is cheap for clients to ask for and fans out to every
 * origin, so without this a client could turn its requests into many times as many origin calls.
 */
const MODEL_LIST_CACHE_MS = 5_000;
const cachedCards = new Map<string, { cards: JsonObject[]; at: number }>();

async function originCards(c: AppContext, target: Target, fresh: boolean): Promise<JsonObject[]> {
  const identity = `${target.provider.name}\n${target.key.id}\n${target.key.originUrl}`;
  const cached = cachedCards.get(identity);
  if (!fresh && cached && Date.now() - cached.at < MODEL_LIST_CACHE_MS) return cached.cards;
  const call = await callOrigin(
    {
      target,
      path: "/v1/models",
      pathKey: "list_models",
      method: "GET",
      requestId: c.get("requestId"),
      clientSignal: c.req.raw.signal,
      timeoutMs: Math.min(target.provider.timeoutMs, LIST_TIMEOUT_MS),
    },
    c.env,
  );
  const { body } = await relayJson(call, target, "");
  const cards = Array.isArray(body.data) ? body.data.filter(isJsonObject) : [];
  if (cachedCards.size >= 1_000) cachedCards.clear();
  cachedCards.set(identity, { cards, at: Date.now() });
  return cards;
}

/** The origin's models under their client-facing names; `fresh` asks the origin now (an admin's connection test). */
export async function listFromOrigin(c: AppContext, target: Target, vk: VirtualKeyRecord | null, fresh = false): Promise<JsonObject[]> {
  const cards = await originCards(c, target, fresh);
  const out: JsonObject[] = [];
  for (const card of cards) {
    if (typeof card.id !== "string") continue;
    for (const name of publicNamesFor(target.key, card.id)) {
      if (!visibleTo(vk, target.provider.name, name)) continue;
      out.push({ ...card, id: `${target.provider.name}/${name}`, object: "model", owned_by: card.owned_by ?? target.provider.name });
    }
  }
  return out;
}

/** Under a virtual key, only what it may use (deny by default). */
function visibleTo(vk: VirtualKeyRecord | null, provider: string, name: string): boolean {
  if (!vk) return true;
  const config = vk.provider_configs.find((c) => c.provider === provider);
  return config !== undefined && allowsModel(config, name);
}

export async function listModels(c: AppContext): Promise<JsonObject[]> {
  const vk = (await authenticate(c))?.vk ?? null;
  const table = await getRoutingTable(c.env, waitUntilOf(c));
  // Under a virtual key: only its providers, and of those only the keys its key_ids allow.
  const targets = listTargets(table, (provider, key) => !vk || vk.provider_configs.some((config) => config.provider === provider && keyAllowed(config, key)));
  const settled = await Promise.allSettled(targets.map((target) => listFromOrigin(c, target, vk)));
  const cards = new Map<string, JsonObject>();
  const failures: string[] = [];
  settled.forEach((result, index) => {
    if (result.status === "rejected") {
      const reason = result.reason instanceof Error ? result.reason.message : String(result.reason);
      failures.push(`${originLabel(targets[index] as Target)}: ${reason}`);
      return;
    }
    for (const card of result.value) if (!cards.has(card.id as string)) cards.set(card.id as string, card);
  });
  if (targets.length > 0 && failures.length === targets.length) {
    throw new GatewayError(502, `no origin could list its models: ${failures.join("; ")}`, "upstream_unreachable");
  }
  return [...cards.values()].sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

export async function handleListModels(c: AppContext): Promise<Response> {
  return jsonResponse({ object: "list", data: await listModels(c) });
}

/** GET /anthropic/v1/models: the same list in Anthropic's shape, for its SDK's models.list(). */
export async function handleListModelsAnthropic(c: AppContext): Promise<Response> {
  const models = await listModels(c);
  const data = models.map((model) => ({
    type: "model",
    id: model.id,
    display_name: model.id,
    created_at: new Date((typeof model.created === "number" ? model.created : 0) * 1000).toISOString(),
  }));
  return jsonResponse({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
}

/** vLLM has no GET /v1/models/{id}; the gateway answers it from the list, as OpenAI clients expect. */
export async function handleRetrieveModel(c: AppContext, id: string): Promise<Response> {
  const card = (await listModels(c)).find((model) => model.id === id);
  if (!card) throw new GatewayError(404, `model '${id}' was not found in any origin's model list`, "model_not_found", { param: "model" });
  return jsonResponse(card);
}
