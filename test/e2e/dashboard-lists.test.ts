/**
 * The dashboard's long lists in real headless Chromium, on a gateway of their own (its own D1, so the hundreds of keys
 * and groups made here never push other tests' cards off a first page): 103 virtual keys, 101 customers and 101
 * teams. Each list says how many there are, shows a page of 100, pages on to the rest and searches by name; a team's
 * card counts its keys past the ten it names; and a team whose customer is past the form's first 100 keeps that
 * customer when it is edited and saved.
 */
import type { Page } from "playwright-core";
import { createTestHarness } from "wrangler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDashboard, type Dashboard } from "./dashboard-session";
import { E2E_ADMIN_TOKEN } from "./global-setup";

let server: ReturnType<typeof createTestHarness>;
let base = "";
let ui: Dashboard;
let page: Page;
let lastCustomerId = "";
let lastTeamId = "";

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${E2E_ADMIN_TOKEN}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as T;
}

const pad = (n: number) => String(n).padStart(3, "0");

/** Runs `make(i)` for i in [from, to), ten at a time. */
async function inBatches(from: number, to: number, make: (i: number) => Promise<unknown>): Promise<void> {
  for (let start = from; start < to; start += 10) await Promise.all(Array.from({ length: Math.min(10, to - start) }, (_, k) => make(start + k)));
}

beforeAll(async () => {
  server = createTestHarness({ workers: [{ configPath: "./wrangler.toml", vars: { DEFAULT_VLLM_URL: "", REQUIRE_VIRTUAL_KEY: "false" }, secrets: { ADMIN_TOKEN: E2E_ADMIN_TOKEN } }] });
  base = (await server.listen()).url.origin;
  await server.getWorker().applyD1Migrations("DB");
  await admin("POST", "/api/providers", { provider: "lists", keys: [{ name: "gpu", value: "" }], network_config: { base_url: "http://127.0.0.1:9" }, custom_provider_config: { base_provider_type: "openai" } });
  const group = (kind: "customers" | "teams", body: object) => admin<Record<string, { id: string }>>("POST", `/api/governance/${kind}`, body);
  await inBatches(0, 100, (i) => group("customers", { name: `cust-${pad(i)}` }));
  lastCustomerId = (await group("customers", { name: "cust-100" })).customer?.id ?? "";
  const firstTeam = (await group("teams", { name: "team-000" })).team?.id ?? "";
  await inBatches(1, 100, (i) => group("teams", { name: `team-${pad(i)}` }));
  lastTeamId = (await group("teams", { name: "team-100", customer_id: lastCustomerId })).team?.id ?? "";
  const key = (i: number) => admin("POST", "/api/governance/virtual-keys", { name: `key-${pad(i)}`, provider_configs: [{ provider: "lists" }], ...(i < 12 ? { team_id: firstTeam } : {}) });
  await inBatches(0, 100, key);
  // The last three, made after the rest, are the second page's.
  for (const i of [100, 101, 102]) await key(i);
  ui = await openDashboard("keys", "#keys-head", base);
  page = ui.page;
}, 180_000);

afterAll(async () => {
  await ui?.browser.close();
  await server?.close();
});

const cardNames = (selector: string) => page.locator(selector).evaluateAll((cards) => cards.map((card) => card.getAttribute("data-key") ?? card.getAttribute("data-group")));

