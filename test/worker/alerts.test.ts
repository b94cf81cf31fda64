/**
 * Budget and limit alerts against a real webhook receiver (test/support/alert-receiver.ts): each threshold once per
 * window and one refusal alert however many refusals follow — under concurrent requests and across a restart of the
 * limiter — signed bodies, retries driven by the limiter's alarm, and Slack's body.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { effectiveAlerts, formatOf } from "../../src/alerts/config";
import { sendAlert } from "../../src/alerts/send";
import { buildApp } from "../../src/app";
import type { AlertEvent } from "../../src/alerts/event";
import { settingsOf } from "../../src/settings";
import { ADMIN, LLAMA, admin, configure, errorOf, eventually, origin, postJson, virtualKey } from "./helpers";

/** "hi" with max_tokens 3: estimated at 8 prompt tokens + 3, and the fake vLLM answers 8 + 3 — worst case = usage. */
const HI = { model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "hi" }], max_tokens: 3 };
/** At $1 in / $2 out per 1M tokens: 8 × 1,000 + 3 × 2,000 nano-dollars. */
const HI_NANOS = 14_000;
const SECRET = "whsec-test-0123456789abcdef";

/** A delivery as the receiver kept it (test/support/alert-receiver.ts). */
interface ReceivedAlert {
  path: string;
  headers: Record<string, string>;
  body: string;
  status: number;
}

const limiter = (name: string) => env.VK_LIMITER.get(env.VK_LIMITER.idFromName(name));
const box = (name: string, path = "") => `${env.ALERT_RECEIVER_URL}/r/${name}${path}`;
const chat = (key: string) => postJson("/v1/chat/completions", HI, { "x-bf-vk": key });

/** What the receiver got in `name`, once it holds `count` deliveries (at once with count 0). */
async function receivedIn(name: string, count: number): Promise<ReceivedAlert[]> {
  const response = await fetch(`${env.ALERT_RECEIVER_URL}/__received?box=${name}&count=${count}`);
  return (await response.json()) as ReceivedAlert[];
}

/** The limiter's queued deliveries: how many attempts each has had. */
function queued(name: string): Promise<number[]> {
  return runInDurableObject(limiter(name), async (_instance, state) => [...(await state.storage.list<{ attempts: number }>({ prefix: "a:q:" })).values()].map((entry) => entry.attempts));
}

/** Every delivery of `name` once the limiter has nothing left to send: no later one can arrive. */
async function settledDeliveries(limiterName: string, name: string, count: number): Promise<ReceivedAlert[]> {
  await receivedIn(name, count);
  expect(await eventually(() => queued(limiterName), (left) => left.length === 0)).toEqual([]);
  return receivedIn(name, 0);
}

async function hmacHex(secret: string, text: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return [...new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(text)))].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The body, after checking its signature the way a receiver would. */
async function verified(delivery: ReceivedAlert, secret: string): Promise<AlertEvent> {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(delivery.headers["x-gateway-signature"] ?? "");
  expect(match, delivery.headers["x-gateway-signature"]).not.toBeNull();
  const [, t, v1] = match as RegExpExecArray;
  expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(60);
  expect(v1).toBe(await hmacHex(secret, `${t}.${delivery.body}`));
  const event = JSON.parse(delivery.body) as AlertEvent;
  expect(delivery.headers["content-type"]).toBe("application/json");
  return event;
}

