/**
 * The dashboard's Providers page in real headless Chromium: edit a key (origin URL, served name, models, weight) and
 * see the next real request reach the new origin; edit a provider's network settings; test the connection of a
 * live key (models, /health, vLLM's load) and of a dead one (the error, no crash); see a circuit opened by failed
 * requests and the probe's load report in the Health column. Screenshots go to test-results/.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refusedUrl } from "../support/fake-vllm";
import type { RecordedRequest } from "../support/recorded";
import { LLAMA, admin, chat, fakeUrl, openDashboard, type Dashboard } from "./dashboard-session";

const run = Date.now().toString(36);
const live = `prov${run}`;
const dead = `dead${run}`;
let ui: Dashboard;
let page: Page;

interface StoredProvider {
  network_config?: Record<string, unknown>;
  reasoning_field?: string;
  description?: string;
  keys: { id: string; name: string; weight: number; models?: string[]; description?: string; vllm_key_config?: { url?: string; model_name?: string } }[];
}

/** The origin (the fake vLLM's /o/<name>) that received a request. */
async function originOf(requestId: string): Promise<string | undefined> {
  const recorded = (await (await fetch(`${fakeUrl}/__log?request_id=${requestId}`)).json()) as RecordedRequest[];
  return recorded[0]?.origin;
}

const card = (provider: string) => page.locator(`[data-provider="${provider}"]`);
const keyRow = (provider: string, key: string) => card(provider).locator(`tr[data-key-id="${key}"]`);

async function reopenProviders(): Promise<void> {
  await page.click('nav button[data-view="overview"]');
  await page.click('nav button[data-view="providers"]');
  await card(live).waitFor();
}

beforeAll(async () => {
  await admin("POST", "/api/providers", {
    provider: live,
    keys: [{ id: "gpu-a", name: "gpu-a", value: "", vllm_key_config: { url: `${fakeUrl}/o/prov-a` } }],
    network_config: { base_url: `${fakeUrl}/o/prov-a` },
    custom_provider_config: { base_provider_type: "openai" },
  });
  // One origin nobody listens on, no retries: each request to it is one failure of its circuit.
  await admin("POST", "/api/providers", {
    provider: dead,
    keys: [{ id: "gpu-dead", name: "gpu-dead", value: "", vllm_key_config: { url: await refusedUrl() } }],
    network_config: { base_url: `${fakeUrl}/o/unused`, max_retries: 0 },
    custom_provider_config: { base_provider_type: "openai" },
  });
  ui = await openDashboard("providers", `[data-provider="${live}"]`);
  page = ui.page;
});

afterAll(async () => {
  await ui?.browser.close();
});

