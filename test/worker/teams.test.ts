/**
 * Teams and customers: Bifrost's admin API for them, their links to virtual keys, and their budgets and rate limits
 * enforced exactly at every level — across several keys, under concurrent requests.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { LLAMA, admin, configure, errorOf, origin, postJson, quota } from "./helpers";

/** "hi" with max_tokens 3: estimated at 8 prompt tokens + 3, and the fake vLLM answers 8 + 3 — worst case = usage. */
const HI = { model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "hi" }], max_tokens: 3 };
/** At $1 in / $2 out per 1M tokens: 8 × 1,000 + 3 × 2,000 nano-dollars. */
const HI_NANOS = 14_000;

async function put(path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await admin("PUT", path, body);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

async function keyIn(id: string, link: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string> {
  await admin("DELETE", `/api/governance/virtual-keys/${id}`);
  const answer = (await put(`/api/governance/virtual-keys/${id}`, { provider_configs: [{ provider: "vllm" }], ...link, ...extra })) as { virtual_key: { value: string } };
  return answer.virtual_key.value;
}

interface Usage {
  budgets: { current_usage: number; reserved: number }[];
  rate_limits: { requests: { current_usage: number } | null }[];
}

async function groupUsage(kind: "teams" | "customers", id: string): Promise<Usage> {
  const response = await admin("GET", `/api/governance/${kind}/${id}/usage`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { usage: Usage }).usage;
}

const nanosOf = (dollars: number | undefined) => Math.round((dollars ?? Number.NaN) * 1e9);

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
  const priced = await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider: "vllm", match_type: "exact", pattern: LLAMA, input_price_per_million: 1, output_price_per_million: 2 });
  expect(priced.status).toBe(200);
});

