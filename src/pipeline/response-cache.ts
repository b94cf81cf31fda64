/**
 * Exact-match response cache, between resolve and admit: a deterministic request (temperature 0 or a `seed`) whose
 * body, endpoint and served model match an earlier answer's is answered from the location's Cache API — a stream
 * replayed as the same stream — without reaching an origin, and charged nothing. Opt-in: a virtual key's
 * `response_cache`, or a request's `x-bf-cache-key` header (Bifrost's), whose value also namespaces the entries.
 * Entries belong to one virtual key (or to keyless requests) unless the key shares them (`shared_across_keys`).
 */
import { parseDuration } from "../governance/duration";
import { readAtMost } from "../http/body";
import type { VirtualKeyRecord } from "../governance/schema";
import type { TraceOutcome } from "../observability/log-row";
import type { Target } from "../routing/resolve";
import type { Answer, UsageReport } from "../upstream/respond";
import type { InferencePlan } from "./plan";

const CACHE_ORIGIN = "https://response-cache.gateway.internal/";
const DEFAULT_TTL_SECONDS = 300;
const MAX_TTL_SECONDS = 7 * 86_400;
/** Answers larger than this are served but not kept. */
const MAX_CACHED_BYTES = 4 * 1024 * 1024;
const USAGE_HEADER = "x-bf-cached-usage";

export interface CacheEntry {
  url: string;
  ttlSeconds: number;
}

function deterministic(body: Record<string, unknown>): boolean {
  return body.temperature === 0 || typeof body.seed === "number";
}

/** `x-bf-cache-ttl`: seconds, or a duration such as "10m". */
function requestedTtl(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = /^\d+$/.test(header) ? Number(header) : (parseDuration(header) ?? 0) / 1000;
  return seconds >= 1 ? Math.min(Math.floor(seconds), MAX_TTL_SECONDS) : undefined;
}

function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Whether the request opted in (its key, or x-bf-cache-key) and asks for a deterministic answer: cheap, no await. */
export function wantsCache(headers: Headers, vk: VirtualKeyRecord | null, plan: InferencePlan): boolean {
  if (plan.upstream.kind !== "json") return false;
  if (!vk?.response_cache && !headers.has("x-bf-cache-key")) return false;
  return deterministic(plan.upstream.body);
}

/** The entry this request would be answered from, or null when the request is not cached at all. */
export async function cacheEntryFor(headers: Headers, vk: VirtualKeyRecord | null, plan: InferencePlan, target: Target | undefined): Promise<CacheEntry | null> {
  const upstream = plan.upstream;
  if (!wantsCache(headers, vk, plan) || upstream.kind !== "json" || !target) return null;
  const namespace = headers.get("x-bf-cache-key");
  const configured = vk?.response_cache ?? null;
  const scope = configured?.shared_across_keys ? "shared" : `key:${vk?.id ?? "keyless"}`;
  // The model as the client named it too: the answer echoes that name, so another spelling must not get this one.
  const { model: _model, ...rest } = upstream.body;
  const identity = JSON.stringify([scope, namespace ?? "", plan.requestType, upstream.path, upstream.reply.kind, target.provider.name, target.upstreamModel, plan.model, upstream.stream, rest]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(identity));
  return { url: CACHE_ORIGIN + hex(digest), ttlSeconds: requestedTtl(headers.get("x-bf-cache-ttl")) ?? configured?.ttl_seconds ?? DEFAULT_TTL_SECONDS };
}

export interface CacheHit {
  response: Response;
  outcome: TraceOutcome;
}

function locationCache(): Cache | undefined {
  return typeof caches === "undefined" ? undefined : caches.default;
}

/** The stored answer, replayed, with what it used when it was generated (charged at $0 now). */
export async function cachedAnswer(entry: CacheEntry): Promise<CacheHit | null> {
  const stored = await locationCache()?.match(entry.url);
  if (!stored) return null;
  let usage: { promptTokens?: number; completionTokens?: number } = {};
  try {
    usage = JSON.parse(stored.headers.get(USAGE_HEADER) ?? "{}") as typeof usage;
  } catch {
    usage = {};
  }
  const headers: Record<string, string> = { "content-type": stored.headers.get("content-type") ?? "application/json", "x-bf-cache": "hit" };
  if (headers["content-type"]?.startsWith("text/event-stream")) headers["cache-control"] = "no-cache, no-transform";
  return {
    response: new Response(stored.body, { status: 200, headers }),
    outcome: { promptTokens: usage.promptTokens ?? 0, completionTokens: usage.completionTokens ?? 0, cost: 0 },
  };
}

/** Reads a copy of the answer as it goes to the client and keeps it once it finished cleanly. */
async function keep(entry: CacheEntry, copy: ReadableStream<Uint8Array>, contentType: string, usage: Promise<UsageReport>): Promise<void> {
  const bytes = await readAtMost(copy, MAX_CACHED_BYTES);
  if (!bytes) return;
  const report = await usage;
  if (report.originFailed || report.failureCode !== undefined || report.unreported) return;
  const headers = {
    "content-type": contentType,
    "cache-control": `max-age=${entry.ttlSeconds}`,
    [USAGE_HEADER]: JSON.stringify({ promptTokens: report.promptTokens, completionTokens: report.completionTokens }),
  };
  await locationCache()?.put(entry.url, new Response(bytes, { headers }));
}

/** The answer with its body teed into the cache (when it succeeded), marked as a miss. */
export function cacheAnswer(entry: CacheEntry, answer: Answer, waitUntil: (promise: Promise<unknown>) => void): Answer {
  const body = answer.response.body;
  if (answer.response.status !== 200 || !body || !locationCache()) return answer;
  const [toClient, toCache] = body.tee();
  const response = new Response(toClient, { status: answer.response.status, headers: answer.response.headers });
  response.headers.set("x-bf-cache", "miss");
  const contentType = answer.response.headers.get("content-type") ?? "application/json";
  waitUntil(keep(entry, toCache, contentType, answer.usage).catch((error: unknown) => console.error("keeping a cached answer failed:", error)));
  return { ...answer, response };
}