async function put(path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await admin("PUT", path, body);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
  const priced = await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider: "vllm", match_type: "exact", pattern: LLAMA, input_price_per_million: 1, output_price_per_million: 2 });
  expect(priced.status).toBe(200);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("threshold and refusal alerts", () => {
  it("fire once per crossing under 20 concurrent requests across two keys of one team, signed", async () => {
    await put("/api/governance/teams/alerting-team", {
      name: "Alerting team",
      rate_limit: { request_max_limit: 10, request_reset_duration: "1h" },
      alerts: { webhooks: [{ url: box("team-crossings"), secret: SECRET }], thresholds: [80, 50, 100] },
    });
    const keys = [await virtualKey("alerting-1", { provider_configs: [{ provider: "vllm" }], team_id: "alerting-team" }), await virtualKey("alerting-2", { provider_configs: [{ provider: "vllm" }], team_id: "alerting-team" })];
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => chat(keys[i % 2] as string)));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(10);

    const deliveries = await settledDeliveries("team:alerting-team", "team-crossings", 4);
    expect(deliveries).toHaveLength(4);
    const events = await Promise.all(deliveries.map((delivery) => verified(delivery, SECRET)));
    const crossings = events.filter((event) => event.type === "threshold_crossed").sort((a, b) => (a.threshold ?? 0) - (b.threshold ?? 0));
    expect(crossings.map((event) => [event.threshold, event.usage])).toEqual([
      [50, 5],
      [80, 8],
      [100, 10],
    ]);
    const refusals = events.filter((event) => event.type === "limit_refused");
    expect(refusals).toHaveLength(1);

    const usage = (await (await admin("GET", "/api/governance/teams/alerting-team/usage")).json()) as { usage: { rate_limits: { requests: { last_reset: string; resets_at: string } }[] } };
    const window = { started_at: usage.usage.rate_limits[0]?.requests.last_reset, resets_at: usage.usage.rate_limits[0]?.requests.resets_at };
    const refusal = refusals[0] as AlertEvent;
    expect(refusal).toEqual({
      id: refusal.id,
      type: "limit_refused",
      occurred_at: refusal.occurred_at,
      entity: { kind: "team", id: "alerting-team", name: "Alerting team" },
      limit: { kind: "requests", id: null, provider_config: null, duration: "1h", max: 10 },
      usage: 10,
      threshold: null,
      window,
      text: `team 'Alerting team' was refused a request by its 1h request limit: 10 of 10 requests (resets at ${window.resets_at})`,
    });
    expect(crossings[1]?.text).toBe(`team 'Alerting team' reached 80% of its 1h request limit: 8 of 10 requests (resets at ${window.resets_at})`);
    expect(new Set(events.map((event) => event.id)).size).toBe(4);
    // The keys have no webhooks of their own and the gateway sets no default: their limiters sent nothing.
    expect(await queued("alerting-1")).toEqual([]);
  });

  it("report a budget's crossings as its usage settles, in dollars", async () => {
    const key = await virtualKey("alerting-budget", {
      name: "Budgeted",
      provider_configs: [{ provider: "vllm" }],
      budget: { id: "daily", max_limit: (4 * HI_NANOS) / 1e9, reset_duration: "1d" },
      alerts: { webhooks: [{ url: box("budget") }], thresholds: [50, 100] },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await chat(key)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 402, 402]);
    const deliveries = await settledDeliveries("alerting-budget", "budget", 3);
    // No secret, no signature.
    expect(deliveries.map((delivery) => delivery.headers["x-gateway-signature"])).toEqual([undefined, undefined, undefined]);
    // Deliveries queued together are sent together, in any order.
    const events = deliveries.map((delivery) => JSON.parse(delivery.body) as AlertEvent).sort((a, b) => (a.threshold ?? 1000) - (b.threshold ?? 1000));
    expect(events.map((event) => [event.type, event.threshold, event.usage])).toEqual([
      ["threshold_crossed", 50, (2 * HI_NANOS) / 1e9],
      ["threshold_crossed", 100, (4 * HI_NANOS) / 1e9],
      ["limit_refused", null, (4 * HI_NANOS) / 1e9],
    ]);
    expect(events[0]?.limit).toEqual({ kind: "budget", id: "daily", provider_config: null, duration: "1d", max: (4 * HI_NANOS) / 1e9 });
    expect(events[0]?.entity).toEqual({ kind: "virtual_key", id: "alerting-budget", name: "Budgeted" });
    expect(events[1]?.text).toBe(`virtual key 'Budgeted' reached 100% of its 1d budget: $0.000056 of $0.000056 (resets at ${events[1]?.window.resets_at})`);
  });

  it("report a token window's crossing and its refusal, naming the provider config a limit belongs to", async () => {
    const key = await virtualKey("alerting-tokens", {
      name: "Tokens",
      provider_configs: [{ id: "local-vllm", provider: "vllm", rate_limit: { token_max_limit: 22, token_reset_duration: "1h" } }],
      alerts: { webhooks: [{ url: box("tokens") }], thresholds: [50] },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await chat(key)).status);
    expect(statuses).toEqual([200, 200, 429]);
    const events = (await settledDeliveries("alerting-tokens", "tokens", 2)).map((delivery) => JSON.parse(delivery.body) as AlertEvent).sort((a, b) => (a.threshold ?? 1000) - (b.threshold ?? 1000));
    expect(events.map((event) => [event.type, event.threshold, event.usage])).toEqual([
      ["threshold_crossed", 50, 11],
      ["limit_refused", null, 22],
    ]);
    expect(events[1]?.limit).toEqual({ kind: "tokens", id: null, provider_config: "local-vllm", duration: "1h", max: 22 });
    expect(events[1]?.text).toBe(`virtual key 'Tokens' was refused a request by its 1h token limit (provider config local-vllm): 22 of 22 tokens (resets at ${events[1]?.window.resets_at})`);
  });

  it("send one refusal alert however many refusals follow, also after the limiter restarts", async () => {
    const key = await virtualKey("alerting-flood", {
      provider_configs: [{ provider: "vllm" }],
      rate_limit: { request_max_limit: 2, request_reset_duration: "1h" },
      alerts: { webhooks: [{ url: box("flood") }], thresholds: [] },
    });
    expect((await chat(key)).status).toBe(200);
    expect((await chat(key)).status).toBe(200);
    const refused = await Promise.all(Array.from({ length: 10 }, () => chat(key)));
    expect(refused.map((answer) => answer.status)).toEqual(Array(10).fill(429));
    expect((await errorOf(refused[0] as Response)).code).toBe("request_limited");
    await settledDeliveries("alerting-flood", "flood", 1);
    await evictDurableObject(limiter("alerting-flood"));
    for (let i = 0; i < 3; i++) expect((await chat(key)).status).toBe(429);
    const deliveries = await settledDeliveries("alerting-flood", "flood", 1);
    expect(deliveries.map((delivery) => (JSON.parse(delivery.body) as AlertEvent).type)).toEqual(["limit_refused"]);
  });

  it("sign with an env.NAME secret, resolved where the alert is sent", async () => {
    const key = await virtualKey("alerting-env-secret", {
      provider_configs: [{ provider: "vllm" }],
      rate_limit: { request_max_limit: 1, request_reset_duration: "1h" },
      alerts: { webhooks: [{ url: box("env-secret"), secret: "env.ORIGIN_TOKEN" }], thresholds: [100] },
    });
    expect((await chat(key)).status).toBe(200);
    const [delivery] = await settledDeliveries("alerting-env-secret", "env-secret", 1);
    expect((await verified(delivery as ReceivedAlert, env.ORIGIN_TOKEN)).threshold).toBe(100);
  });
});

