/**
 * The dashboard in real headless Chromium: sign in, add a provider and a virtual key through the UI, send a request
 * with that key, then find it in the logs and see the key's budget bar move. Screenshots go to test-results/.
 */
import { mkdir } from "node:fs/promises";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./browser";

const gatewayUrl = inject("gatewayUrl");
const fakeUrl = inject("e2eFakeVllmUrl");
let browser: Browser;
let page: Page;
let keyValue = "";

async function snap(name: string): Promise<void> {
  await mkdir("test-results", { recursive: true });
  await page.screenshot({ path: `test-results/dashboard-${name}.png`, fullPage: true });
}

beforeAll(async () => {
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  page.on("dialog", (dialog) => void dialog.accept());
  // Prices for the provider the UI will create, so the budget has something to count.
  const price = await fetch(`${gatewayUrl}/api/governance/pricing-overrides`, {
    method: "POST",
    headers: { authorization: "Bearer e2e-admin-token", "content-type": "application/json" },
    body: JSON.stringify({ scope_kind: "provider", provider: "ui-origin", match_type: "wildcard", pattern: "*", input_price_per_million: 100, output_price_per_million: 1000 }),
  });
  expect(price.status).toBe(200);
});

afterAll(async () => {
  await browser?.close();
});

describe("dashboard", () => {
  it("signs in with the admin token and refuses a wrong one", async () => {
    await page.goto(`${gatewayUrl}/ui`);
    await page.fill("#f-token", "wrong");
    await page.press("#f-token", "Enter");
    await page.waitForSelector('[role="alert"]');
    await page.fill("#f-token", "e2e-admin-token");
    await page.press("#f-token", "Enter");
    await page.waitForSelector('nav button[aria-current="page"][data-view="overview"]');
    // Each chart spans the whole 24 hours, a point per 30-minute bucket at its time — quiet ones at zero — so an
    // hour's traffic is drawn where it happened, not stretched across the day.
    const points = (await page.locator(".chart polyline").first().getAttribute("points"))?.split(" ").map((point) => Number(point.split(",")[0])) ?? [];
    expect(points.length).toBeGreaterThanOrEqual(48);
    expect(points[0]).toBe(24);
    expect(points.at(-1)).toBeGreaterThan(440);
    await snap("overview");
  });

  it("adds a provider through the form and tests its connection", async () => {
    await page.click('nav button[data-view="providers"]');
    await page.fill("#f-provider", "ui-origin");
    await page.fill("#f-url", `${fakeUrl}/o/ui`);
    await page.fill("#f-key_name", "ui-gpu");
    await page.click('#add-provider button[type="submit"]');
    const card = page.locator('[data-provider="ui-origin"]');
    await card.waitFor();
    await card.getByRole("button", { name: "Test connection" }).click();
    await expect.poll(() => card.locator('[data-test="ok"]').textContent(), { timeout: 5000 }).toContain("meta-llama/Llama-3.2-1B-Instruct");
    await snap("providers");
    // Edit the key's weight through its inline form.
    await card.getByRole("button", { name: "Edit", exact: true }).click();
    await card.locator('form[aria-label="Edit key ui-gpu"] input[name="weight"]').fill("3");
    await card.locator('form[aria-label="Edit key ui-gpu"] button[type="submit"]').click();
    const weightCell = () => page.locator('[data-provider="ui-origin"] tbody tr').first().locator("td").nth(4).textContent();
    await expect.poll(weightCell, { timeout: 5000 }).toBe("3");
  });

  it("moves a key with a secret to a new origin only when the secret is re-entered", async () => {
    await page.fill("#f-provider", "sgl");
    await page.fill("#f-url", `${fakeUrl}/o/sgl-a`);
    await page.fill("#f-key_name", "sgl-gpu");
    await page.fill("#f-key_value", "sgl-origin-secret-0123456789");
    await page.click('#add-provider button[type="submit"]');
    const card = page.locator('[data-provider="sgl"]');
    await card.waitFor();
    const form = () => card.locator('form[aria-label="Edit key sgl-gpu"]');
    await card.getByRole("button", { name: "Edit", exact: true }).click();
    await form().locator('input[name="url"]').fill(`${fakeUrl}/o/sgl-b`);
    await form().locator('button[type="submit"]').click();
    await expect.poll(() => card.locator('[role="alert"]').textContent(), { timeout: 5000 }).toContain("re-ent");
    await card.getByRole("button", { name: "Edit", exact: true }).click();
    await form().locator('input[name="url"]').fill(`${fakeUrl}/o/sgl-b`);
    await form().locator('input[name="secret"]').fill("sgl-origin-secret-0123456789");
    await form().locator('button[type="submit"]').click();
    const originCell = () => page.locator('[data-provider="sgl"] tbody tr').first().locator("td").nth(1).textContent();
    await expect.poll(originCell, { timeout: 5000 }).toBe(`${fakeUrl}/o/sgl-b`);
    await snap("key-moved");
  });

  it("shows the price in force for a model and where it comes from", async () => {
    await page.selectOption("#f-price-provider", "ui-origin");
    await page.fill("#f-model", "meta-llama/Llama-3.2-1B-Instruct");
    await page.click('#price-lookup button[type="submit"]');
    const row = page.locator("#price-result tbody tr").first();
    await row.waitFor();
    const cells = await row.locator("td").allTextContents();
    expect(cells).toEqual(["ui-gpu", "meta-llama/Llama-3.2-1B-Instruct", "$100 / 1M", "$1000 / 1M", "—", "override '*' (provider, *)", "not in the catalog"]);
    await snap("prices");
  });

  it("creates a virtual key, shown once; a request with it appears in the logs and moves its budget bar", async () => {
    await page.click('nav button[data-view="keys"]');
    await page.fill("#f-name", "ui-key");
    await page.selectOption('#create-key [data-row="provider"] select[name="pc-provider"]', "ui-origin");
    await page.fill('#create-key [data-row="budget"] input[name="b-max"]', "1");
    await page.fill("#f-requests", "100");
    await page.click('#create-key button[type="submit"]');
    const value = (await page.locator("#new-key-value").textContent()) ?? "";
    keyValue = value;
    expect(value).toMatch(/^sk-bf-/);
    await snap("key-created");

    const chat = await fetch(`${gatewayUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${value}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "ui-origin/meta-llama/Llama-3.2-1B-Instruct", max_tokens: 10, messages: [{ role: "user", content: "Hello from the dashboard test" }] }),
    });
    expect(chat.status).toBe(200);

    await page.click('nav button[data-view="logs"]');
    await page.fill("#f-virtual_key", "ui-key");
    await expect
      .poll(async () => {
        await page.click('form[aria-label="Log filters"] button[type="submit"]');
        await page.waitForSelector("#logs");
        return page.locator("#logs tbody tr").count();
      }, { timeout: 10_000 })
      .toBe(1);
    expect(await page.locator("#logs tbody tr").first().textContent()).toContain("ui-origin/meta-llama/Llama-3.2-1B-Instruct");
    await snap("logs");

    await page.click('nav button[data-view="keys"]');
    const budget = page.locator('[data-key="ui-key"] .usage').first();
    await budget.waitFor();
    expect(Number(await budget.getAttribute("data-used"))).toBeGreaterThan(0);
    // One page of keys has no pager: nothing stands in its place (a null once showed as the text "null").
    expect(await page.locator("#key-list").innerText()).not.toMatch(/^null$/m);
    await snap("budget");
  });

  it("deactivates the key from the UI, and the next request is refused", async () => {
    const card = page.locator('[data-key="ui-key"]');
    await card.getByRole("button", { name: "Deactivate" }).click();
    // exact: "Activate" is also part of "Deactivate", which is there until the list is drawn again.
    await page.locator('[data-key="ui-key"]').getByRole("button", { name: "Activate", exact: true }).waitFor();
    await snap("deactivated");
    const refused = await fetch(`${gatewayUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${keyValue}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "ui-origin/meta-llama/Llama-3.2-1B-Instruct", max_tokens: 10, messages: [{ role: "user", content: "again" }] }),
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("virtual_key_blocked");
  });
});
