/**
 * A browser page reads only the response headers CORS exposes: every header of the gateway's own that an answer to a
 * browser carries — served, replayed from the cache, refused by a window or by concurrency — is in the list.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { LLAMA, abandonBeforeFirstByte, configure, origin, virtualKey } from "./helpers";

const PAGE = "https://app.example.com";

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
});

async function chat(key: string, extra: Record<string, unknown> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const request = new Request("http://gateway.test/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", origin: PAGE, "x-bf-vk": key },
    body: JSON.stringify({ model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "Name a colour." }], temperature: 0, ...extra }),
  });
  const response = await buildApp().fetch(request, env, ctx);
  await response.text();
  await waitOnExecutionContext(ctx);
  return response;
}

/** The gateway's own headers on an answer: request ids, x-bf-*, rate limits and Retry-After. */
function gatewayHeaders(response: Response): string[] {
  return [...response.headers.keys()].filter((name) => /^(x-bf-|x-ratelimit-|retry-after$|request-id$|x-request-id$)/.test(name));
}

describe("headers exposed to browser pages", () => {
  it("include every header of the gateway's own on served, replayed and refused answers", async () => {
    const key = await virtualKey("exposed", {
      provider_configs: [{ provider: "vllm" }],
      allowed_origins: [PAGE],
      max_concurrent_requests: 1,
      response_cache: { ttl_seconds: 60 },
      rate_limit: { request_max_limit: 4, request_reset_duration: "1h", token_max_limit: 1_000_000, token_reset_duration: "1h" },
    });
    const answers: Response[] = [];
    answers.push(await chat(key), await chat(key));
    expect(answers.map((answer) => [answer.status, answer.headers.get("x-bf-cache")])).toEqual([
      [200, "miss"],
      [200, "hit"],
    ]);
    await abandonBeforeFirstByte({ model: "vllm/slow-headers", messages: [{ role: "user", content: "hi" }] }, { "x-bf-vk": key, origin: PAGE }, async () => {
      answers.push(await chat(key, { temperature: 1 }));
    });
    // The held request was the third of four the window allows: one more is served, the next refused.
    answers.push(await chat(key, { temperature: 1 }), await chat(key, { temperature: 1 }));
    expect(answers.slice(2).map((answer) => answer.status)).toEqual([429, 200, 429]);

    const seen = new Set(answers.flatMap(gatewayHeaders));
    for (const name of ["x-bf-cache", "x-bf-provider", "x-ratelimit-limit-concurrency", "x-ratelimit-remaining-requests", "retry-after"]) expect(seen).toContain(name);
    for (const answer of answers) {
      const exposed = (answer.headers.get("access-control-expose-headers") ?? "").split(", ");
      expect(gatewayHeaders(answer).filter((name) => !exposed.includes(name))).toEqual([]);
    }
  });
});
