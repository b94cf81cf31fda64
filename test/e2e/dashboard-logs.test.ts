/**
 * The dashboard's Logs page in real headless Chromium: real requests through the gateway (a success, an origin's
 * 404 for an unknown model, one with a virtual key, one whose model name is HTML), then every filter, the detail
 * view of one row, and nothing client-controlled rendered as HTML. Screenshots go to test-results/.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openDashboard, type Dashboard } from "./dashboard-session";

const gatewayUrl = inject("gatewayUrl");
const fakeUrl = inject("e2eFakeVllmUrl");
const run = Date.now().toString(36);
const provider = `logs${run}`;
const keyName = `logs-key-${run}`;
const LLAMA = "meta-llama/Llama-3.2-1B-Instruct";
const XSS_MODEL = `${provider}/<img src=x onerror="window.__xss=1">`;
const ids = { ok: `ok-${run}`, missing: `missing-${run}`, vk: `vk-${run}`, xss: `xss-${run}` };
let ui: Dashboard;
let page: Page;

interface LogRow {
  request_id: string;
  status: number;
  error_code: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost: number;
}

async function admin(method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${gatewayUrl}${path}`, {
    method,
    headers: { authorization: "Bearer e2e-admin-token", "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

async function chat(requestId: string, model: string, key?: string): Promise<number> {
  const headers: Record<string, string> = { "content-type": "application/json", "x-request-id": requestId };
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch(`${gatewayUrl}/v1/chat/completions`, { method: "POST", headers, body: JSON.stringify({ model, max_tokens: 10, messages: [{ role: "user", content: "Hello from the logs test" }] }) });
  await response.text();
  return response.status;
}

/** Sets the filter form (everything else back to "any") and returns the request ids of the rows shown. */
async function filter(values: { range?: string; virtual_key?: string; provider?: string; model?: string; status?: string; code?: string }): Promise<string[]> {
  await page.selectOption("#f-range", values.range ?? "");
  await page.fill("#f-virtual_key", values.virtual_key ?? "");
  await page.selectOption("#f-provider", values.provider ?? "");
  await page.fill("#f-model", values.model ?? "");
  await page.selectOption("#f-status", values.status ?? "");
  await page.fill("#f-code", values.code ?? "");
  await page.click('form[aria-label="Log filters"] button[type="submit"]');
  await page.waitForSelector("#logs");
  return page.locator("#logs tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-request-id") ?? ""));
}

beforeAll(async () => {
  await admin("POST", "/api/providers", {
    provider,
    keys: [{ name: "logs-gpu", value: "" }],
    network_config: { base_url: `${fakeUrl}/o/logs` },
    custom_provider_config: { base_provider_type: "openai" },
  });
  await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider, match_type: "wildcard", pattern: "*", input_price_per_million: 1, output_price_per_million: 2 });
  const created = (await admin("POST", "/api/governance/virtual-keys", { name: keyName, provider_configs: [{ provider, weight: 1, allowed_models: ["*"] }] })) as { virtual_key: { value: string } };
  const pause = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));
  // Configuration is cached for a second (CONFIG_CACHE_SECONDS); then distinct times, so newest-first order is certain.
  await pause(1100);
  expect(await chat(ids.ok, `${provider}/${LLAMA}`)).toBe(200);
  await pause();
  expect(await chat(ids.missing, `${provider}/no-such-model`)).toBe(404);
  await pause();
  expect(await chat(ids.vk, `${provider}/${LLAMA}`, created.virtual_key.value)).toBe(200);
  await pause();
  expect(await chat(ids.xss, XSS_MODEL)).toBe(404);
  // Log rows are written in batches about a second later.
  for (let waited = 0; ((await admin("GET", `/api/logs?provider=${provider}`)) as { total: number }).total < 4 && waited < 10_000; waited += 200) await pause(200);

  ui = await openDashboard("logs", "#logs");
  page = ui.page;
});

afterAll(async () => {
  await ui?.browser.close();
});

