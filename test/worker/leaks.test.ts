/** Errors don't leak internals: defects, origin credentials' answers, proxies' texts and pages stay in the logs. */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { ADMIN, configure, errorOf, origin, postJson } from "./helpers";

const body = { model: "m", messages: [{ role: "user", content: "hi" }] };

beforeAll(async () => {
  await configure({
    wrongkey: { keys: [{ name: "k", value: "not-the-origin-token", models: ["*"] }], network_config: { base_url: origin("auth") }, custom_provider_config: { base_provider_type: "openai" } },
    proxied: { keys: [{ name: "k", value: "", models: ["*"] }], network_config: { base_url: origin("proxy-text") }, custom_provider_config: { base_provider_type: "openai" } },
    login: { keys: [{ name: "k", value: "", models: ["*"] }], network_config: { base_url: origin("login-page") }, custom_provider_config: { base_provider_type: "openai" } },
  });
});

describe("errors that do not leak", () => {
  it("answers a defect with a generic 500 and the request id, and logs the rest", async () => {
    const request = new Request("http://gateway.test/api/logs", { headers: { ...ADMIN, "x-request-id": "defect-1" } });
    const response = await buildApp().fetch(request, { ...env, DB: undefined as unknown as D1Database });
    expect(response.status).toBe(500);
    const error = await errorOf(response);
    expect(error).toEqual({ message: "internal gateway error; quote request id defect-1 when reporting it", type: "api_error", param: null, code: "internal_error" });
  });

  it("does not pass on what an origin said about the gateway's own credentials", async () => {
    const response = await postJson("/v1/chat/completions", { ...body, model: "wrongkey/m" });
    expect(response.status).toBe(502);
    const error = await errorOf(response);
    expect(error.code).toBe("upstream_auth_failed");
    expect(error.message).toBe("origin rejected the gateway's credentials for provider 'wrongkey' key 'k' (HTTP 401); the gateway's logs have its answer");
  });

  it("does not echo a proxy's own text, which names internal hosts", async () => {
    const response = await postJson("/v1/chat/completions", { ...body, model: "proxied/m" });
    expect(response.status).toBe(503);
    const error = await errorOf(response);
    expect(error.message).toBe("origin answered HTTP 503 with a body that is not an error the gateway understands (logged)");
    expect(error.message).not.toContain("10.0.3.7");
  });

  it("never serves an origin's page from the gateway's own origin", async () => {
    const response = await postJson("/v1/chat/completions", { ...body, model: "login/m" });
    expect(response.status).toBe(502);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect((await errorOf(response)).code).toBe("invalid_upstream_response");
  });
});
