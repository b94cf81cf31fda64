/**
 * The Usage page in real headless Chromium: known requests through the gateway with two virtual keys (one failing),
 * then the page's breakdowns by key, provider and model show their exact requests, errors, tokens and cost, with a
 * bar per group; a range that ends before them shows none. Screenshots go to test-results/.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LLAMA, NANOS_PER_TOKEN, addPricedProvider, admin, chat, dollars, openDashboard, type Dashboard } from "./dashboard-session";

const run = Date.now().toString(36);
const provider = `use${run}`;
const keys = { a: `usage-a-${run}`, b: `usage-b-${run}` };
let ui: Dashboard;
let page: Page;
const spent: Record<"a" | "b", [number, number]> = { a: [0, 0], b: [0, 0] };

const costNanos = ([prompt, completion]: number[]) => (prompt ?? 0) * NANOS_PER_TOKEN.prompt + (completion ?? 0) * NANOS_PER_TOKEN.completion;

beforeAll(async () => {
  await addPricedProvider(provider, "usage");
  const values: Record<string, string> = {};
  for (const [id, name] of Object.entries(keys)) {
    const created = await admin<{ virtual_key: { value: string } }>("POST", "/api/governance/virtual-keys", { name, provider_configs: [{ provider, weight: 1, allowed_models: ["*"] }] });
    values[id] = created.virtual_key.value;
  }
  const send = async (key: "a" | "b", model: string, expected: number) => {
    let usage = { prompt_tokens: 0, completion_tokens: 0 };
    // The gateway's configuration is cached for a second: a brand-new key or provider may take a retry.
    await vi.waitFor(async () => {
      const answer = await chat(model, { authorization: `Bearer ${values[key]}` });
      usage = answer.body.usage ?? usage;
      expect(answer.status).toBe(expected);
    }, { timeout: 5000, interval: 200 });
    spent[key][0] += usage.prompt_tokens;
    spent[key][1] += usage.completion_tokens;
  };
  await send("a", `${provider}/${LLAMA}`, 200);
  await send("a", `${provider}/${LLAMA}`, 200);
  await send("b", `${provider}/${LLAMA}`, 200);
  await send("b", `${provider}/no-such-model`, 404);
  // Log rows reach D1 in batches about a second later.
  await vi.waitFor(async () => expect((await admin<{ total: number }>("GET", `/api/logs?provider=${provider}`)).total).toBe(4), { timeout: 10_000, interval: 200 });
  ui = await openDashboard("usage", "#usage-form");
  page = ui.page;
});

afterAll(async () => {
  await ui?.browser.close();
});

const cells = (section: string, group: string) => page.locator(`#usage-${section} tr[data-group="${group}"] td`).allTextContents();

describe("dashboard usage page", () => {
  it("breaks the last hour down by virtual key, provider and model with exact numbers", async () => {
    await page.selectOption("#f-usage-range", "1h");
    await page.click('#usage-form button[type="submit"]');
    await page.waitForSelector("#usage-virtual_key");
    const keyIds = await admin<{ virtual_keys: { id: string; name: string }[] }>("GET", `/api/governance/virtual-keys?search=usage-`);
    const idOf = (name: string) => keyIds.virtual_keys.find((k) => k.name === name)?.id ?? "";
    const tokens = ([p, c]: number[]) => `${p} / ${c}`;
    expect((await cells("virtual_key", idOf(keys.a))).slice(0, 5)).toEqual([`${keys.a} (${idOf(keys.a)})`, "2", "0", tokens(spent.a), dollars(costNanos(spent.a))]);
    expect((await cells("virtual_key", idOf(keys.b))).slice(0, 5)).toEqual([`${keys.b} (${idOf(keys.b)})`, "2", "1", tokens(spent.b), dollars(costNanos(spent.b))]);
    const all = [(spent.a[0] ?? 0) + (spent.b[0] ?? 0), (spent.a[1] ?? 0) + (spent.b[1] ?? 0)];
    expect((await cells("provider", provider)).slice(0, 5)).toEqual([provider, "4", "1", tokens(all), dollars(costNanos(all))]);
    // The page shows the ten costliest groups; a $0 group may sit in "other" when earlier tests logged more models.
    const models = await admin<{ groups: { key: string; requests: number; errors: number }[] }>("GET", `/api/logs/usage?group_by=model&range=1h&limit=100`);
    expect(models.groups.find((row) => row.key === `${provider}/no-such-model`)).toMatchObject({ requests: 1, errors: 1 });
    expect((await cells("model", `${provider}/${LLAMA}`)).slice(0, 3)).toEqual([`${provider}/${LLAMA}`, "3", "0"]);
    // One bar per table line in each breakdown, and the totals cover at least these four requests.
    for (const section of ["virtual_key", "provider", "model"]) {
      expect(await page.locator(`#usage-${section} svg.bars rect`).count()).toBe(await page.locator(`#usage-${section} tbody tr`).count());
    }
    expect(Number(await page.locator('#usage-totals [data-field="Requests"]').textContent())).toBeGreaterThanOrEqual(4);
    await ui.snap("usage");
  });

  it("draws bars by the chosen measure", async () => {
    await page.selectOption("#f-usage-metric", "requests");
    await page.click('#usage-form button[type="submit"]');
    await page.waitForSelector('#usage-provider svg.bars[aria-label="Requests by provider"]');
    expect(await page.locator("#usage-provider svg.bars text").allTextContents()).toContain("4");
  });

  it("shows nothing for a range that ended before the requests", async () => {
    await page.selectOption("#f-usage-range", "custom");
    await page.fill("#f-usage-from", "2020-01-01T00:00");
    await page.fill("#f-usage-to", "2020-01-02T00:00");
    await page.click('#usage-form button[type="submit"]');
    await expect.poll(() => page.locator('#usage-totals [data-field="Requests"]').textContent(), { timeout: 5000 }).toBe("0");
    expect(await page.locator("#usage-provider").textContent()).toContain("No requests in this range.");
    await ui.snap("usage-empty");
  });

  it("keeps the console clean", () => {
    expect(ui.consoleProblems).toEqual([]);
  });
});
