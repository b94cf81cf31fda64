/** Drives the gateway inside workerd with real D1/KV bindings and reads what the fake vLLM received. */
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import type { RecordedRequest } from "../support/recorded";
import type { VirtualKeyLimiter } from "../../src/governance/limiter";
import type { AdmitDecision, AdmitRequest, SettleRequest } from "../../src/governance/limits";

export const ADMIN = { authorization: "Bearer test-admin-token", "content-type": "application/json" };

export function gateway(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(`http://gateway.test${path}`, init));
}

export function postJson(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return gateway(path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

export function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return gateway(path, { method, headers: ADMIN, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** Replaces the whole provider configuration. */
export async function configure(providers: Record<string, unknown>): Promise<void> {
  const response = await admin("POST", "/api/config/import?replace=true", { providers });
  expect(response.status, await response.clone().text()).toBe(200);
}

export function origin(name = "default"): string {
  return `${env.FAKE_VLLM_URL}/o/${name}`;
}

/** What the fake vLLM received for a request id. */
export async function received(requestId: string): Promise<RecordedRequest[]> {
  const response = await fetch(`${env.FAKE_VLLM_URL}/__log?request_id=${encodeURIComponent(requestId)}`);
  return (await response.json()) as RecordedRequest[];
}

export async function errorOf(response: Response): Promise<{ message: string; type: string; code: string | null; param: string | null }> {
  const body = (await response.json()) as { error: { message: string; type: string; code: string | null; param: string | null } };
  expect(Object.keys(body)).toEqual(["error"]);
  return body.error;
}

/** Splits an SSE body into its data payloads. */
export function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .filter((event) => event.startsWith("data:"))
    .map((event) => event.slice(event.charCodeAt(5) === 32 ? 6 : 5));
}

export const LLAMA = "meta-llama/Llama-3.2-1B-Instruct";

/** The seed guide's vLLM provider, pointed at the fake vLLM. */
export function vllmProvider(extra: Record<string, unknown> = {}) {
  return {
    keys: [
      {
        name: "vllm-local",
        value: "",
        models: ["*"],
        weight: 1.0,
        vllm_key_config: { url: origin("default") },
      },
    ],
    ...extra,
  };
}

/** Creates (or replaces) a virtual key by id and returns its value. */
export async function virtualKey(id: string, body: Record<string, unknown>): Promise<string> {
  await admin("DELETE", `/api/governance/virtual-keys/${id}`);
  const response = await admin("PUT", `/api/governance/virtual-keys/${id}`, body);
  expect(response.status, await response.clone().text()).toBe(200);
  const { virtual_key } = (await response.json()) as { virtual_key: { value: string } };
  expect(virtual_key.value).toMatch(/^sk-bf-[0-9a-f-]{36}$/);
  return virtual_key.value;
}

export async function quota(key: string): Promise<QuotaBody> {
  const response = await gateway("/api/governance/virtual-keys/quota", { headers: { "x-bf-vk": key } });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as QuotaBody;
}

export interface QuotaBody {
  is_active: boolean;
  budgets: { max_limit: number; current_usage: number; reserved: number; remaining: number; resets_at: string }[];
  rate_limits: { scope: string; requests: (QuotaWindow & { max_limit: number }) | null; tokens: (QuotaWindow & { reserved: number; max_limit: number }) | null }[];
  concurrency: { max_concurrent_requests: number | null; in_flight: number };
  leases?: { count: number; share: number };
  /** Bifrost's flat view of the key's own windows. */
  rate_limit?: Record<string, string | number | boolean | null> | null;
}

interface QuotaWindow {
  current_usage: number;
  last_reset: string;
  resets_at: string;
}

/** Waits until a condition over fresh state holds (settlement runs after the response, in waitUntil). */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!check(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await read();
  }
  return value;
}

/**
 * Sends a chat request and leaves once the origin has it, before any byte of the answer (`whileHeld` runs first).
 * Resolves with what the origin recorded once it has seen the client go.
 */
export async function abandonBeforeFirstByte(body: unknown, headers: Record<string, string> = {}, whileHeld?: () => Promise<void>): Promise<RecordedRequest[]> {
  const requestId = crypto.randomUUID();
  const controller = new AbortController();
  const pending = exports.default
    .fetch(
      new Request("http://gateway.test/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": requestId, ...headers },
        body: JSON.stringify(body),
        signal: controller.signal,
      }),
    )
    .catch(() => undefined);
  await eventually(() => received(requestId), (log) => log.length === 1);
  await whileHeld?.();
  controller.abort();
  await pending;
  return eventually(() => received(requestId), (log) => log[0]?.closedEarly === true);
}

type LimiterStub = DurableObjectStub<VirtualKeyLimiter>;

/** One admission at a limiter's object, as the gateway asks for it (a group of one). */
export async function admitAtObject(stub: LimiterStub, request: AdmitRequest): Promise<AdmitDecision> {
  const [decision] = await stub.apply([{ kind: "admit", request }]);
  if (!decision || "error" in decision) throw new Error(`the limiter did not decide: ${JSON.stringify(decision)}`);
  return decision;
}

/** Settlements at a limiter's object, as the gateway sends them (a group of one). */
export async function settleAtObject(stub: LimiterStub, requests: SettleRequest[]): Promise<void> {
  const [result] = await stub.apply([{ kind: "settle", requests }]);
  if (result !== null) throw new Error(`the limiter did not settle: ${JSON.stringify(result)}`);
}
