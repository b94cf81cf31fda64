/**
 * The dashboard's Virtual keys form in real headless Chromium: create a key with two provider configs, a sub-cent
 * budget and a request limit, check what the admin API stored and what real requests meet (a 429 on the third),
 * then edit it in the same form (limit raised, one provider removed) and see the change take effect; a validation
 * error from the API shows next to the form and marks the input it names; limits, origins and cache are set and
 * cleared; a description that is HTML stays text; the form fits a narrow window. Screenshots go to test-results/.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openDashboard, type Dashboard } from "./dashboard-session";

const gatewayUrl = inject("gatewayUrl");
const fakeUrl = inject("e2eFakeVllmUrl");
const run = Date.now().toString(36);
const providerA = `keysa${run}`;
const providerB = `keysb${run}`;
const keyName = `form-key-${run}`;
const LLAMA = "meta-llama/Llama-3.2-1B-Instruct";
const DESCRIPTION = `<img src=x onerror="window.__xss=1"> team ${run}`;
let ui: Dashboard;
let page: Page;
let keyId = "";
let keyValue = "";

interface StoredKey {
  id: string;
  name: string;
  description: string;
  is_active: boolean;
  provider_configs: { provider: string; weight: number | null; allowed_models: string[] | null; key_ids: string[] | null; budgets: unknown[]; rate_limit: unknown }[];
  budgets: { id: string; max_limit: number; reset_duration: string; calendar_aligned: boolean }[];
  rate_limit: { request_max_limit: number | null; request_reset_duration: string | null; token_max_limit: number | null; token_reset_duration: string | null } | null;
  max_concurrent_requests: number | null;
  allowed_origins: string[];
  lower_max_tokens_to_fit: boolean;
  response_cache: { ttl_seconds: number; shared_across_keys: boolean } | null;
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

const stored = async (): Promise<StoredKey> => ((await admin("GET", `/api/governance/virtual-keys/${keyId}`)) as { virtual_key: StoredKey }).virtual_key;

/** A chat request with the key, for a bare model name (weighted routing over the key's providers). */
async function chat(): Promise<number> {
  const response = await fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${keyValue}`, "content-type": "application/json" },
    body: JSON.stringify({ model: LLAMA, max_tokens: 10, messages: [{ role: "user", content: "Hello from the keys form test" }] }),
  });
  await response.text();
  return response.status;
}

const row = (form: string, kind: string, index: number) => page.locator(`${form} [data-row="${kind}"]`).nth(index);

beforeAll(async () => {
  for (const [provider, origin] of [[providerA, "keys-a"], [providerB, "keys-b"]] as const) {
    await admin("POST", "/api/providers", { provider, keys: [{ name: `${origin}-gpu`, value: "" }], network_config: { base_url: `${fakeUrl}/o/${origin}` }, custom_provider_config: { base_provider_type: "openai" } });
    await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider, match_type: "wildcard", pattern: "*", input_price_per_million: 1, output_price_per_million: 2 });
  }
  // Configuration is cached for a second (CONFIG_CACHE_SECONDS).
  await new Promise((resolve) => setTimeout(resolve, 1100));
  ui = await openDashboard("keys", "#create-key");
  page = ui.page;
});

afterAll(async () => {
  await ui?.browser.close();
});

describe("dashboard virtual-key form", () => {
  it("creates a key with two weighted providers, a $0.005 budget and 2 requests per hour", async () => {
    await page.fill("#f-name", keyName);
    await page.fill("#f-description", DESCRIPTION);
    await row("#create-key", "provider", 0).locator('select[name="pc-provider"]').selectOption(providerA);
    await row("#create-key", "provider", 0).locator('input[name="pc-weight"]').fill("3");
    await row("#create-key", "provider", 0).locator('input[name="pc-models"]').fill(` ${LLAMA} `);
    await row("#create-key", "provider", 0).locator('input[name="pc-keys"]').fill("keys-a-gpu");
    await page.click("#add-provider-config");
    await row("#create-key", "provider", 1).locator('select[name="pc-provider"]').selectOption(providerB);
    await row("#create-key", "provider", 1).locator('input[name="pc-weight"]').fill("1");
    await row("#create-key", "budget", 0).locator('input[name="b-max"]').fill("0.005");
    await row("#create-key", "budget", 0).locator('input[name="b-reset"]').fill("1d");
    await page.fill("#f-requests", "2");
    await page.fill("#f-requests_reset", "1h");
    await ui.snap("keys-form");
    await page.click('#create-key button[type="submit"]');
    keyValue = (await page.locator("#new-key-value").textContent()) ?? "";
    expect(keyValue).toMatch(/^sk-bf-/);
    await ui.snap("keys-created");

    const list = (await admin("GET", `/api/governance/virtual-keys?search=${keyName}`)) as { virtual_keys: StoredKey[] };
    expect(list.virtual_keys).toHaveLength(1);
    keyId = list.virtual_keys[0]?.id ?? "";
    const key = await stored();
    expect(key).toMatchObject({
      name: keyName, description: DESCRIPTION, is_active: true,
      provider_configs: [
        { provider: providerA, weight: 3, allowed_models: [LLAMA], key_ids: ["keys-a-gpu"], budgets: [], rate_limit: null },
        { provider: providerB, weight: 1, allowed_models: null, key_ids: null, budgets: [], rate_limit: null },
      ],
      budgets: [{ max_limit: 0.005, reset_duration: "1d", calendar_aligned: false }],
      rate_limit: { request_max_limit: 2, request_reset_duration: "1h", token_max_limit: null, token_reset_duration: null },
      max_concurrent_requests: null, allowed_origins: [], lower_max_tokens_to_fit: false, response_cache: null,
    });
    expect(key.provider_configs).toHaveLength(2);
    expect(key.budgets).toHaveLength(1);

    expect(await chat()).toBe(200);
    expect(await chat()).toBe(200);
    expect(await chat()).toBe(429);
  });

  it("shows the description as text on the key's card", async () => {
    await page.click('nav button[data-view="keys"]');
    const card = page.locator(`[data-key="${keyName}"]`);
    await card.waitFor();
    expect(await card.locator("p").first().textContent()).toBe(DESCRIPTION);
    expect(await page.locator("main img").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  });

  it("loads the key into the form, saves an edit with PUT, and the change takes effect", async () => {
    await page.locator(`[data-key="${keyName}"]`).getByRole("button", { name: "Edit" }).click();
    await page.waitForSelector("#edit-key");
    expect(await page.inputValue("#f-name")).toBe(keyName);
    expect(await page.inputValue("#f-description")).toBe(DESCRIPTION);
    expect(await page.locator('#edit-key [data-row="provider"] select').evaluateAll((s) => s.map((el) => (el as HTMLSelectElement).value))).toEqual([providerA, providerB]);
    expect(await page.locator('#edit-key input[name="pc-weight"]').evaluateAll((s) => s.map((el) => (el as HTMLInputElement).value))).toEqual(["3", "1"]);
    expect(await row("#edit-key", "provider", 0).locator('input[name="pc-models"]').inputValue()).toBe(LLAMA);
    expect(await row("#edit-key", "budget", 0).locator('input[name="b-max"]').inputValue()).toBe("0.005");
    expect(await page.inputValue("#f-requests")).toBe("2");
    expect(await page.inputValue("#f-requests_reset")).toBe("1h");

    await page.fill("#f-requests", "5");
    await row("#edit-key", "provider", 1).getByRole("button", { name: /^Remove/ }).click();
    expect(await page.locator('#edit-key [data-row="provider"]').count()).toBe(1);
    await page.click('#edit-key button[type="submit"]');
    await expect.poll(() => page.locator("#key-form-status").textContent(), { timeout: 5000 }).toContain("Saved");
    await ui.snap("keys-edit");

    const key = await stored();
    expect(key.rate_limit).toMatchObject({ request_max_limit: 5, request_reset_duration: "1h" });
    expect(key.provider_configs).toEqual([expect.objectContaining({ provider: providerA, weight: 3, allowed_models: [LLAMA], key_ids: ["keys-a-gpu"] })]);
    expect(key.budgets).toEqual([expect.objectContaining({ max_limit: 0.005, reset_duration: "1d" })]);
    expect(key.description).toBe(DESCRIPTION);
    expect(await chat()).toBe(200);
  });

  it("shows the API's validation error next to the form and stores nothing", async () => {
    await page.waitForSelector("#edit-key");
    await row("#edit-key", "provider", 0).locator('input[name="pc-weight"]').fill("-1");
    await page.click('#edit-key button[type="submit"]');
    const alert = page.locator('#key-form-status [role="alert"]');
    await alert.waitFor();
    expect(await alert.textContent()).toContain("provider_configs[0].weight");
    // The input it names is marked and focused.
    const weight = row("#edit-key", "provider", 0).locator('input[name="pc-weight"]');
    expect(await weight.getAttribute("aria-invalid")).toBe("true");
    expect(await weight.evaluate((el) => el === document.activeElement)).toBe(true);
    await ui.snap("keys-error");
    // Chromium itself logs every 4xx fetch; that one line, for this deliberate 400, is the only one allowed.
    const expected = ui.consoleProblems.findIndex((p) => p.includes("status of 400") && p.includes(`/api/governance/virtual-keys/${keyId}`));
    expect(expected).toBeGreaterThanOrEqual(0);
    ui.consoleProblems.splice(expected, 1);
    expect((await stored()).provider_configs[0]?.weight).toBe(3);
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.waitForSelector("#create-key");
  });

  it("sets and then clears the limits, origins and cache (rate_limit and response_cache sent as null)", async () => {
    const edit = async () => {
      await page.locator(`[data-key="${keyName}"]`).getByRole("button", { name: "Edit" }).click();
      await page.waitForSelector("#edit-key");
    };
    const save = async () => {
      await page.click('#edit-key button[type="submit"]');
      await expect.poll(() => page.locator("#key-form-status").textContent(), { timeout: 5000 }).toContain("Saved");
    };
    await edit();
    await page.fill("#f-tokens", "100000");
    await page.fill("#f-tokens_reset", "1d");
    await page.fill("#f-concurrent", "4");
    await page.fill("#f-origins", "https://app.example.com, http://localhost:5173");
    await page.check("#f-lower");
    await page.fill("#f-cache_ttl", "60");
    await page.check("#f-cache_shared");
    await save();
    expect(await stored()).toMatchObject({
      rate_limit: { request_max_limit: 5, request_reset_duration: "1h", token_max_limit: 100000, token_reset_duration: "1d" },
      max_concurrent_requests: 4, allowed_origins: ["https://app.example.com", "http://localhost:5173"], lower_max_tokens_to_fit: true,
      response_cache: { ttl_seconds: 60, shared_across_keys: true },
    });
    // What the form shows after the save is what is stored.
    expect(await page.inputValue("#f-tokens")).toBe("100000");
    expect(await page.isChecked("#f-cache_shared")).toBe(true);

    // A bad origin: the API's 400 names allowed_origins and the form marks that input.
    await page.fill("#f-origins", "not-an-origin");
    await page.click('#edit-key button[type="submit"]');
    await page.locator('#key-form-status [role="alert"]').waitFor();
    expect(await page.locator("#key-form-status").textContent()).toContain("allowed_origins[0]");
    expect(await page.getAttribute("#f-origins", "aria-invalid")).toBe("true");
    const expected = ui.consoleProblems.findIndex((p) => p.includes("status of 400"));
    expect(expected).toBeGreaterThanOrEqual(0);
    ui.consoleProblems.splice(expected, 1);

    for (const id of ["#f-requests", "#f-tokens", "#f-concurrent", "#f-origins", "#f-cache_ttl"]) await page.fill(id, "");
    await page.uncheck("#f-lower");
    await save();
    expect(await page.getAttribute("#f-origins", "aria-invalid")).toBeNull();
    expect(await stored()).toMatchObject({ rate_limit: null, max_concurrent_requests: null, allowed_origins: [], lower_max_tokens_to_fit: false, response_cache: null });
    expect((await stored()).budgets).toEqual([expect.objectContaining({ max_limit: 0.005, reset_duration: "1d" })]);
  });

  it("fits a narrow window", async () => {
    await page.setViewportSize({ width: 760, height: 900 });
    await page.locator(`[data-key="${keyName}"]`).getByRole("button", { name: "Edit" }).click();
    await page.waitForSelector("#edit-key");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(760);
    await ui.snap("keys-narrow");
    await page.setViewportSize({ width: 1366, height: 900 });
  });

  it("keeps the console clean", () => {
    expect(ui.consoleProblems).toEqual([]);
  });
});