describe("delivery", () => {
  it("retries a receiver that fails twice, and the third try delivers the same alert", async () => {
    const key = await virtualKey("alerting-retry", {
      provider_configs: [{ provider: "vllm" }],
      rate_limit: { request_max_limit: 1, request_reset_duration: "1h" },
      alerts: { webhooks: [{ url: box("retry", "/fail/2"), secret: SECRET }], thresholds: [100] },
    });
    expect((await chat(key)).status).toBe(200);
    // The first try is the alarm's own, right after the admission; the retries are due 1s and 4s later, run here now.
    await receivedIn("retry", 1);
    expect(await eventually(() => queued("alerting-retry"), (attempts) => attempts[0] === 1)).toEqual([1]);
    expect(await runDurableObjectAlarm(limiter("alerting-retry"))).toBe(true);
    expect(await queued("alerting-retry")).toEqual([2]);
    expect(await runDurableObjectAlarm(limiter("alerting-retry"))).toBe(true);
    expect(await queued("alerting-retry")).toEqual([]);

    const deliveries = await receivedIn("retry", 3);
    expect(deliveries.map((delivery) => delivery.status)).toEqual([500, 500, 200]);
    const events = await Promise.all(deliveries.map((delivery) => verified(delivery, SECRET)));
    expect(new Set(deliveries.map((delivery) => delivery.body)).size).toBe(1);
    expect(events[2]?.threshold).toBe(100);
  });

  it("gives up after the fifth failed try with one log line", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const key = await virtualKey("alerting-give-up", {
      provider_configs: [{ provider: "vllm" }],
      rate_limit: { request_max_limit: 1, request_reset_duration: "1h" },
      alerts: { webhooks: [{ url: box("give-up", "/fail/99") }], thresholds: [100] },
    });
    expect((await chat(key)).status).toBe(200);
    await receivedIn("give-up", 1);
    await eventually(() => queued("alerting-give-up"), (attempts) => attempts[0] === 1);
    for (let attempt = 2; attempt <= 5; attempt++) expect(await runDurableObjectAlarm(limiter("alerting-give-up"))).toBe(true);
    expect(await queued("alerting-give-up")).toEqual([]);
    expect((await receivedIn("give-up", 5)).map((delivery) => delivery.status)).toEqual([500, 500, 500, 500, 500]);
    const lines = logged.mock.calls.map((call) => String(call[0])).filter((line) => line.includes("alert_webhook_gave_up"));
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>).map(({ alert_id: _id, ...rest }) => rest)).toEqual([
      { event: "alert_webhook_gave_up", host: new URL(env.ALERT_RECEIVER_URL).host, attempts: 5, reason: "the receiver answered 500" },
    ]);
  });

  it("sends Slack's body to a Slack webhook", async () => {
    const key = await virtualKey("alerting-slack", {
      name: "Slack key",
      provider_configs: [{ provider: "vllm" }],
      rate_limit: { request_max_limit: 1, request_reset_duration: "1h" },
      // A local receiver stands in for hooks.slack.com, so the format is named instead of detected.
      alerts: { webhooks: [{ url: box("slack"), format: "slack" }], thresholds: [100] },
    });
    expect((await chat(key)).status).toBe(200);
    const [delivery] = await settledDeliveries("alerting-slack", "slack", 1);
    const resetsAt = (await (await admin("GET", "/api/governance/virtual-keys/alerting-slack/usage")).json()) as { usage: { rate_limits: { requests: { resets_at: string } }[] } };
    expect(JSON.parse((delivery as ReceivedAlert).body)).toEqual({
      text: `virtual key 'Slack key' reached 100% of its 1h request limit: 1 of 1 requests (resets at ${resetsAt.usage.rate_limits[0]?.requests.resets_at})`,
    });
    expect(formatOf({ url: "https://hooks.slack.com/services/T000/B000/XXXX" })).toBe("slack");
    expect(formatOf({ url: "https://hooks.slack.com/services/T000/B000/XXXX", format: "json" })).toBe("json");
    expect(formatOf({ url: "https://alerts.example.com/hook" })).toBe("json");
  });
});

