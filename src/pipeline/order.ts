/**
 * Which chain and which target first. Chains whose origins are available go first: a primary whose every origin
 * has an open circuit (it failed or hung, as seen here or by the probe) is tried after its fallbacks and a key's
 * other provider configs, so a hung origin costs a few timeouts per cool-down, not one per request. Among available
 * chains, load counts too: a chain whose every available origin has requests queued in vLLM (the probe reads
 * vllm:num_requests_waiting with HEALTH_PROBE_METRICS) goes after those with an origin that has room. Within a
 * chain, a session (or, where the provider asks for it, the prompt's prefix) keeps a conversation on one replica.
 */
import type { JsonObject } from "../http/body";
import { isAvailable, orderTargets, queuedAt } from "../routing/health";
import type { Target } from "../routing/resolve";
import type { UpstreamPlan } from "./plan";
import type { Chain } from "./resolve";

export interface RankedChain {
  chain: Chain;
  /** The place in the order the client and the key gave, for x-bf-fallback-index. */
  position: number;
}

/** 0: an origin available with room; 1: available, but every available origin has a queue; 2: none available. */
function readiness(chain: Chain, now: number): number {
  const available = chain.targets.filter((target) => isAvailable(target, now));
  if (available.length === 0) return 2;
  return available.every((target) => queuedAt(target) > 0) ? 1 : 0;
}

export function healthFirst(chains: readonly Chain[], now = Date.now()): RankedChain[] {
  const [only] = chains;
  if (chains.length === 1 && only) return [{ chain: only, position: 0 }];
  const ranked = chains.map((chain, position) => ({ chain, position, readiness: readiness(chain, now) }));
  // A stable sort: the order the client and the key gave stands within each level.
  return ranked.sort((a, b) => a.readiness - b.readiness || a.position - b.position);
}

const PREFIX_CHARS = 1024;

/**
 * What a conversation's every turn begins with, for prefix-cache affinity: its messages up to and including the
 * first user message (a system prompt alone is shared by every conversation), at most a KiB; a text prompt's first
 * KiB. Later turns only add to the end, so the key stays the same for the whole conversation.
 */
function promptPrefixOf(body: JsonObject): string | undefined {
  const source = body.messages ?? body.prompt;
  if (typeof source === "string") return source.slice(0, PREFIX_CHARS);
  if (!Array.isArray(source)) return undefined;
  let prefix = "";
  for (const part of source) {
    prefix += JSON.stringify(part);
    const role = typeof part === "object" && part !== null && !Array.isArray(part) ? (part as { role?: unknown }).role : undefined;
    if (prefix.length >= PREFIX_CHARS || role === "user") break;
  }
  return prefix.slice(0, PREFIX_CHARS);
}

/** What keeps a request on one replica: the session header, or — where the provider asks for it — the prompt prefix. */
function affinityKey(sessionId: string | undefined, upstream: UpstreamPlan, first: Target | undefined): string | undefined {
  const mode = first?.provider.sessionAffinity ?? "header";
  if (mode === "none") return undefined;
  if (sessionId !== undefined) return sessionId;
  return mode === "prompt_prefix" && upstream.kind === "json" ? promptPrefixOf(upstream.body) : undefined;
}

/** The chain's targets in the order to try them. */
export function targetOrder(targets: readonly Target[], sessionId: string | undefined, upstream: UpstreamPlan): Target[] {
  return orderTargets(targets, affinityKey(sessionId, upstream, targets[0]));
}
