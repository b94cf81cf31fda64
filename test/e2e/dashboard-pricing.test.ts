/**
 * The Prices card in real headless Chromium: create a price override in the form and see the price in force change
 * (and a real request's cost follow it), edit it, refuse an invalid one next to the form, delete it and see the model
 * unpriced again. Screenshots go to test-results/.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LLAMA, admin, chat, fakeUrl, openDashboard, type Dashboard } from "./dashboard-session";

const run = Date.now().toString(36);
const provider = `price${run}`;
let ui: Dashboard;
let page: Page;

/** The cells of the price lookup's first row. */
async function priceInForce(): Promise<string[]> {
  await page.selectOption("#f-price-provider", provider);
  await page.fill("#f-model", LLAMA);
  await page.click('#price-lookup button[type="submit"]');
  await page.locator("#price-result tbody tr").first().waitFor();
  return page.locator("#price-result tbody tr").first().locator("td").allTextContents();
}

const overrideRow = (name: string) => page.locator(`#overrides tr[data-override="${name}"]`);

async function fillOverride(values: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(values)) {
    const field = page.locator(`#override-form [name="${name}"]`);
    if ((await field.evaluate((el) => el.tagName)) === "SELECT") await field.selectOption(value);
    else await field.fill(value);
  }
}

beforeAll(async () => {
  await admin("POST", "/api/providers", { provider, keys: [{ name: "price-gpu", value: "" }], network_config: { base_url: `${fakeUrl}/o/price` }, custom_provider_config: { base_provider_type: "openai" } });
  ui = await openDashboard("providers", "#override-form");
  page = ui.page;
});

afterAll(async () => {
  await ui?.browser.close();
});

describe("dashboard price overrides", () => {
  it("shows a self-hosted model as unpriced until an override prices it", async () => {
    expect(await priceInForce()).toEqual(["price-gpu", LLAMA, "No price: refused under a dollar budget until priced", "not in the catalog"]);
  });

  it("creates an override; the price in force and a real request's cost follow it", async () => {
    await fillOverride({ po_name: `lab ${run}`, po_scope: "provider", po_provider: provider, po_match: "wildcard", po_pattern: "meta-llama/*", po_input: "2", po_output: "4" });
    await page.click('#override-form button[type="submit"]');
    await overrideRow(`lab ${run}`).waitFor();
    expect(await overrideRow(`lab ${run}`).locator("td").allTextContents()).toEqual([`lab ${run}`, `provider ${provider}`, "meta-llama/*", "$2 / 1M", "$4 / 1M", "—", "EditDelete"]);
    // The lookup shown before is asked again after the save.
    await expect.poll(() => page.locator("#price-result tbody tr").first().locator("td").allTextContents(), { timeout: 5000 })
      .toEqual(["price-gpu", LLAMA, "$2 / 1M", "$4 / 1M", "—", `override 'lab ${run}' (provider, meta-llama/*)`, "not in the catalog"]);
    await ui.snap("pricing-created");

    const id = `price-${run}`;
    // The gateway's configuration is cached for a second: send requests until one is priced. Each one's log row
    // reaches D1 about a second after it, so its cost is read once the row is there.
    let attempt = 0;
    let usage = { prompt_tokens: 0, completion_tokens: 0 };
    let requestId = "";
    await expect.poll(async () => {
      requestId = `${id}-${(attempt += 1)}`;
      const answer = await chat(`${provider}/${LLAMA}`, { "x-request-id": requestId });
      usage = answer.body.usage ?? usage;
      const logged = await vi.waitFor(async () => {
        const logs = await admin<{ logs: { cost: number }[] }>("GET", `/api/logs?request_id=${requestId}`);
        const row = logs.logs[0];
        if (!row) throw new Error(`request ${requestId} not logged yet`);
        return row;
      }, { timeout: 10_000, interval: 200 });
      return logged.cost;
    }, { timeout: 30_000, interval: 300 }).toSatisfy((cost) => typeof cost === "number" && cost > 0);
    const logged = await admin<{ logs: { cost: number; prompt_tokens: number; completion_tokens: number }[] }>("GET", `/api/logs?request_id=${requestId}`);
    const row = logged.logs[0];
    expect(row?.cost).toBeCloseTo(((row?.prompt_tokens ?? 0) * 2 + (row?.completion_tokens ?? 0) * 4) / 1e6, 12);
    expect([row?.prompt_tokens, row?.completion_tokens]).toEqual([usage.prompt_tokens, usage.completion_tokens]);
  });

  it("edits the override, and a key-scoped exact price wins over it", async () => {
    await overrideRow(`lab ${run}`).getByRole("button", { name: "Edit" }).click();
    await page.waitForSelector(`#override-form[aria-label="Edit price override lab ${run}"]`);
    await fillOverride({ po_input: "3" });
    await page.click('#override-form button[type="submit"]');
    await expect.poll(() => overrideRow(`lab ${run}`).locator("td").nth(3).textContent(), { timeout: 5000 }).toBe("$3 / 1M");
    await expect.poll(async () => (await page.locator("#price-result tbody tr").first().locator("td").allTextContents())[2], { timeout: 5000 }).toBe("$3 / 1M");

    await fillOverride({ po_name: `gpu ${run}`, po_scope: "provider_key", po_provider: provider, po_key: "price-gpu", po_match: "exact", po_pattern: LLAMA, po_input: "0.5", po_output: "1.5" });
    await page.click('#override-form button[type="submit"]');
    await overrideRow(`gpu ${run}`).waitFor();
    expect(await overrideRow(`gpu ${run}`).locator("td").nth(1).textContent()).toBe(`key ${provider} / price-gpu`);
    await expect.poll(() => page.locator("#price-result tbody tr").first().locator("td").allTextContents(), { timeout: 5000 })
      .toEqual(["price-gpu", LLAMA, "$0.5 / 1M", "$1.5 / 1M", "—", `override 'gpu ${run}' (provider_key, ${LLAMA})`, "not in the catalog"]);
    await ui.snap("pricing-edited");
  });

  it("shows the API's refusal next to the form", async () => {
    await fillOverride({ po_name: "", po_scope: "global", po_match: "wildcard", po_pattern: "qwen*", po_input: "", po_output: "", po_second: "" });
    await page.click('#override-form button[type="submit"]');
    const alert = page.locator('#override-status [role="alert"]');
    await alert.waitFor();
    expect(await alert.textContent()).toContain("give input_price_per_million");
    const refused = ui.consoleProblems.findIndex((line) => line.includes("status of 400") && line.includes("/api/governance/pricing-overrides"));
    expect(refused).toBeGreaterThanOrEqual(0);
    ui.consoleProblems.splice(refused, 1);
  });

  it("deletes the overrides; the model is unpriced again", async () => {
    for (const name of [`gpu ${run}`, `lab ${run}`]) {
      await overrideRow(name).getByRole("button", { name: "Delete" }).click();
      await overrideRow(name).waitFor({ state: "detached" });
    }
    await expect.poll(() => page.locator("#price-result tbody tr").first().locator("td").allTextContents(), { timeout: 5000 })
      .toEqual(["price-gpu", LLAMA, "No price: refused under a dollar budget until priced", "not in the catalog"]);
    const { pricing_overrides } = await admin<{ pricing_overrides: { name: string }[] }>("GET", "/api/governance/pricing-overrides");
    expect(pricing_overrides.map((o) => o.name)).not.toContain(`lab ${run}`);
    await ui.snap("pricing-deleted");
  });

  it("keeps the console clean", () => {
    expect(ui.consoleProblems).toEqual([]);
  });
});
