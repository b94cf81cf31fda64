/**
 * The Teams page in real headless Chromium: create a customer with a sub-cent budget and a team under it in the
 * form, put a virtual key first under the customer and then in the team from the Virtual keys form, send real
 * requests with the key, and see the team's and the customer's bars — on the Teams page and on the key's card —
 * show exactly what they cost, and what a running request reserves. A 400 marks the input it names, a delete refused because of members shows the API's
 * message on the card, an edit keeps the usage, and an empty group is deleted. Screenshots go to test-results/.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LLAMA, NANOS_PER_TOKEN, addPricedProvider, admin, chat, dollars, gatewayUrl, openDashboard, type Dashboard } from "./dashboard-session";

const run = Date.now().toString(36);
const provider = `teams${run}`;
const customerName = `acme-${run}`;
const teamName = `research-${run}`;
const keyName = `team-key-${run}`;
let ui: Dashboard;
let page: Page;
let customerId = "";
let teamId = "";
let keyId = "";
let keyValue = "";
/** What the requests cost, in nano-dollars, and how many were admitted. */
let spentNanos = 0;
let requests = 0;

interface QuotaWindow {
  current_usage: number;
  reserved: number;
}
interface Group {
  id: string;
  name: string;
  description: string;
  customer_id: string | null;
  budgets: { id: string; max_limit: number; reset_duration: string; calendar_aligned: boolean }[];
  rate_limit: { request_max_limit: number | null; request_reset_duration: string | null; token_max_limit: number | null } | null;
  lease_share: number | null;
}
interface Usage {
  budgets: QuotaWindow[];
  rate_limits: { requests: QuotaWindow | null }[];
}

const card = (name: string) => page.locator(`[data-group="${name}"]`);
const bar = (scope: string, label: string) => page.locator(`${scope} .usage[data-label="${label}"]`);
const nanos = (dollarsText: string | null) => Math.round(Number(dollarsText) * 1e9);
const found = async <T>(kind: "teams" | "customers", name: string): Promise<T[]> => (await admin<Record<string, T[]>>("GET", `/api/governance/${kind}?search=${name}`))[kind] ?? [];

async function submitGroupForm(form: "#create-group" | "#edit-group", done: string): Promise<void> {
  await page.click(`${form} button[type="submit"]`);
  await expect.poll(() => page.locator("#group-form-status").textContent(), { timeout: 5000 }).toBe(done);
}

async function saveKey(form: "#create-key" | "#edit-key"): Promise<void> {
  await page.click(`${form} button[type="submit"]`);
  await page.locator(form === "#create-key" ? "#new-key-value" : '#key-form-status [role="status"].ok').waitFor();
}

const storedKey = async () => (await admin<{ virtual_key: { team_id: string | null; customer_id: string | null } }>("GET", `/api/governance/virtual-keys/${keyId}`)).virtual_key;

/** Takes the one console line Chromium writes for a deliberate 4xx answer to `path`; any other stays a failure. */
function expectFailedFetchLogged(status: number, path: string): void {
  const index = ui.consoleProblems.findIndex((p) => p.includes(`status of ${status}`) && p.includes(path));
  expect(index, ui.consoleProblems.join("\n")).toBeGreaterThanOrEqual(0);
  ui.consoleProblems.splice(index, 1);
}

beforeAll(async () => {
  await addPricedProvider(provider, "teams");
  ui = await openDashboard("teams", "#create-group");
  page = ui.page;
});

afterAll(async () => {
  await ui?.browser.close();
});