describe("configuration", () => {
  it("refuses unsafe webhooks and bad thresholds with a 400 naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ webhooks: [{ url: "http://alerts.example.com/hook" }] }, "alerts.webhooks[0].url"],
      [{ webhooks: [{ url: "https://alerts.example.com/hook", secret: "env.ADMIN_TOKEN" }] }, "alerts.webhooks[0].secret"],
      [{ thresholds: [0] }, "alerts.thresholds[0]"],
      [{ thresholds: [50, 150] }, "alerts.thresholds[1]"],
      [{ webhook: "https://alerts.example.com/hook" }, "webhook"],
    ];
    for (const [alerts, param] of cases) {
      const response = await admin("PUT", "/api/governance/teams/alerting-bad", { name: "alerting-bad", alerts });
      expect(response.status, JSON.stringify(alerts)).toBe(400);
      const error = await errorOf(response);
      // An unknown field is named in the message (it has no param of its own to point at).
      expect(`${error.param} ${error.message}`, JSON.stringify(alerts)).toContain(param);
    }
  });

  it("masks a literal secret in answers and keeps it when the masked form is sent back", async () => {
    const alerts = { webhooks: [{ url: "https://alerts.example.com/hook", secret: SECRET }, { url: "https://alerts.example.com/env", secret: "env.ALERTS_SECRET" }] };
    await virtualKey("alerting-masked", { provider_configs: [{ provider: "vllm" }], alerts });
    const shown = ((await (await admin("GET", "/api/governance/virtual-keys/alerting-masked")).json()) as { virtual_key: { alerts: { webhooks: { secret: string }[] } } }).virtual_key.alerts;
    expect(shown.webhooks.map((webhook) => webhook.secret)).toEqual(["whs********cdef", "env.ALERTS_SECRET"]);
    await put("/api/governance/virtual-keys/alerting-masked", { alerts: shown });
    const stored = await runInDurableObject(limiter("alerting-masked"), (_instance, state) => state.storage.kv.get<{ alerts: { webhooks: { secret: string }[] } }>("config"));
    expect(stored?.alerts.webhooks.map((webhook) => webhook.secret)).toEqual([SECRET, "env.ALERTS_SECRET"]);

    const team = (await put("/api/governance/customers/alerting-masked", { name: "alerting-masked", alerts })) as { customer: { alerts: { webhooks: { secret: string }[] } } };
    expect(team.customer.alerts.webhooks[0]?.secret).toBe("whs********cdef");
  });

  it("falls back to the gateway's webhook and thresholds where a key, team or customer sets none", () => {
    const defaults = { ALERT_WEBHOOK_URL: "https://alerts.example.com/all", ALERT_WEBHOOK_SECRET: "s", ALERT_THRESHOLDS: [50, 80, 100] };
    expect(effectiveAlerts(null, defaults)).toEqual({ webhooks: [{ url: "https://alerts.example.com/all", secret: "s" }], thresholds: [50, 80, 100] });
    expect(effectiveAlerts({ thresholds: [90] }, defaults)).toEqual({ webhooks: [{ url: "https://alerts.example.com/all", secret: "s" }], thresholds: [90] });
    expect(effectiveAlerts({ webhooks: [] }, defaults)).toEqual({ webhooks: [], thresholds: [50, 80, 100] });
    expect(settingsOf({ ...env, ALERT_THRESHOLDS: "80, 50,100,50" }).ALERT_THRESHOLDS).toEqual([50, 80, 100]);
    expect(settingsOf({ ...env }).ALERT_THRESHOLDS).toEqual([50, 80, 100]);
    expect(() => settingsOf({ ...env, ALERT_WEBHOOK_URL: "http://alerts.example.com/all" })).toThrow(/ALERT_WEBHOOK_URL must be an https URL/);
    expect(() => settingsOf({ ...env, ALERT_THRESHOLDS: "80%" })).toThrow(/ALERT_THRESHOLDS/);
  });
});