describe("the teams and customers API", () => {
  it("creates, lists, reads, updates and deletes them as Bifrost shapes them", async () => {
    const created = await admin("POST", "/api/governance/customers", { name: "Acme", budget: { max_limit: 100, reset_duration: "1M" } });
    expect(created.status, await created.clone().text()).toBe(200);
    const { message, customer } = (await created.json()) as { message: string; customer: { id: string; name: string; budgets: { max_limit: number }[] } };
    expect(message).toBe("Customer created successfully");
    expect(customer.budgets.map((b) => b.max_limit)).toEqual([100]);
    const team = (await (await admin("POST", "/api/governance/teams", { name: "Research", customer_id: customer.id, rate_limit: { request_max_limit: 10, request_reset_duration: "1m" } })).json()) as {
      team: { id: string; customer_id: string; rate_limit: { request_max_limit: number } };
    };
    expect(team.team.customer_id).toBe(customer.id);
    const listed = (await (await admin("GET", `/api/governance/teams?customer_id=${customer.id}`)).json()) as { teams: { name: string }[]; total_count: number };
    expect(listed.teams.map((t) => t.name)).toEqual(["Research"]);
    expect(listed.total_count).toBe(1);
    // An empty filter, as the README's route template and HTML forms send it, is no filter.
    const unfiltered = (await (await admin("GET", "/api/governance/teams?limit=25&offset=0&search=&customer_id=")).json()) as { total_count: number; teams: { name: string }[] };
    expect(unfiltered.teams.map((t) => t.name)).toContain("Research");
    const updated = await put(`/api/governance/teams/${team.team.id}`, { budgets: [{ max_limit: 5, reset_duration: "1d" }] });
    expect(updated.message).toBe("Team updated successfully");
    expect((updated.team as { rate_limit: { request_max_limit: number } }).rate_limit.request_max_limit).toBe(10);
    const read = (await (await admin("GET", `/api/governance/teams/${team.team.id}`)).json()) as { team: { budgets: { max_limit: number }[] } };
    expect(read.team.budgets.map((b) => b.max_limit)).toEqual([5]);

    // A customer with a team, or a team with a key, is not deleted from under them.
    await keyIn("api-member", { team_id: team.team.id });
    await keyIn("api-direct", { customer_id: customer.id });
    // The key list filters by team or by customer (a customer's own keys, not its teams'): the dashboard's members.
    const keysOf = async (query: string) => {
      const answer = await admin("GET", `/api/governance/virtual-keys?${query}`);
      expect(answer.status, await answer.clone().text()).toBe(200);
      const page = (await answer.json()) as { virtual_keys: { name: string }[]; total_count: number };
      return [page.virtual_keys.map((k) => k.name), page.total_count];
    };
    expect(await keysOf(`team_id=${team.team.id}`)).toEqual([["api-member"], 1]);
    expect(await keysOf(`customer_id=${customer.id}`)).toEqual([["api-direct"], 1]);
    expect(await keysOf(`customer_id=${customer.id}&team_id=${team.team.id}`)).toEqual([[], 0]);
    expect(await keysOf(`team_id=${team.team.id}&search=direct`)).toEqual([[], 0]);
    expect((await admin("GET", `/api/governance/virtual-keys?team_id=${"x".repeat(129)}`)).status).toBe(400);
    await admin("DELETE", "/api/governance/virtual-keys/api-direct");
    const busy = await admin("DELETE", `/api/governance/teams/${team.team.id}`);
    expect(busy.status).toBe(409);
    expect((await errorOf(busy)).message).toContain("virtual key 'api-member'");
    expect((await admin("DELETE", `/api/governance/customers/${customer.id}`)).status).toBe(409);
    await admin("DELETE", "/api/governance/virtual-keys/api-member");
    expect((await admin("DELETE", `/api/governance/teams/${team.team.id}`)).status).toBe(200);
    expect((await admin("DELETE", `/api/governance/customers/${customer.id}`)).status).toBe(200);
    expect((await admin("GET", `/api/governance/teams/${team.team.id}`)).status).toBe(404);
  });

  it("lists each group's member count and first ten names in one answer with members=true", async () => {
    await put("/api/governance/customers/summary-c1", { name: "Summary customer one" });
    await put("/api/governance/customers/summary-c2", { name: "Summary customer two" });
    await put("/api/governance/teams/summary-ta", { name: "Summary team a", customer_id: "summary-c1" });
    await put("/api/governance/teams/summary-tb", { name: "Summary team b", customer_id: "summary-c1" });
    const direct = Array.from({ length: 12 }, (_, i) => `summary-k${String(i).padStart(2, "0")}`);
    for (const id of direct) await keyIn(id, { customer_id: "summary-c1" }, { name: id });
    await keyIn("summary-team-key", { team_id: "summary-ta" }, { name: "summary-team-key" });
    type Sample = { count: number; names: string[] };
    type Listed = { id: string; members?: { virtual_keys: Sample; teams?: Sample } };
    const customers = (await (await admin("GET", "/api/governance/customers?members=true&search=Summary customer")).json()) as { customers: Listed[] };
    expect(customers.customers.map((c) => [c.id, c.members])).toEqual([
      ["summary-c1", { virtual_keys: { count: 12, names: direct.slice(0, 10) }, teams: { count: 2, names: ["Summary team a", "Summary team b"] } }],
      ["summary-c2", { virtual_keys: { count: 0, names: [] }, teams: { count: 0, names: [] } }],
    ]);
    const teams = (await (await admin("GET", "/api/governance/teams?members=true&customer_id=summary-c1")).json()) as { teams: Listed[] };
    expect(teams.teams.map((t) => [t.id, t.members])).toEqual([
      ["summary-ta", { virtual_keys: { count: 1, names: ["summary-team-key"] } }],
      ["summary-tb", { virtual_keys: { count: 0, names: [] } }],
    ]);
    const plain = (await (await admin("GET", "/api/governance/teams?customer_id=summary-c1")).json()) as { teams: Listed[] };
    expect(plain.teams.map((t) => t.members)).toEqual([undefined, undefined]);
    expect((await admin("GET", "/api/governance/teams?members=yes")).status).toBe(400);
    for (const id of [...direct, "summary-team-key"]) await admin("DELETE", `/api/governance/virtual-keys/${id}`);
    for (const path of ["teams/summary-ta", "teams/summary-tb", "customers/summary-c1", "customers/summary-c2"]) expect((await admin("DELETE", `/api/governance/${path}`)).status).toBe(200);
  });

  it("refuses bad bodies and dangling links with a 400 that names the field", async () => {
    const cases: [string, string, Record<string, unknown>, string][] = [
      ["POST", "/api/governance/teams", { name: "t", customer_id: "no-such-customer" }, "customer_id"],
      ["POST", "/api/governance/teams", { name: "t", members: [] }, "members"],
      ["POST", "/api/governance/customers", { name: "c", budget: { max_limit: -1, reset_duration: "1d" } }, "budget.max_limit"],
      // Past a quadrillion dollars, a limit is no longer a finite number of nano-dollars.
      ["POST", "/api/governance/customers", { name: "c", budget: { max_limit: 1e308, reset_duration: "1d" } }, "budget.max_limit"],
      ["POST", "/api/governance/teams", { name: "t", budget: { max_limit: 1.1e15, reset_duration: "1d" } }, "budget.max_limit"],
      ["POST", "/api/governance/customers", { budget: { max_limit: 1, reset_duration: "1d" } }, "name"],
      ["PUT", "/api/governance/virtual-keys/dangling", { team_id: "no-such-team" }, "team_id"],
      ["POST", "/api/governance/teams", { name: "t", lease_share: 0.9 }, "lease_share"],
    ];
    for (const [method, path, body, param] of cases) {
      const response = await admin(method, path, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const error = await errorOf(response);
      // An unknown field is named in the message (it has no param of its own to point at).
      expect(error.param ?? error.message, JSON.stringify(body)).toContain(param);
    }
    await put("/api/governance/teams/both-team", { name: "both-team" });
    await put("/api/governance/customers/both-customer", { name: "both-customer" });
    const both = await admin("PUT", "/api/governance/virtual-keys/both", { team_id: "both-team", customer_id: "both-customer" });
    expect(both.status).toBe(400);
    expect((await errorOf(both)).param).toBe("team_id");
  });

  it("takes Bifrost's singular budget on updates: a partial one changes the budget there is, {} removes it", async () => {
    type Group = { team: { budgets: { id: string; max_limit: number; reset_duration: string; calendar_aligned: boolean }[] } };
    const created = (await put("/api/governance/teams/legacy-budget", { name: "legacy-budget", budget: { max_limit: 50, reset_duration: "1M", calendar_aligned: true } })) as unknown as Group;
    const [first] = created.team.budgets;
    const raised = (await put("/api/governance/teams/legacy-budget", { budget: { max_limit: 75 } })) as unknown as Group;
    expect(raised.team.budgets).toEqual([{ id: first?.id, max_limit: 75, reset_duration: "1M", calendar_aligned: true }]);
    const removed = (await put("/api/governance/teams/legacy-budget", { budget: {} })) as unknown as Group;
    expect(removed.team.budgets).toEqual([]);
    // With no budget to change, a partial one is not a budget.
    const partial = await admin("PUT", "/api/governance/teams/legacy-budget", { budget: { max_limit: 75 } });
    expect(partial.status).toBe(400);
    expect(await errorOf(partial)).toMatchObject({ param: "budget", message: "team: budget needs max_limit and reset_duration" });
    // The same on a virtual key.
    await put("/api/governance/virtual-keys/legacy-budget-key", { name: "legacy-budget-key", budget: { max_limit: 10, reset_duration: "1d" } });
    const key = (await put("/api/governance/virtual-keys/legacy-budget-key", { budget: { max_limit: 20 } })) as { virtual_key: { budgets: { max_limit: number; reset_duration: string }[] } };
    expect(key.virtual_key.budgets.map(({ max_limit, reset_duration }) => ({ max_limit, reset_duration }))).toEqual([{ max_limit: 20, reset_duration: "1d" }]);
  });
});

describe("limits shared by a team and a customer", () => {
  it("admit exactly what the customer's budget holds, across keys of two teams, under 20 concurrent requests", async () => {
    await put("/api/governance/customers/exact-customer", { name: "exact-customer", budget: { max_limit: (5 * HI_NANOS) / 1e9, reset_duration: "1d" } });
    await put("/api/governance/teams/exact-a", { name: "exact-a", customer_id: "exact-customer", budgets: [{ max_limit: 1, reset_duration: "1d" }] });
    await put("/api/governance/teams/exact-b", { name: "exact-b", customer_id: "exact-customer", rate_limit: { request_max_limit: 100, request_reset_duration: "1h" } });
    const keys = [await keyIn("exact-a1", { team_id: "exact-a" }), await keyIn("exact-a2", { team_id: "exact-a" }), await keyIn("exact-b1", { team_id: "exact-b" }), await keyIn("exact-direct", { customer_id: "exact-customer" })];
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => postJson("/v1/chat/completions", HI, { "x-bf-vk": keys[i % keys.length] as string })));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(5);
    expect(statuses.filter((status) => status === 402)).toHaveLength(15);
    const refusal = await errorOf(answers[statuses.indexOf(402)] as Response);
    expect(refusal.code).toBe("budget_exceeded");
    expect(refusal.message).toContain("customer 'exact-customer' budget");

    const customer = await groupUsage("customers", "exact-customer");
    expect(nanosOf(customer.budgets[0]?.current_usage)).toBe(5 * HI_NANOS);
    expect(nanosOf(customer.budgets[0]?.reserved)).toBe(0);
    // Each team is charged for its own keys' requests, and each key for its own: the levels add up.
    const teamA = nanosOf((await groupUsage("teams", "exact-a")).budgets[0]?.current_usage);
    const teamBRequests = (await groupUsage("teams", "exact-b")).rate_limits[0]?.requests?.current_usage ?? Number.NaN;
    const perKey = await Promise.all(keys.map(async (key) => (await quota(key)).concurrency.in_flight));
    expect(perKey).toEqual([0, 0, 0, 0]);
    const admittedByKey = keys.map((key) => answers.filter((answer, i) => answer.status === 200 && keys[i % keys.length] === key).length);
    expect(teamA).toBe(((admittedByKey[0] ?? 0) + (admittedByKey[1] ?? 0)) * HI_NANOS);
    // A request the customer refused is not counted in the team's request window: every level admits, or none.
    expect(teamBRequests).toBe(admittedByKey[2]);
  });

  it("refuse at the team's request window with the team named, and the key's own reservation goes back", async () => {
    await put("/api/governance/teams/windowed", { name: "windowed", rate_limit: { request_max_limit: 3, request_reset_duration: "1h" } });
    const one = await keyIn("windowed-1", { team_id: "windowed" }, { max_concurrent_requests: 10 });
    const two = await keyIn("windowed-2", { team_id: "windowed" });
    const statuses: number[] = [];
    for (const key of [one, two, one, two, one]) statuses.push((await postJson("/v1/chat/completions", HI, { "x-bf-vk": key })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const refused = await postJson("/v1/chat/completions", HI, { "x-bf-vk": one });
    expect(refused.headers.get("retry-after")).not.toBeNull();
    expect((await errorOf(refused)).message).toContain("request limit exceeded for team 'windowed': 3/3");
    expect((await quota(one)).concurrency.in_flight).toBe(0);
    const shown = (await quota(one)) as unknown as { team: { name: string; usage: Usage } };
    expect(shown.team.name).toBe("windowed");
    expect(shown.team.usage.rate_limits[0]?.requests?.current_usage).toBe(3);
  });
});

describe("a team's or customer's dollar budget", () => {
  it("refuses unpriced models as a key's own budget does, and the key's answer warns of them", async () => {
    await put("/api/governance/customers/priced-co", { name: "priced-co", budget: { max_limit: 10, reset_duration: "1d" } });
    await put("/api/governance/teams/priced-team", { name: "priced-team", customer_id: "priced-co" });
    await admin("DELETE", "/api/governance/virtual-keys/priced-member");
    const created = (await put("/api/governance/virtual-keys/priced-member", { provider_configs: [{ provider: "vllm" }], team_id: "priced-team" })) as { virtual_key: { value: string }; warnings: string[] };
    expect(created.warnings.some((warning) => warning.includes("serves any model name"))).toBe(true);
    const refused = await postJson("/v1/chat/completions", { ...HI, model: "vllm/unpriced-model" }, { "x-bf-vk": created.virtual_key.value });
    expect(refused.status).toBe(403);
    expect((await errorOf(refused)).code).toBe("model_unpriced");
    expect((await postJson("/v1/chat/completions", HI, { "x-bf-vk": created.virtual_key.value })).status).toBe(200);
  });
});

describe("a level whose limiter is gone", () => {
  it("does not refuse the key's requests (a group deleted moments ago, before this isolate's table caught up)", async () => {
    await put("/api/governance/teams/vanishing", { name: "vanishing", rate_limit: { request_max_limit: 100, request_reset_duration: "1h" } });
    const key = await keyIn("vanishing-member", { team_id: "vanishing" });
    await env.VK_LIMITER.get(env.VK_LIMITER.idFromName("team:vanishing")).configure(null);
    const answer = await postJson("/v1/chat/completions", HI, { "x-bf-vk": key });
    expect(answer.status).toBe(200);
  });
});

describe("config.json import", () => {
  it("brings governance.teams and governance.customers in, with their linked budgets and rate limits, and keys join them", async () => {
    const value = `sk-bf-${crypto.randomUUID()}`;
    const response = await admin("POST", "/api/config/import", {
      governance: {
        customers: [{ id: "imported-co", name: "Imported Co", budget_id: "b-co" }],
        teams: [{ id: "imported-team", name: "Imported Team", customer_id: "imported-co", rate_limit_id: "rl-team" }],
        budgets: [
          { id: "b-co", max_limit: 10, reset_duration: "1M" },
          { id: "b-team", max_limit: 2, reset_duration: "1d", team_id: "imported-team" },
        ],
        rate_limits: [{ id: "rl-team", request_max_limit: 2, request_reset_duration: "1h" }],
        virtual_keys: [{ id: "imported-member", name: "imported-member", value, team_id: "imported-team", provider_configs: [{ provider: "vllm" }] }],
      },
    });
    expect(response.status, await response.clone().text()).toBe(200);
    const answer = (await response.json()) as { teams: string[]; customers: string[]; warnings: string[] };
    expect(answer.teams).toEqual(["Imported Team"]);
    expect(answer.customers).toEqual(["Imported Co"]);
    expect(answer.warnings.filter((warning) => /team|customer/.test(warning))).toEqual([]);
    const team = ((await (await admin("GET", "/api/governance/teams/imported-team")).json()) as { team: { customer_id: string; budgets: { max_limit: number }[]; rate_limit: { request_max_limit: number } } }).team;
    expect(team.customer_id).toBe("imported-co");
    expect(team.budgets.map((b) => b.max_limit)).toEqual([2]);
    expect(team.rate_limit.request_max_limit).toBe(2);
    const customer = ((await (await admin("GET", "/api/governance/customers/imported-co")).json()) as { customer: { budgets: { max_limit: number }[] } }).customer;
    expect(customer.budgets.map((b) => b.max_limit)).toEqual([10]);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await postJson("/v1/chat/completions", HI, { "x-bf-vk": value })).status);
    expect(statuses).toEqual([200, 200, 429]);
  });

  it("refuses a file whose key names a team neither the file nor the gateway has, writing nothing", async () => {
    const response = await admin("POST", "/api/config/import", {
      governance: { virtual_keys: [{ id: "orphan", name: "orphan", team_id: "missing-team", provider_configs: [{ provider: "vllm" }] }] },
    });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toContain("team 'missing-team'");
    expect((await admin("GET", "/api/governance/virtual-keys/orphan")).status).toBe(404);
  });
});
