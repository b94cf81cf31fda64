/** What the dashboard's browser tests share: admin API calls, a signed-in page that records console problems, screenshots. */
import { mkdir } from "node:fs/promises";
import type { Browser, Page } from "playwright-core";
import { expect, inject } from "vitest";
import { launchBrowser } from "./browser";
import { E2E_ADMIN_TOKEN } from "./global-setup";

export const gatewayUrl = inject("gatewayUrl");
export const fakeUrl = inject("e2eFakeVllmUrl");
export const LLAMA = "meta-llama/Llama-3.2-1B-Instruct";

/** An admin API call that must succeed; answers the parsed body. */
export async function admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${gatewayUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${E2E_ADMIN_TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as T;
}

/** Nano-dollars a prompt and a completion token cost on a provider addPricedProvider made. */
export const NANOS_PER_TOKEN = { prompt: 1000, completion: 2000 };

/** A custom provider with one key on the fake vLLM's origin `origin`, priced at $1 in and $2 out per 1M tokens. */
export async function addPricedProvider(provider: string, origin: string): Promise<void> {
  await admin("POST", "/api/providers", { provider, keys: [{ name: `${origin}-gpu`, value: "" }], network_config: { base_url: `${fakeUrl}/o/${origin}` }, custom_provider_config: { base_provider_type: "openai" } });
  await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider, match_type: "wildcard", pattern: "*", input_price_per_million: 1, output_price_per_million: 2 });
}

/** A chat request through the gateway; answers the status and the parsed body. */
export async function chat(model: string, headers: Record<string, string> = {}): Promise<{ status: number; body: { usage?: { prompt_tokens: number; completion_tokens: number } } }> {
  const response = await fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, max_tokens: 10, messages: [{ role: "user", content: "Hello from the dashboard test" }] }),
  });
  return { status: response.status, body: (await response.json()) as { usage?: { prompt_tokens: number; completion_tokens: number } } };
}

export interface Dashboard {
  browser: Browser;
  page: Page;
  /** Console errors and warnings, and uncaught page errors, since sign-in. */
  consoleProblems: string[];
  snap(name: string): Promise<void>;
}

/** Chromium on /ui (of the shared gateway unless `baseUrl` names another), signed in, on the given page; confirm() dialogs are accepted. */
export async function openDashboard(view: string, ready: string, baseUrl = gatewayUrl): Promise<Dashboard> {
  const browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  const consoleProblems: string[] = [];
  page.on("dialog", (dialog) => void dialog.accept());
  await page.goto(`${baseUrl}/ui`);
  await page.fill("#f-token", E2E_ADMIN_TOKEN);
  await page.press("#f-token", "Enter");
  await page.waitForSelector('nav button[aria-current="page"][data-view="overview"]');
  // From here on (the sign-in page's own probe is a 401 by design), nothing may go to the console.
  page.on("console", (message) => { if (message.type() === "error" || message.type() === "warning") consoleProblems.push(`${message.text()} (${message.location().url})`); });
  page.on("pageerror", (error) => consoleProblems.push(error.message));
  await page.click(`nav button[data-view="${view}"]`);
  await page.waitForSelector(ready);
  const snap = async (name: string) => {
    await mkdir("test-results", { recursive: true });
    await page.screenshot({ path: `test-results/${name}.png`, fullPage: true });
  };
  return { browser, page, consoleProblems, snap };
}

/** Dollars as the page writes them: the cost's nano-dollars, at least two decimals. */
export function dollars(nanos: number): string {
  const [whole, fraction = ""] = (nanos / 1e9).toFixed(9).replace(/0+$/, "").split(".");
  return `$${whole}.${fraction.padEnd(2, "0")}`;
}

/** Waits until the gateway's cached configuration (CONFIG_CACHE_SECONDS=1) has surely expired. */
export const configSettles = () => new Promise((resolve) => setTimeout(resolve, 1100));