describe("dashboard teams and customers", () => {
  it("creates a customer with a $0.05 budget, then a team under it with a $0.005 budget and 10 requests an hour", async () => {
    await page.selectOption("#f-kind", "customer");
    expect(await page.isDisabled("#f-customer")).toBe(true);
    await page.fill("#f-name", customerName);
    await page.fill("#f-description", "<b>not bold</b>");
    await page.locator('#create-group [data-row="budget"] [name="b-max"]').fill("0.05");
    await page.locator('#create-group [data-row="budget"] [name="b-reset"]').fill("1d");
    await page.fill("#f-lease_share", "0");
    await ui.snap("teams-form");
    await submitGroupForm("#create-group", `Created customer ${customerName}.`);
    const [customer] = await found<Group>("customers", customerName);
    customerId = customer?.id ?? "";
    expect(customer).toMatchObject({ name: customerName, description: "<b>not bold</b>", customer_id: null, budgets: [{ max_limit: 0.05, reset_duration: "1d", calendar_aligned: false }], rate_limit: null, lease_share: 0 });

    await page.selectOption("#f-kind", "team");
    await page.fill("#f-name", teamName);
    await page.selectOption("#f-customer", customerId);
    await page.locator('#create-group [data-row="budget"] [name="b-max"]').fill("0.005");
    await page.locator('#create-group [data-row="budget"] [name="b-reset"]').fill("1d");
    await page.fill("#f-requests", "10");
    await page.fill("#f-requests_reset", "1h");
    await submitGroupForm("#create-group", `Created team ${teamName}.`);
    const [team] = await found<Group>("teams", teamName);
    teamId = team?.id ?? "";
    expect(team).toMatchObject({
      name: teamName, customer_id: customerId, budgets: [{ max_limit: 0.005, reset_duration: "1d" }],
      rate_limit: { request_max_limit: 10, request_reset_duration: "1h", token_max_limit: null }, lease_share: null,
    });

    // Each card says how the two are linked; the description stays text.
    expect(await card(teamName).locator("p.muted").first().textContent()).toBe(`id ${teamId} · customer: ${customerName} · keys: none · lease share: gateway default`);
    expect(await card(customerName).locator("p.muted").first().textContent()).toBe(`id ${customerId} · teams: ${teamName} · keys: none · lease share: 0`);
    expect(await card(customerName).locator("p").first().textContent()).toBe("<b>not bold</b>");
    expect(await page.locator("main b").count()).toBe(0);
    expect(await bar(`[data-group="${teamName}"]`, "Requests (1h)").locator("span").first().textContent()).toBe("Requests (1h): 0 of 10");
  });

  it("marks the input a 400 names and stores nothing", async () => {
    await card(teamName).getByRole("button", { name: "Edit" }).click();
    await page.waitForSelector("#edit-group");
    expect(await page.inputValue("#f-name")).toBe(teamName);
    expect(await page.inputValue("#f-customer")).toBe(customerId);
    expect(await page.locator('#edit-group [name="b-max"]').inputValue()).toBe("0.005");
    await page.fill("#f-lease_share", "0.9");
    await page.click('#edit-group button[type="submit"]');
    const alert = page.locator('#group-form-status [role="alert"]');
    await alert.waitFor();
    expect(await alert.textContent()).toContain("lease_share");
    expect(await page.getAttribute("#f-lease_share", "aria-invalid")).toBe("true");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("f-lease_share");
    await ui.snap("teams-error");
    expectFailedFetchLogged(400, `/api/governance/teams/${teamId}`);
    expect((await found<Group>("teams", teamName))[0]?.lease_share).toBeNull();
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.waitForSelector("#create-group");
  });

  it("puts a key under the customer from the Virtual keys form, then moves it into the team", async () => {
    await page.click('nav button[data-view="keys"]');
    await page.waitForSelector("#create-key");
    await page.fill("#f-name", keyName);
    await page.locator('#create-key [data-row="provider"] select[name="pc-provider"]').selectOption(provider);
    await page.selectOption("#f-group", `customer:${customerId}`);
    await saveKey("#create-key");
    keyValue = (await page.locator("#new-key-value").textContent()) ?? "";
    keyId = (await admin<{ virtual_keys: { id: string }[] }>("GET", `/api/governance/virtual-keys?search=${keyName}`)).virtual_keys[0]?.id ?? "";
    expect(await storedKey()).toMatchObject({ team_id: null, customer_id: customerId });

    await page.locator(`[data-key="${keyName}"]`).getByRole("button", { name: "Edit" }).click();
    await page.waitForSelector("#edit-key");
    expect(await page.inputValue("#f-group")).toBe(`customer:${customerId}`);
    // One select holds both kinds, so choosing the team is leaving the customer.
    await page.selectOption("#f-group", `team:${teamId}`);
    await saveKey("#edit-key");
    expect(await storedKey()).toMatchObject({ team_id: teamId, customer_id: null });
  });

  it("shows the exact cost of real requests in the team's and the customer's bars", async () => {
    // The key's usage answer names the team once the gateway's routing table has it; requests see the same table.
    await vi.waitFor(async () => expect((await admin<{ team: { id: string } | null }>("GET", `/api/governance/virtual-keys/${keyId}/usage`)).team?.id).toBe(teamId), { timeout: 5000, interval: 200 });
    for (let i = 0; i < 2; i += 1) {
      const answer = await chat(`${provider}/${LLAMA}`, { authorization: `Bearer ${keyValue}` });
      expect(answer.status).toBe(200);
      spentNanos += (answer.body.usage?.prompt_tokens ?? 0) * NANOS_PER_TOKEN.prompt + (answer.body.usage?.completion_tokens ?? 0) * NANOS_PER_TOKEN.completion;
      requests += 1;
    }
    // The fake vLLM counts a quarter token per byte of the messages' JSON (59 bytes → 15) and one per word of its
    // answer ("You said: Hello from the dashboard test": 7).
    expect(spentNanos).toBe(2 * (15 * NANOS_PER_TOKEN.prompt + 7 * NANOS_PER_TOKEN.completion));
    // Charges settle as each request ends; wait until both levels hold them and nothing is reserved.
    for (const [kind, id] of [["teams", teamId], ["customers", customerId]] as const) {
      await vi.waitFor(async () => {
        const { usage } = await admin<{ usage: Usage }>("GET", `/api/governance/${kind}/${id}/usage`);
        expect([Math.round((usage.budgets[0]?.current_usage ?? 0) * 1e9), usage.budgets[0]?.reserved]).toEqual([spentNanos, 0]);
      }, { timeout: 5000, interval: 100 });
    }

    await page.click('nav button[data-view="teams"]');
    await page.waitForSelector("#create-group");
    const teamBudget = bar(`[data-group="${teamName}"]`, "Budget (1d)");
    expect(nanos(await teamBudget.getAttribute("data-used"))).toBe(spentNanos);
    expect(await teamBudget.locator(".usage-text > span").first().textContent()).toBe(`Budget (1d): ${dollars(spentNanos)} of $0.005`);
    expect(await teamBudget.locator(".usage-text > span").nth(1).textContent()).toMatch(/^resets in (23h( \d+m)?|1d)$/);
    expect(await bar(`[data-group="${teamName}"]`, "Requests (1h)").locator("span").first().textContent()).toBe(`Requests (1h): ${requests} of 10`);
    const customerBudget = bar(`[data-group="${customerName}"]`, "Budget (1d)");
    expect(nanos(await customerBudget.getAttribute("data-used"))).toBe(spentNanos);
    expect(await customerBudget.locator(".usage-text > span").first().textContent()).toBe(`Budget (1d): ${dollars(spentNanos)} of $0.05`);
    expect(await card(teamName).locator("p.muted").first().textContent()).toContain(`keys: ${keyName}`);
    await ui.snap("teams-usage");

    // The key's card shows the same next to its own (it has no budget of its own).
    await page.click('nav button[data-view="keys"]');
    const keyCard = `[data-key="${keyName}"]`;
    await page.waitForSelector(`${keyCard} .levels`);
    expect(await page.locator(`${keyCard} .level h3`).allTextContents()).toEqual(["This key", `Team ${teamName}`, `Customer ${customerName}`]);
    expect(await page.locator(`${keyCard} [data-level="key"]`).textContent()).toContain("No budget or limit.");
    expect(await bar(`${keyCard} [data-level="team"]`, "Budget (1d)").locator("span").first().textContent()).toBe(`Budget (1d): ${dollars(spentNanos)} of $0.005`);
    expect(await bar(`${keyCard} [data-level="team"]`, "Requests (1h)").getAttribute("data-used")).toBe(String(requests));
    expect(await bar(`${keyCard} [data-level="customer"]`, "Budget (1d)").locator("span").first().textContent()).toBe(`Budget (1d): ${dollars(spentNanos)} of $0.05`);
    await page.locator(keyCard).scrollIntoViewIfNeeded();
    await ui.snap("teams-key-usage");
  });

  it("shows what a running request has reserved, and the reservation settling into usage when it ends", async () => {
    // The fake vLLM streams "slow-stream" over about six seconds: long enough to look at the page while it runs.
    const running = await fetch(`${gatewayUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${keyValue}`, "content-type": "application/json" },
      body: JSON.stringify({ model: `${provider}/slow-stream`, max_tokens: 50, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Take your time" }] }),
    });
    expect(running.status).toBe(200);
    const { usage } = await admin<{ usage: Usage }>("GET", `/api/governance/teams/${teamId}/usage`);
    const reserved = usage.budgets[0]?.reserved ?? 0;
    // "Take your time": 14 bytes → 4 tokens, + 4 for the message + 3 for the reply header; and max_tokens 50.
    expect(Math.round(reserved * 1e9)).toBe(11 * NANOS_PER_TOKEN.prompt + 50 * NANOS_PER_TOKEN.completion);
    await page.click('nav button[data-view="teams"]');
    await page.waitForSelector("#create-group");
    const teamBudget = bar(`[data-group="${teamName}"]`, "Budget (1d)");
    expect(nanos(await teamBudget.getAttribute("data-reserved"))).toBe(Math.round(reserved * 1e9));
    expect(await teamBudget.locator(".usage-text > span").first().textContent()).toBe(`Budget (1d): ${dollars(spentNanos)} of $0.005 · ${dollars(Math.round(reserved * 1e9))} reserved`);
    expect(await teamBudget.locator(".bar > span.reserved").count()).toBe(1);
    await ui.snap("teams-reserved");

    const frames = (await running.text()).split("\n").filter((line) => line.startsWith("data: {")).map((line) => JSON.parse(line.slice(6)) as { usage?: { prompt_tokens: number; completion_tokens: number } });
    const streamed = frames.find((frame) => frame.usage)?.usage;
    spentNanos += (streamed?.prompt_tokens ?? Number.NaN) * NANOS_PER_TOKEN.prompt + (streamed?.completion_tokens ?? Number.NaN) * NANOS_PER_TOKEN.completion;
    requests += 1;
    await vi.waitFor(async () => {
      const { usage: settled } = await admin<{ usage: Usage }>("GET", `/api/governance/teams/${teamId}/usage`);
      expect([Math.round((settled.budgets[0]?.current_usage ?? 0) * 1e9), settled.budgets[0]?.reserved]).toEqual([spentNanos, 0]);
    }, { timeout: 5000, interval: 100 });
    await page.click('nav button[data-view="teams"]');
    await page.waitForSelector("#create-group");
    expect(await teamBudget.locator(".usage-text > span").first().textContent()).toBe(`Budget (1d): ${dollars(spentNanos)} of $0.005`);
    expect(await teamBudget.locator(".bar > span.reserved").count()).toBe(0);
    expect(await bar(`[data-group="${customerName}"]`, "Budget (1d)").locator(".usage-text > span").first().textContent()).toBe(`Budget (1d): ${dollars(spentNanos)} of $0.05`);
  });

  it("fits a narrow window, usage bars and all", async () => {
    await page.setViewportSize({ width: 760, height: 900 });
    await page.click('nav button[data-view="teams"]');
    await card(teamName).locator(".usage").first().waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(760);
    await ui.snap("teams-narrow");
    await page.setViewportSize({ width: 1366, height: 900 });
  });

  it("refuses to delete a team or a customer that has members, with the API's message on the card", async () => {
    await page.click('nav button[data-view="teams"]');
    await page.waitForSelector("#create-group");
    await card(teamName).getByRole("button", { name: "Delete" }).click();
    const teamAlert = card(teamName).locator('[role="alert"]');
    await teamAlert.waitFor();
    expect(await teamAlert.textContent()).toBe(`team '${teamName}' still has members (virtual key '${keyName}'): move or delete them first`);
    expectFailedFetchLogged(409, `/api/governance/teams/${teamId}`);
    await card(customerName).getByRole("button", { name: "Delete" }).click();
    const customerAlert = card(customerName).locator('[role="alert"]');
    await customerAlert.waitFor();
    expect(await customerAlert.textContent()).toContain(teamName);
    expectFailedFetchLogged(409, `/api/governance/customers/${customerId}`);
    await ui.snap("teams-conflict");
    expect(await found<Group>("teams", teamName)).toHaveLength(1);
  });

  it("edits the team without losing its usage, and deletes the groups once they are empty", async () => {
    const budgetId = (await found<Group>("teams", teamName))[0]?.budgets[0]?.id;
    await card(teamName).getByRole("button", { name: "Edit" }).click();
    await page.waitForSelector("#edit-group");
    await page.fill("#f-lease_share", "0.25");
    await page.fill("#f-requests", "");
    await submitGroupForm("#edit-group", `Saved team ${teamName}.`);
    const [team] = await found<Group>("teams", teamName);
    expect(team).toMatchObject({ lease_share: 0.25, rate_limit: null, customer_id: customerId, budgets: [{ id: budgetId, max_limit: 0.005, reset_duration: "1d" }] });
    // The same budget, so the same counter: the edit keeps what was spent.
    expect(nanos(await bar(`[data-group="${teamName}"]`, "Budget (1d)").getAttribute("data-used"))).toBe(spentNanos);
    expect(await card(teamName).locator(".usage").count()).toBe(1);
    expect(await card(teamName).locator("p.muted").first().textContent()).toContain("lease share: 0.25");

    await page.click('nav button[data-view="keys"]');
    await page.locator(`[data-key="${keyName}"]`).getByRole("button", { name: "Edit" }).click();
    await page.waitForSelector("#edit-key");
    await page.selectOption("#f-group", "");
    await saveKey("#edit-key");
    expect(await storedKey()).toMatchObject({ team_id: null, customer_id: null });

    await page.click('nav button[data-view="teams"]');
    await page.waitForSelector("#create-group");
    await card(teamName).getByRole("button", { name: "Delete" }).click();
    await card(teamName).waitFor({ state: "detached" });
    await card(customerName).getByRole("button", { name: "Delete" }).click();
    await card(customerName).waitFor({ state: "detached" });
    expect(await found<Group>("teams", teamName)).toEqual([]);
    expect(await found<Group>("customers", customerName)).toEqual([]);
  });

  it("keeps the console clean", () => {
    expect(ui.consoleProblems).toEqual([]);
  });
});
