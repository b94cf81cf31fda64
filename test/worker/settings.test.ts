/** Settings fail closed: parsed once, a malformed value is a clear error, and keys are required unless "false". */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { errorOf } from "./helpers";

const chat = () =>
  new Request("http://gateway.test/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "vllm/m", messages: [] }) });

describe("settings", () => {
  it("require a virtual key unless REQUIRE_VIRTUAL_KEY is exactly false, unset included", async () => {
    for (const value of [undefined, "", "TRUE", "no", "0"]) {
      const response = await buildApp().fetch(chat(), { ...env, REQUIRE_VIRTUAL_KEY: value });
      expect(response.status, String(value)).toBe(401);
      expect((await errorOf(response)).code).toBe("virtual_key_required");
    }
  });

  it("answer every request with a 500 naming a malformed variable, instead of running on a default", async () => {
    const broken = { ...env, MAX_REQUEST_BODY_MB: "32MB", LOG_PAYLOADS: "yes" };
    for (const request of [chat(), new Request("http://gateway.test/health")]) {
      const response = await buildApp().fetch(request, broken);
      expect(response.status).toBe(500);
      const error = await errorOf(response);
      expect(error.code).toBe("gateway_misconfigured");
      expect(error.message).toBe('the gateway is misconfigured: MAX_REQUEST_BODY_MB must be a positive number, not "32MB"; LOG_PAYLOADS must be "true" or "false", not "yes"');
    }
  });

  it("check secrets as well: a short signing secret fails every request instead of weakening tokens", async () => {
    const response = await buildApp().fetch(new Request("http://gateway.test/health"), { ...env, EPHEMERAL_TOKEN_SECRET: "too-short" });
    expect(response.status).toBe(500);
    expect((await errorOf(response)).message).toBe("the gateway is misconfigured: EPHEMERAL_TOKEN_SECRET must be at least 32 characters");
  });
});
