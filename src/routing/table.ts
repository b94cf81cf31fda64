/**
 * The routing table: provider records compiled once per config version into the lookups the hot path needs.
 */
import { groupLimiterName, type GroupSummary } from "../governance/groups";
import { hostedBaseUrl, keyOriginUrl } from "../config/providers";
import type { ProviderKey, ProviderRecord, RequestType } from "../config/schema";
import type { PricingOverride } from "../governance/schema";
import type { Price } from "../governance/pricing";
import { reasoningFieldOf, type ReasoningField } from "../upstream/reasoning-field";

export interface CompiledKey {
  id: string;
  name: string;
  provider: string;
  /** Literal secret or `env.NAME`; resolved per request so rotated secrets apply at once. */
  value: string;
  originUrl: string;
  /** The origin's host, for logs (the binding name for VPC keys, "" when the URL is an env reference). */
  originHost: string;
  /** The name the origin serves, when the key pins one (vllm_key_config.model_name). */
  modelName: string | undefined;
  /** Client-facing names this key accepts; null means every name. */
  models: ReadonlySet<string> | null;
  /** The names `models` lists, "*" aside: named, so they claim bare names even on a key that also takes every name. */
  listed: readonly string[];
  blacklist: ReadonlySet<string>;
  aliases: ReadonlyMap<string, string>;
  aliasesLowerCase: ReadonlyMap<string, string>;
  weight: number;
  enabled: boolean;
  access: { clientId: string; clientSecret: string } | undefined;
  /** A Fetcher binding (Workers VPC service) that reaches the origin instead of the public internet. */
  vpcBinding: string | undefined;
}

export interface CompiledProvider {
  name: string;
  keys: CompiledKey[];
  /** Request types a custom provider allows; null means all. */
  allowedRequests: ReadonlySet<RequestType> | null;
  pathOverrides: Partial<Record<string, string>>;
  /** The whole answer, or a stream until it starts (default_request_timeout_in_seconds). */
  timeoutMs: number;
  /** Until the origin's headers arrive (first_byte_timeout_in_seconds): a hung origin is given up on sooner. */
  firstByteTimeoutMs: number;
  streamIdleTimeoutMs: number;
  maxRetries: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  extraHeaders: ReadonlyArray<readonly [string, string]>;
  sessionAffinity: "header" | "prompt_prefix" | "none";
  /** network_config.stream_for_json: a JSON chat or text completion may be streamed from the origin and assembled. */
  streamForJson: boolean;
  /** reasoning_field: the name chat answers carry reasoning under; undefined passes the origin's through. */
  reasoningField: ReasoningField | undefined;
}

export interface RoutingTable {
  version: string;
  providers: ReadonlyMap<string, CompiledProvider>;
  pricing: readonly PricingOverride[];
  /** Every virtual key's id and name: a client that sends one of them as its credential is told so. */
  virtualKeyNames: ReadonlySet<string>;
  /** Teams and customers by `team:<id>` / `customer:<id>`. */
  groups: ReadonlyMap<string, GroupSummary>;
  /** Prices looked up under this table's overrides, by query (see pipeline/charges.ts): they change only with it. */
  priceCache: Map<string, Price | null>;
}

const DEFAULT_TIMEOUT_SECONDS = 30;
const DEFAULT_STREAM_IDLE_SECONDS = 60;
const DEFAULT_BACKOFF_INITIAL_MS = 500;
const DEFAULT_BACKOFF_MAX_MS = 5000;

/** Bifrost's backoff values: integer milliseconds or a Go duration string. */
export function durationToMs(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === "number") return value;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const match of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(match[1]) * (units[match[2] ?? "ms"] ?? 1);
  return total;
}

function compileKey(record: ProviderRecord, key: ProviderKey): CompiledKey {
  const models = key.models === undefined || key.models.includes("*") ? null : new Set(key.models);
  const aliases = new Map(Object.entries(key.aliases ?? {}));
  return {
    id: key.id,
    name: key.name,
    provider: record.name,
    value: key.value,
    originUrl: trimSlash(keyOriginUrl(record.name, record.settings, key) ?? ""),
    originHost: originHostOf(keyOriginUrl(record.name, record.settings, key), key.vpc_binding),
    modelName: key.vllm_key_config?.model_name,
    models,
    listed: (key.models ?? []).filter((model) => model !== "*"),
    blacklist: new Set(key.blacklisted_models ?? []),
    aliases,
    aliasesLowerCase: new Map([...aliases].map(([from, to]) => [from.toLowerCase(), to])),
    weight: key.weight,
    enabled: key.enabled,
    access: key.cloudflare_access ? { clientId: key.cloudflare_access.client_id, clientSecret: key.cloudflare_access.client_secret } : undefined,
    vpcBinding: key.vpc_binding,
  };
}