describe("dashboard lists", () => {
  it("shows 100 of 103 keys, pages to the last three and back, and searches by name", async () => {
    expect(await page.locator("#keys-head").textContent()).toBe("Virtual keys (103)");
    expect(await page.locator("#keys-range").textContent()).toBe("1–100 of 103");
    expect(await page.locator("[data-key]").count()).toBe(100);
    expect(await page.getByRole("button", { name: "Previous" }).isDisabled()).toBe(true);
    await ui.snap("lists-keys-page-1");

    await page.getByRole("button", { name: "Next" }).click();
    await expect.poll(() => page.locator("#keys-range").textContent(), { timeout: 10_000 }).toBe("101–103 of 103");
    expect(await cardNames("[data-key]")).toEqual(["key-100", "key-101", "key-102"]);
    expect(await page.getByRole("button", { name: "Next" }).isDisabled()).toBe(true);
    // Paging redraws the list only: the create form keeps what was typed.
    expect(await page.locator("#create-key").count()).toBe(1);
    await ui.snap("lists-keys-page-2");
    await page.getByRole("button", { name: "Previous" }).click();
    await expect.poll(() => page.locator("#keys-range").textContent(), { timeout: 10_000 }).toBe("1–100 of 103");

    await page.fill("#keys-search", "key-05");
    await page.press("#keys-search", "Enter");
    await expect.poll(() => page.locator("#keys-head").textContent(), { timeout: 10_000 }).toBe("Virtual keys (10)");
    // Keys made in one batch share a creation time; the page orders them by id there.
    expect((await cardNames("[data-key]")).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `key-05${i}`));
    expect(await page.locator("#keys-range").count()).toBe(0);
    await page.fill("#keys-search", "no-such-key");
    await page.press("#keys-search", "Enter");
    await expect.poll(() => page.locator("#keys-head").textContent(), { timeout: 10_000 }).toBe("Virtual keys (0)");
    expect(await page.locator("#key-list p[role=status]").textContent()).toBe('No name contains "no-such-key".');
    await page.getByRole("button", { name: "Show all" }).click();
    await expect.poll(() => page.locator("#keys-head").textContent(), { timeout: 10_000 }).toBe("Virtual keys (103)");
  });

  it("counts 101 customers and 101 teams, names ten of a team's twelve keys, and pages each list on its own", async () => {
    await page.click('nav button[data-view="teams"]');
    await page.locator("#teams-head").waitFor();
    expect(await page.locator("#customers-head").textContent()).toBe("Customers (101)");
    expect(await page.locator("#teams-head").textContent()).toBe("Teams (101)");
    expect(await page.locator("#teams-range").textContent()).toBe("1–100 of 101");
    const facts = (await page.locator('[data-group="team-000"] p.muted').first().textContent()) ?? "";
    const named = /keys: (.*) and 2 more · /.exec(facts)?.[1]?.split(", ") ?? [];
    expect(named).toHaveLength(10);
    expect(named.filter((name) => /^key-0(0\d|1[01])$/.test(name))).toHaveLength(10);

    await page.locator("#teams-list").getByRole("button", { name: "Next" }).click();
    await expect.poll(() => page.locator("#teams-range").textContent(), { timeout: 10_000 }).toBe("101–101 of 101");
    expect(await cardNames("#teams-list [data-group]")).toEqual(["team-100"]);
    expect(await page.locator("#customers-range").textContent()).toBe("1–100 of 101");
    expect(await page.locator('[data-group="team-100"] p.muted').first().textContent()).toBe(`id ${lastTeamId} · customer: cust-100 · keys: none · lease share: gateway default`);
    await ui.snap("lists-teams-page-2");
  });

  it("keeps a team's customer from past the form's first 100 when the team is edited and saved", async () => {
    await page.locator('[data-group="team-100"]').getByRole("button", { name: "Edit" }).click();
    await page.locator("#edit-group").waitFor();
    expect(await page.locator("#f-customer").inputValue()).toBe(lastCustomerId);
    await page.fill("#f-description", "edited");
    await page.locator("#edit-group").getByRole("button", { name: "Save changes" }).click();
    await expect.poll(() => page.locator("#group-form-status").textContent(), { timeout: 10_000 }).toContain("Saved team team-100.");
    const stored = await admin<{ team: { customer_id: string | null; description: string } }>("GET", `/api/governance/teams/${lastTeamId}`);
    expect(stored.team).toMatchObject({ customer_id: lastCustomerId, description: "edited" });
    expect(ui.consoleProblems).toEqual([]);
  });

  it("finds a team past the key form's first 100 by name and puts a new key in it", async () => {
    await page.click('nav button[data-view="keys"]');
    await page.locator("#create-key").waitFor();
    // The select offers the first 100 of each kind; team-100 is the 101st team.
    expect(await page.locator(`#f-group option[value="team:${lastTeamId}"]`).count()).toBe(0);
    await page.fill("#f-group-find", "team-100");
    await page.press("#f-group-find", "Enter");
    await expect.poll(() => page.locator("#f-group-found").textContent(), { timeout: 10_000 }).toBe("1 found");
    // Found teams keep their customer's name, known from the form's first page of customers or not.
    expect(await page.locator("#f-group option").allTextContents()).toEqual(["none", "team-100 (cust-100)"]);
    await page.selectOption("#f-group", `team:${lastTeamId}`);
    await page.fill("#f-name", "found-team-key");
    await ui.snap("lists-key-group-found");
    await page.locator("#create-key").getByRole("button", { name: "Create" }).click();
    await expect.poll(() => page.locator("#key-form-status").textContent(), { timeout: 10_000 }).toContain("Key found-team-key created.");
    const listed = await admin<{ virtual_keys: { name: string; team_id: string | null }[] }>("GET", `/api/governance/virtual-keys?team_id=${lastTeamId}`);
    expect(listed.virtual_keys.map((key) => [key.name, key.team_id])).toEqual([["found-team-key", lastTeamId]]);
    // Clearing the search brings the first 100 of each kind back.
    await page.fill("#f-group-find", "");
    await page.press("#f-group-find", "Enter");
    await expect.poll(() => page.locator("#f-group option").count(), { timeout: 10_000 }).toBe(201);
    expect(ui.consoleProblems).toEqual([]);
  });
});