describe("dashboard providers page", () => {
  it("edits a key's origin, served name, models and weight; the next request goes to the new origin", async () => {
    const id = `prov-before-${run}`;
    expect((await chat(`${live}/${LLAMA}`, { "x-request-id": id })).status).toBe(200);
    expect(await originOf(id)).toBe("prov-a");

    await keyRow(live, "gpu-a").getByRole("button", { name: "Edit" }).click();
    const form = card(live).locator('form[aria-label="Edit key gpu-a"]');
    await form.locator('input[name="url"]').fill(`${fakeUrl}/o/prov-b`);
    await form.locator('input[name="model_name"]').fill(LLAMA);
    await form.locator('input[name="models"]').fill("llama-small");
    await form.locator('input[name="weight"]').fill("2.5");
    await form.locator('input[name="description"]').fill("second GPU box");
    await ui.snap("providers-key-edit");
    await form.locator('button[type="submit"]').click();
    await expect.poll(() => keyRow(live, "gpu-a").locator("td").nth(1).textContent(), { timeout: 5000 }).toBe(`${fakeUrl}/o/prov-b`);
    expect(await keyRow(live, "gpu-a").locator("td").nth(4).textContent()).toBe("2.5");

    const stored = await admin<StoredProvider>("GET", `/api/providers/${live}`);
    expect(stored.keys[0]).toMatchObject({ name: "gpu-a", weight: 2.5, models: ["llama-small"], description: "second GPU box", vllm_key_config: { url: `${fakeUrl}/o/prov-b`, model_name: LLAMA } });
    // The client's name "llama-small" is served as LLAMA by the new origin, once the cached configuration expires.
    let attempt = 0;
    await expect.poll(async () => {
      const after = `prov-after-${run}-${(attempt += 1)}`;
      const { status } = await chat(`${live}/llama-small`, { "x-request-id": after });
      return status === 200 ? originOf(after) : status;
    }, { timeout: 5000, interval: 200 }).toBe("prov-b");
  });

  it("edits a provider's network settings", async () => {
    await card(live).getByRole("button", { name: "Edit settings" }).click();
    const form = card(live).locator(`form[aria-label="Edit provider ${live}"]`);
    await form.locator('input[name="default_request_timeout_in_seconds"]').fill("45");
    await form.locator('input[name="first_byte_timeout_in_seconds"]').fill("20");
    await form.locator('input[name="max_retries"]').fill("1");
    await form.locator('input[name="retry_backoff_initial"]').fill("250ms");
    await form.locator('select[name="session_affinity"]').selectOption("none");
    await form.locator('select[name="reasoning_field"]').selectOption("reasoning_content");
    await form.locator('input[name="description"]').fill("Lab GPUs");
    await ui.snap("providers-settings-edit");
    await form.locator('button[type="submit"]').click();
    await expect.poll(() => card(live).locator(".provider-status").textContent(), { timeout: 5000 }).toContain(`Saved provider ${live}.`);
    expect(await card(live).locator("p.settings").textContent()).toBe(`base URL ${fakeUrl}/o/prov-a · timeout 45 s · first byte 20 s · 1 retry · affinity none · reasoning as reasoning_content`);
    const stored = await admin<StoredProvider>("GET", `/api/providers/${live}`);
    expect(stored.network_config).toEqual({ base_url: `${fakeUrl}/o/prov-a`, default_request_timeout_in_seconds: 45, first_byte_timeout_in_seconds: 20, max_retries: 1, retry_backoff_initial: "250ms", session_affinity: "none" });
    expect(stored).toMatchObject({ reasoning_field: "reasoning_content", description: "Lab GPUs" });
    expect(stored.keys[0]?.vllm_key_config?.url).toBe(`${fakeUrl}/o/prov-b`);

    // A value the API refuses is reported next to the form, and nothing changes.
    await card(live).getByRole("button", { name: "Edit settings" }).click();
    await form.locator('input[name="retry_backoff_initial"]').fill("soon");
    await form.locator('button[type="submit"]').click();
    await expect.poll(() => form.locator('[role="alert"]').textContent(), { timeout: 5000 }).toContain("retry_backoff_initial");
    // The browser reports the refused PUT itself; that one line is expected.
    const refused = ui.consoleProblems.findIndex((line) => line.includes("status of 400") && line.includes(`/api/providers/${live}`));
    expect(refused).toBeGreaterThanOrEqual(0);
    ui.consoleProblems.splice(refused, 1);
    expect((await admin<StoredProvider>("GET", `/api/providers/${live}`)).network_config?.retry_backoff_initial).toBe("250ms");
  });

  it("tests the connection of a live key and of a dead one", async () => {
    await reopenProviders();
    await keyRow(live, "gpu-a").getByRole("button", { name: "Test connection" }).click();
    const ok = keyRow(live, "gpu-a").locator('[data-test="ok"]');
    await ok.waitFor();
    expect(await ok.textContent()).toMatch(new RegExp(`^Connected in \\d+ ms · 2 models: ${live}/${LLAMA}, ${live}/llama-small · /health up · queue 0 · KV cache 42%$`));

    await keyRow(dead, "gpu-dead").getByRole("button", { name: "Test connection" }).click();
    const failed = keyRow(dead, "gpu-dead").locator('[data-test="failed"]');
    await failed.waitFor();
    // Local workerd answers a refused connection with its own HTTP 500; deployed, the fetch fails (502): both are failures.
    expect(await failed.textContent()).toMatch(/^Failed after \d+ ms \((502 upstream_unreachable|500 upstream_error)\): origin .+ · \/health down$/);
    await ui.snap("providers-test-connection");
  });

  it("shows a circuit opened by failed requests, and the probe's load report", async () => {
    for (let i = 0; i < 3; i += 1) {
      const { status, body } = await chat(`${dead}/${LLAMA}`);
      expect([500, 502], JSON.stringify(body)).toContain(status);
    }
    // The probe's report as the cron would leave it (this harness runs no cron): put into the health answer.
    const checkedAt = new Date().toISOString();
    await page.route(`**/api/providers/${live}/health`, async (route) => {
      const answer = (await (await route.fetch()).json()) as { keys: { probe: unknown }[] };
      for (const key of answer.keys) key.probe = { healthy: true, checked_at: checkedAt, waiting: 7, kv_cache_usage: 0.42 };
      await route.fulfill({ json: answer });
    });
    await reopenProviders();
    const deadHealth = keyRow(dead, "gpu-dead").locator("td.health");
    // Open for the cool-down, then half-open until a request succeeds: tripped either way.
    expect(["open", "half_open"]).toContain(await deadHealth.getAttribute("data-health"));
    expect(await deadHealth.textContent()).toContain("(3 failures in a row)");
    expect(await deadHealth.textContent()).toContain("no success seen here yet");
    expect(await deadHealth.locator('[data-probe="none"]').textContent()).toBe("Probe off (HEALTH_PROBE)");

    const liveHealth = keyRow(live, "gpu-a").locator("td.health");
    expect(await liveHealth.getAttribute("data-health")).toBe("closed");
    expect(await liveHealth.locator("[data-circuit]").textContent()).toBe("Circuit closed");
    expect(await liveHealth.textContent()).toContain("last success ");
    expect(await liveHealth.locator('[data-probe="up"]').textContent()).toMatch(/^Probe .+: up · queue 7 · KV cache 42%$/);
    await card(dead).scrollIntoViewIfNeeded();
    await ui.snap("providers-health");
    await page.unroute(`**/api/providers/${live}/health`);
  });

  it("keeps the console clean", () => {
    expect(ui.consoleProblems).toEqual([]);
  });
});
