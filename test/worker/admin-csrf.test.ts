/**
 * The admin API cannot be driven cross-site: writes must be JSON, and requests a browser marks as coming from another
 * site or origin are refused — above all in the local mode that needs no token.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { ADMIN, errorOf, gateway, origin } from "./helpers";

const app = buildApp();
/** `npm start` without ADMIN_TOKEN: the admin API is open to requests addressed to localhost. */
const localEnv = { ...env, ADMIN_TOKEN: undefined, LOCAL_ADMIN_WITHOUT_TOKEN: "true" };
const LOCAL = "http://localhost:8787";

function local(path: string, init: RequestInit = {}): Promise<Response> {
  return Promise.resolve(app.fetch(new Request(`${LOCAL}${path}`, init), localEnv));
}

const attack = JSON.stringify({
  providers: { openai: { keys: [{ name: "stolen", value: "env.ORIGIN_TOKEN", models: ["*"] }], network_config: { base_url: "https://attacker.example" } } },
});

describe("admin writes must be JSON", () => {
  it("refuses a text/plain import (a cross-site form or fetch needs no preflight for it) with 415", async () => {
    const response = await local("/api/config/import", { method: "POST", headers: { "content-type": "text/plain" }, body: attack });
    expect(response.status).toBe(415);
    const error = await errorOf(response);
    expect(error.code).toBe("unsupported_media_type");
    expect(error.message).toContain("application/json");
    expect((await local("/api/providers/openai")).status).toBe(404);
  });

  it("refuses form encodings and a missing content type when there is a body, with or without the admin token", async () => {
    for (const type of ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", undefined]) {
      const headers: Record<string, string> = { authorization: ADMIN.authorization };
      if (type) headers["content-type"] = type;
      const response = await gateway("/api/providers/csrf-form", { method: "PUT", headers, body: JSON.stringify({ keys: [], network_config: { base_url: origin() }, custom_provider_config: { base_provider_type: "openai" } }) });
      expect(response.status, type).toBe(415);
    }
    expect((await gateway("/api/providers/csrf-form", { headers: ADMIN })).status).toBe(404);
  });

  it("accepts JSON (with a charset) and writes without a body", async () => {
    const body = JSON.stringify({ keys: [], network_config: { base_url: origin() }, custom_provider_config: { base_provider_type: "openai" } });
    const created = await local("/api/providers/csrf-json", { method: "PUT", headers: { "content-type": "application/json; charset=utf-8" }, body });
    expect(created.status, await created.clone().text()).toBe(200);
    expect((await local("/api/providers/csrf-json", { method: "DELETE" })).status).toBe(200);
  });
});

describe("cross-site requests are refused", () => {
  it("refuses Sec-Fetch-Site cross-site and same-site, reads included", async () => {
    for (const site of ["cross-site", "same-site"]) {
      const read = await local("/api/providers", { headers: { "sec-fetch-site": site } });
      expect(read.status, site).toBe(403);
      expect((await errorOf(read)).code).toBe("cross_site_request");
      const write = await local("/api/config/import", { method: "POST", headers: { "sec-fetch-site": site, "content-type": "application/json" }, body: attack });
      expect(write.status, site).toBe(403);
    }
    expect((await local("/api/providers/openai")).status).toBe(404);
  });

  it("refuses an Origin other than the gateway's own, and the opaque origin null", async () => {
    for (const from of ["https://attacker.example", "http://localhost:3000", "null"]) {
      const response = await local("/api/config/import", { method: "POST", headers: { origin: from, "content-type": "application/json" }, body: attack });
      expect(response.status, from).toBe(403);
      expect((await errorOf(response)).code).toBe("cross_site_request");
    }
    // "Test connection" has no body: the origin check alone stops it.
    const test = await local("/api/providers/vllm/keys/x/test", { method: "POST", headers: { origin: "https://attacker.example" } });
    expect(test.status).toBe(403);
    // With the admin token too: a deployed gateway's /api is not for other sites' pages.
    const withToken = await gateway("/api/providers", { headers: { ...ADMIN, origin: "https://attacker.example" } });
    expect(withToken.status).toBe(403);
    expect((await local("/api/providers/openai")).status).toBe(404);
  });

  it("serves the dashboard's own same-origin requests and clients that send neither header", async () => {
    const sameOrigin = await local("/api/providers", { headers: { origin: LOCAL, "sec-fetch-site": "same-origin" } });
    expect(sameOrigin.status).toBe(200);
    const body = JSON.stringify({ keys: [], network_config: { base_url: origin() }, custom_provider_config: { base_provider_type: "openai" } });
    const write = await local("/api/providers/csrf-ui", { method: "PUT", headers: { origin: LOCAL, "sec-fetch-site": "same-origin", "content-type": "application/json" }, body });
    expect(write.status, await write.clone().text()).toBe(200);
    expect((await local("/api/providers/csrf-ui", { method: "DELETE", headers: { origin: LOCAL, "sec-fetch-site": "same-origin" } })).status).toBe(200);
    // Typing the URL into the address bar.
    expect((await local("/api/providers", { headers: { "sec-fetch-site": "none" } })).status).toBe(200);
    // curl and SDKs.
    expect((await gateway("/api/providers", { headers: ADMIN })).status).toBe(200);
    expect((await gateway("/metrics", { headers: { ...ADMIN, origin: "https://attacker.example" } })).status).toBe(403);
  });
});