function originHostOf(url: string | undefined, vpcBinding: string | undefined): string {
  if (vpcBinding) return vpcBinding;
  return url !== undefined && URL.canParse(url) ? new URL(url).host : "";
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

export function compileProvider(record: ProviderRecord): CompiledProvider {
  const network = record.settings.network_config ?? {};
  const custom = record.settings.custom_provider_config;
  const keys = record.keys.map((key) => compileKey(record, key));
  if (custom?.is_key_less) {
    keys.push(compileKey(record, { id: `${record.name}:key-less`, name: "key-less", value: "", weight: 1, enabled: true }));
  }
  const allowed = custom?.allowed_requests;
  return {
    name: record.name,
    keys,
    allowedRequests: allowed
      ? new Set(Object.entries(allowed).filter(([, on]) => on === true).map(([type]) => type as RequestType))
      : null,
    pathOverrides: { ...(custom?.request_path_overrides ?? {}) },
    timeoutMs: (network.default_request_timeout_in_seconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
    firstByteTimeoutMs: Math.min(network.first_byte_timeout_in_seconds ?? Number.POSITIVE_INFINITY, network.default_request_timeout_in_seconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
    streamIdleTimeoutMs: (network.stream_idle_timeout_in_seconds ?? DEFAULT_STREAM_IDLE_SECONDS) * 1000,
    maxRetries: network.max_retries ?? 0,
    backoffInitialMs: durationToMs(network.retry_backoff_initial, DEFAULT_BACKOFF_INITIAL_MS),
    backoffMaxMs: durationToMs(network.retry_backoff_max, DEFAULT_BACKOFF_MAX_MS),
    extraHeaders: Object.entries(network.extra_headers ?? {}),
    sessionAffinity: network.session_affinity ?? "header",
    // Hosted APIs have no tunnel in front of them and answer JSON as they always have; everything else is an engine
    // of the operator's own, often behind Cloudflare Tunnel.
    streamForJson: network.stream_for_json ?? hostedBaseUrl(record.name) === undefined,
    reasoningField: reasoningFieldOf(record.settings.reasoning_field),
  };
}

export function compileRoutingTable(
  version: string,
  records: readonly ProviderRecord[],
  pricing: readonly PricingOverride[],
  virtualKeyNames: readonly string[] = [],
  groups: readonly GroupSummary[] = [],
): RoutingTable {
  return {
    version,
    providers: new Map(records.map((record) => [record.name, compileProvider(record)])),
    pricing,
    virtualKeyNames: new Set(virtualKeyNames),
    groups: new Map(groups.map((group) => [groupLimiterName(group.kind, group.id), group])),
    priceCache: new Map(),
  };
}

/**
 * The origin's model name for a client-facing name, or null when this key does not serve it.
 * A key that pins model_name serves that name, its aliases and the names listed in `models`, all sent as
 * model_name; otherwise it serves what `models` allows (all when absent or "*"), aliases rewritten.
 */
export function servedModelName(key: CompiledKey, requested: string): string | null {
  if (!key.enabled || key.blacklist.has(requested)) return null;
  const alias = key.aliases.get(requested) ?? key.aliasesLowerCase.get(requested.toLowerCase());
  if (alias !== undefined) return alias;
  if (key.modelName !== undefined) {
    if (requested === key.modelName || key.models?.has(requested)) return key.modelName;
    return null;
  }
  if (key.models === null || key.models.has(requested)) return requested;
  return null;
}

/** Whether a key names `name` itself — listed, an alias (in any case, as aliases match), its model_name — and so claims it bare. */
export function namesModel(key: CompiledKey, name: string): boolean {
  return key.listed.includes(name) || key.aliases.has(name) || key.aliasesLowerCase.has(name.toLowerCase()) || key.modelName === name;
}

/** Client-facing names a key names explicitly — for listings and error messages. */
export function explicitModelNames(key: CompiledKey): string[] {
  const names = new Set<string>(key.aliases.keys());
  if (key.modelName !== undefined) names.add(key.modelName);
  for (const model of key.listed) names.add(model);
  return [...names];
}
