/** Drives the gateway inside workerd with real D1/KV bindings and reads what the fake vLLM received. */
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import type { RecordedRequest } from "../support/recorded";

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
