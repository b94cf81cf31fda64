/**
 * A web app streams completions from the browser with an ephemeral token its backend minted: real headless Chromium
 * loads the gateway's example page from another origin. Screenshots are kept in test-results/.
 */
import { mkdir } from "node:fs/promises";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser, serveAppPage, type AppOrigin } from "./browser";

const gatewayUrl = inject("gatewayUrl");
const LLAMA = "vllm/meta-llama/Llama-3.2-1B-Instruct";
const ADMIN = { authorization: "Bearer e2e-admin-token", "content-type": "application/json" };
let browser: Browser;
let app: AppOrigin;
let otherApp: AppOrigin;
let parentKey = "";

async function call(method: string, path: string, body: unknown, headers: Record<string, string>) {
  const response = await fetch(`${gatewayUrl}${path}`, { method, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json() as Promise<Record<string, unknown>>;
}

/** What the app's backend does: mint a token from its virtual key for the browser. */
async function mintToken(body: Record<string, unknown>): Promise<{ token: string; id: string }> {
  return (await call("POST", "/api/governance/virtual-keys/ephemeral-tokens", body, { "x-bf-vk": parentKey })) as { token: string; id: string };
}

async function streamInPage(page: Page, origin: string, token: string, prompt: string, maxTokens = 10): Promise<{ state: string; status: string; output: string }> {
  const query = new URLSearchParams({ gateway: gatewayUrl, token, model: LLAMA, prompt, max_tokens: String(maxTokens), autostart: "1" });
  await page.goto(`${origin}/?${query}`);
  await page.waitForSelector('#status:not([data-state="idle"]):not([data-state="streaming"])', { timeout: 15_000 });
  return page.evaluate(() => ({
    state: document.getElementById("status")?.dataset.state ?? "",
    status: document.getElementById("status")?.textContent ?? "",
    output: document.getElementById("output")?.textContent ?? "",
  }));
}

async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir("test-results", { recursive: true });
  await page.screenshot({ path: `test-results/${name}.png`, fullPage: true });
}

beforeAll(async () => {
  browser = await launchBrowser();
  const html = await (await fetch(`${gatewayUrl}/examples/browser-chat`)).text();
  app = await serveAppPage(html);
  otherApp = await serveAppPage(html);
  await call("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider: "vllm", match_type: "wildcard", pattern: "*", output_price_per_million: 1000 }, ADMIN);
  const created = (await call("PUT", "/api/governance/virtual-keys/browser-app", { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 5, reset_duration: "1d" }] }, ADMIN)) as {
    virtual_key: { value: string };
  };
  parentKey = created.virtual_key.value;
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await otherApp?.close();
});

describe("browser apps with ephemeral tokens", () => {
  it("streams a chat completion in the page, which never sees the parent key", async () => {
    const { token } = await mintToken({ allowed_origin: app.url, models: [LLAMA], expires_in_seconds: 300, budget: { max_limit: 0.5 } });
    const page = await browser.newPage();
    const result = await streamInPage(page, app.url, token, "Hello from the browser");
    await screenshot(page, "browser-token-stream");
    expect(result).toMatchObject({ state: "done", output: "You said: Hello from the browser" });
    const everything = (await page.content()) + JSON.stringify(await page.evaluate(() => ({ ...localStorage, ...sessionStorage, cookie: document.cookie, url: location.href })));
    expect(everything).not.toContain(parentKey);
    await page.close();
  });

  it("is refused from another origin", async () => {
    const { token } = await mintToken({ allowed_origin: app.url });
    const page = await browser.newPage();
    const result = await streamInPage(page, otherApp.url, token, "x");
    await screenshot(page, "browser-token-wrong-origin");
    expect(result.state).toBe("error");
    expect(result.status).toContain("HTTP 403");
    await page.close();
  });

  it("gets 401 once the token has expired or was revoked", async () => {
    const expiring = await mintToken({ allowed_origin: app.url, expires_in_seconds: 1 });
    const revoked = await mintToken({ allowed_origin: app.url });
    await call("DELETE", `/api/governance/virtual-keys/ephemeral-tokens/${revoked.id}`, {}, { "x-bf-vk": parentKey });
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const page = await browser.newPage();
    for (const token of [expiring.token, revoked.token]) {
      const result = await streamInPage(page, app.url, token, "x");
      expect(result.state).toBe("error");
      expect(result.status).toContain("HTTP 401");
    }
    await screenshot(page, "browser-token-revoked");
    await page.close();
  });

  it("gets 402 once its sub-budget is exhausted", async () => {
    const { token } = await mintToken({ allowed_origin: app.url, budget: { max_limit: 0.012 } });
    const page = await browser.newPage();
    expect((await streamInPage(page, app.url, token, "first")).state).toBe("done");
    const second = await streamInPage(page, app.url, token, "second");
    await screenshot(page, "browser-token-budget");
    expect(second.state).toBe("error");
    expect(second.status).toContain("HTTP 402");
    await page.close();
  });
});