describe("alert secrets at rest", () => {
  const ENCRYPTION_KEY = "a-test-encryption-key-of-enough-length";
  const sealedEnv = { ...env, CONFIG_ENCRYPTION_KEY: ENCRYPTION_KEY };
  const sealedAdmin = (method: string, path: string, body: unknown) =>
    buildApp().fetch(new Request(`http://gateway.test${path}`, { method, headers: ADMIN, body: JSON.stringify(body) }), sealedEnv);

  it("are sealed with CONFIG_ENCRYPTION_KEY in D1 and in the limiter, and opened only to sign a delivery", async () => {
    const alerts = { webhooks: [{ url: box("sealed-secret"), secret: SECRET }] };
    const created = await sealedAdmin("PUT", "/api/governance/virtual-keys/sealed-alerts", { name: "sealed-alerts", provider_configs: [{ provider: "vllm" }], rate_limit: { request_max_limit: 5, request_reset_duration: "1h" }, alerts });
    expect(created.status, await created.clone().text()).toBe(200);
    const stored = await env.DB.prepare("SELECT config FROM virtual_keys WHERE id = 'sealed-alerts'").first<string>("config");
    expect(stored).not.toContain(SECRET);
    const sealed = (JSON.parse(stored ?? "{}") as { alerts: { webhooks: { secret: string }[] } }).alerts.webhooks[0]?.secret ?? "";
    expect(sealed.startsWith("enc:v1:")).toBe(true);
    const configured = await runInDurableObject(limiter("sealed-alerts"), async (_instance, state) => JSON.stringify(state.storage.kv.get("config")));
    expect(configured).toContain(sealed);
    expect(configured).not.toContain(SECRET);
    // The answer masks the sealed form; sending it back keeps the secret, and a team's secrets are sealed the same way.
    const shown = ((await created.json()) as { virtual_key: { alerts: { webhooks: { secret: string }[] } } }).virtual_key.alerts.webhooks[0]?.secret;
    expect(shown).not.toContain(SECRET);
    const resent = await sealedAdmin("PUT", "/api/governance/virtual-keys/sealed-alerts", { alerts: { webhooks: [{ url: box("sealed-secret"), secret: shown }] } });
    expect(resent.status).toBe(200);
    expect(await env.DB.prepare("SELECT config FROM virtual_keys WHERE id = 'sealed-alerts'").first<string>("config")).toContain(sealed);
    const team = await sealedAdmin("PUT", "/api/governance/teams/sealed-alerts-team", { name: "Sealed alerts team", alerts });
    expect(team.status).toBe(200);
    const teamRow = await env.DB.prepare("SELECT config FROM governance_groups WHERE id = 'sealed-alerts-team'").first<string>("config");
    expect([teamRow?.includes("enc:v1:"), teamRow?.includes(SECRET)]).toEqual([true, false]);

    // Signed with the secret itself when the gateway holds the key it was sealed with; never sent otherwise.
    const body = JSON.stringify({ type: "test" });
    expect(await sendAlert({ url: box("sealed-secret"), secret: sealed, body, alertId: "sealed-1" }, { CONFIG_ENCRYPTION_KEY: ENCRYPTION_KEY })).toBeNull();
    const [delivery] = await receivedIn("sealed-secret", 1);
    expect(delivery && (await verified(delivery, SECRET))).toEqual({ type: "test" });
    const refused = await sendAlert({ url: box("sealed-secret"), secret: sealed, body, alertId: "sealed-2" }, { CONFIG_ENCRYPTION_KEY: "another-encryption-key-of-enough-length" });
    expect(refused).toContain("cannot be used");
    expect(await sendAlert({ url: box("sealed-secret"), secret: sealed, body, alertId: "sealed-3" }, {})).toContain("cannot be used");
    expect(await receivedIn("sealed-secret", 0)).toHaveLength(1);
  });
});