describe("dashboard logs page", () => {
  it("filters by provider, status, status code, virtual key, model and time range", async () => {
    const all = [ids.xss, ids.vk, ids.missing, ids.ok];
    expect(await filter({ provider })).toEqual(all);
    expect(await page.locator("#logs-total").textContent()).toBe("1–4 of 4 requests");
    expect(await filter({ provider, status: "error" })).toEqual([ids.xss, ids.missing]);
    await ui.snap("logs-filtered");
    expect(await filter({ provider, status: "success" })).toEqual([ids.vk, ids.ok]);
    expect(await filter({ provider, status: "success", code: "404" })).toEqual([ids.xss, ids.missing]);
    expect(await filter({ virtual_key: keyName })).toEqual([ids.vk]);
    expect(await filter({ model: `${provider}/no-such-model` })).toEqual([ids.missing]);
    expect(await filter({ provider, range: "15m" })).toEqual(all);
    // A custom window that ended an hour ago holds none of them.
    await page.selectOption("#f-range", "custom");
    const hourAgo = new Date(Date.now() - 3_600_000 - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.fill("#f-to", hourAgo);
    await page.click('form[aria-label="Log filters"] button[type="submit"]');
    await page.waitForSelector("#logs-empty");
    expect(await page.locator("#logs tbody tr").count()).toBe(0);
    expect(await page.inputValue("#f-to")).toBe(hourAgo);
  });

  it("shows a model name that is HTML as text", async () => {
    expect(await filter({ provider, status: "error" })).toEqual([ids.xss, ids.missing]);
    const row = page.locator(`#logs tbody tr[data-request-id="${ids.xss}"]`);
    expect(await row.locator("td").nth(2).textContent()).toBe(XSS_MODEL);
    expect(await page.locator("main img").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  });

  it("opens a row's details: request id, tokens, status, error code, cost", async () => {
    const logs = ((await admin("GET", `/api/logs?provider=${provider}`)) as { logs: LogRow[] }).logs;
    const missing = logs.find((l) => l.request_id === ids.missing);
    const vk = logs.find((l) => l.request_id === ids.vk);
    expect(missing?.error_code).toBe("model_not_found");
    const detailOf = async (id: string) => {
      await page.click(`#logs tbody tr[data-request-id="${id}"]`);
      await page.waitForSelector(`#log-detail[aria-label="Request ${id}"]`);
      const fields = await page.locator("#log-detail dd").evaluateAll((dds) => dds.map((dd) => [dd.getAttribute("data-field"), dd.textContent]));
      return Object.fromEntries(fields) as Record<string, string>;
    };

    const failed = await detailOf(ids.missing);
    expect(failed).toMatchObject({ "Request id": ids.missing, Status: "404", "Error code": missing?.error_code, Model: `${provider}/no-such-model`, Provider: provider, "Virtual key": "—", Endpoint: expect.stringContaining("chat") });

    await filter({ virtual_key: keyName });
    const ok = await detailOf(ids.vk);
    expect(ok).toMatchObject({
      "Request id": ids.vk, Status: "200", "Error code": "—", "Prompt tokens": String(vk?.prompt_tokens), "Completion tokens": String(vk?.completion_tokens),
      Stream: "no", "Cache hit": "no", Attempts: "1", "Fallback index": "0", "Provider key": "logs-gpu",
    });
    expect(ok["Virtual key"]).toContain(keyName);
    expect([vk?.prompt_tokens, vk?.completion_tokens]).toEqual([14, 7]);
    // $1 / $2 per million tokens: a few millionths of a dollar, shown to the digit.
    expect(ok.Cost).toMatch(/^\$0\.0000\d+$/);
    expect(Number((ok.Cost ?? "").slice(1))).toBeCloseTo(vk?.cost ?? -1, 12);
    expect(await page.locator("#log-detail").textContent()).toContain("LOG_PAYLOADS");
    await ui.snap("logs-detail");
    await page.getByRole("button", { name: "Close" }).click();
    expect(await page.locator("#log-detail").count()).toBe(0);
  });

  it("shows logged bodies (LOG_PAYLOADS=true) as escaped text, JSON pretty-printed", async () => {
    // This gateway runs without LOG_PAYLOADS: give the row bodies on their way from the real API to the page.
    const requestBody = JSON.stringify({ model: XSS_MODEL, messages: [{ role: "user", content: "<script>window.__xss=2</script>" }] });
    const responseBody = '<img src=x onerror="window.__xss=3"> not JSON';
    await page.route("**/api/logs?*", async (route) => {
      const response = await route.fetch();
      const data = (await response.json()) as { logs: Record<string, unknown>[] };
      for (const log of data.logs) Object.assign(log, { request_body: requestBody, response_body: responseBody });
      await route.fulfill({ response, json: data });
    });
    await filter({ virtual_key: keyName });
    await page.click(`#logs tbody tr[data-request-id="${ids.vk}"]`);
    const bodies = page.locator("#log-detail pre.payload");
    expect(await bodies.allTextContents()).toEqual([JSON.stringify(JSON.parse(requestBody), null, 2), responseBody]);
    expect(await page.locator("#log-detail img, #log-detail script").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await ui.snap("logs-detail-bodies");
    await page.unroute("**/api/logs?*");
  });

  it("keeps the console clean", () => {
    expect(ui.consoleProblems).toEqual([]);
  });
});
