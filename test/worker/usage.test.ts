/** The usage breakdown: exact sums by virtual key, provider and model over a range, the rest as one line, bad input refused. */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { LLAMA, admin, configure, errorOf, eventually, origin, postJson, virtualKey } from "./helpers";

interface Line {
  key?: string | null;
  name?: string | null;
  groups?: number;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost: number;
  avg_latency_ms: number | null;
}

interface Usage {
  from: number;
  to: number;
  group_by: string;
  groups: Line[];
  other: Line | null;
  total: Line;
}

const START = Date.UTC(2030, 0, 1, 0, 0, 0);

interface Row {
  key?: [string, string] | null;
  provider: string;
  model: string;
  at: number;
  status?: number;
  tokens: [number, number];
  cost: number;
  latency: number;
}

async function insert(id: string, row: Row): Promise<void> {
  await env.DB.prepare(
    "INSERT INTO request_logs (id, request_id, ts, virtual_key_id, virtual_key_name, provider, model, endpoint, stream, status, prompt_tokens, completion_tokens, cost, latency_ms, attempts, fallback_index) VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, 'chat/completions', 0, ?7, ?8, ?9, ?10, ?11, 1, 0)",
  )
    .bind(id, START + row.at, row.key?.[0] ?? null, row.key?.[1] ?? null, row.provider, row.model, row.status ?? 200, row.tokens[0], row.tokens[1], row.cost, row.latency)
    .run();
}

async function usage(query: string): Promise<Usage> {
  const response = await admin("GET", `/api/logs/usage?${query}`);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as Usage;
}

const line = (values: Omit<Line, "total_tokens">): Line => ({ ...values, total_tokens: values.prompt_tokens + values.completion_tokens });

beforeAll(async () => {
  // Costs the gateway would meter (nano-dollar multiples) that binary floats do not hold exactly.
  await insert("u1", { key: ["vk-a", "team-a-old"], provider: "pa", model: "pa/m1", at: 0, tokens: [10, 5], cost: 0.000012, latency: 100 });
  await insert("u2", { key: ["vk-a", "team-a"], provider: "pa", model: "pa/m2", at: 60_000, tokens: [20, 10], cost: 0.000003, latency: 300 });
  await insert("u3", { key: ["vk-b", "team-b"], provider: "pb", model: "pb/m1", at: 120_000, status: 502, tokens: [0, 0], cost: 0, latency: 50 });
  await insert("u4", { key: null, provider: "pb", model: "pb/m1", at: 180_000, tokens: [7, 3], cost: 0.1, latency: 10 });
  await insert("u5", { key: ["vk-c", "team-c"], provider: "pc", model: "pc/m3", at: 240_000, tokens: [1, 1], cost: 0.2, latency: 20 });
  // Just outside the range asked for: at `to` (exclusive) and before `from`.
  await insert("u-late", { key: ["vk-a", "team-a"], provider: "pa", model: "pa/m1", at: 300_000, tokens: [1000, 1000], cost: 5, latency: 1 });
  await insert("u-early", { key: ["vk-a", "team-a"], provider: "pa", model: "pa/m1", at: -1, tokens: [1000, 1000], cost: 5, latency: 1 });
});

const RANGE = `from=${START}&to=${START + 300_000}`;

describe("GET /api/logs/usage", () => {
  it("sums by provider, most expensive first, from included and to excluded", async () => {
    const body = await usage(`group_by=provider&${RANGE}`);
    expect(body).toEqual({
      from: START,
      to: START + 300_000,
      group_by: "provider",
      groups: [
        { key: "pc", name: "pc", ...line({ requests: 1, errors: 0, prompt_tokens: 1, completion_tokens: 1, cost: 0.2, avg_latency_ms: 20 }) },
        { key: "pb", name: "pb", ...line({ requests: 2, errors: 1, prompt_tokens: 7, completion_tokens: 3, cost: 0.1, avg_latency_ms: 30 }) },
        { key: "pa", name: "pa", ...line({ requests: 2, errors: 0, prompt_tokens: 30, completion_tokens: 15, cost: 0.000015, avg_latency_ms: 200 }) },
      ],
      other: null,
      total: line({ requests: 5, errors: 1, prompt_tokens: 38, completion_tokens: 19, cost: 0.300015, avg_latency_ms: 96 }),
    });
  });

  it("names a virtual key by its latest request and groups requests without one", async () => {
    const body = await usage(`group_by=virtual_key&${RANGE}`);
    expect(body.groups.map((g) => [g.key, g.name, g.requests, g.cost])).toEqual([
      ["vk-c", "team-c", 1, 0.2],
      [null, null, 1, 0.1],
      ["vk-a", "team-a", 2, 0.000015],
      ["vk-b", "team-b", 1, 0],
    ]);
  });

  it("keeps the top groups by cost and folds the rest into one line", async () => {
    const body = await usage(`group_by=model&${RANGE}&limit=2`);
    expect(body.groups.map((g) => [g.key, g.requests, g.cost])).toEqual([
      ["pc/m3", 1, 0.2],
      ["pb/m1", 2, 0.1],
    ]);
    expect(body.other).toEqual({ groups: 2, ...line({ requests: 2, errors: 0, prompt_tokens: 30, completion_tokens: 15, cost: 0.000015, avg_latency_ms: 200 }) });
    expect(body.total.requests).toBe(5);
  });

  it("counts a preset range back from `to`", async () => {
    const body = await usage(`group_by=model&range=1h&to=${START + 60_001}`);
    expect(body.from).toBe(START + 60_001 - 3_600_000);
    expect(body.groups.map((g) => [g.key, g.requests])).toEqual([["pa/m1", 2], ["pa/m2", 1]]);
  });

  it("refuses bad input with an OpenAI-shaped 400 naming the parameter", async () => {
    const cases: [string, string | null][] = [
      ["", "group_by"],
      ["group_by=colour", "group_by"],
      ["group_by=model&limit=0", "limit"],
      ["group_by=model&limit=101", "limit"],
      ["group_by=model&limit=2.5", "limit"],
      ["group_by=model&range=2h", "range"],
      ["group_by=model&from=yesterday", "from"],
      [`group_by=model&from=${START}&to=${START}`, "from"],
      [`group_by=model&range=1h&from=${START}`, "range"],
      [`group_by=model&from=0&to=${401 * 86_400_000}`, "from"],
      ["group_by=model&colour=blue", null],
    ];
    for (const [query, param] of cases) {
      const response = await admin("GET", `/api/logs/usage?${query}`);
      expect(response.status, query).toBe(400);
      const error = await errorOf(response);
      expect(error.type, query).toBe("invalid_request_error");
      expect(error.param, query).toBe(param);
    }
  });

  it("adds up real requests' tokens and cost by key", async () => {
    await configure({ usagep: { keys: [{ name: "usage-gpu", models: ["*"] }], network_config: { base_url: origin("usage") }, custom_provider_config: { base_provider_type: "openai" } } });
    // $0.50 per prompt token and $0.25 per completion token: costs binary floats hold exactly.
    const price = await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider: "usagep", match_type: "wildcard", pattern: "*", input_price_per_million: 500_000, output_price_per_million: 250_000 });
    expect(price.status).toBe(200);
    const key = await virtualKey("usage-vk", { name: "usage-team", provider_configs: [{ provider: "usagep", weight: 1 }] });
    const from = Date.now();
    const spent: [number, number][] = [];
    for (const content of ["one", "a longer second question"]) {
      const response = await postJson("/v1/chat/completions", { model: `usagep/${LLAMA}`, max_tokens: 8, messages: [{ role: "user", content }] }, { authorization: `Bearer ${key}` });
      expect(response.status).toBe(200);
      const { usage: used } = (await response.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
      spent.push([used.prompt_tokens, used.completion_tokens]);
    }
    const prompt = spent.reduce((sum, [p]) => sum + p, 0);
    const completion = spent.reduce((sum, [, c]) => sum + c, 0);
    const body = await eventually(() => usage(`group_by=virtual_key&from=${from}`), (u) => u.groups.some((g) => g.key === "usage-vk" && g.requests === 2), 5000);
    const group = body.groups.find((g) => g.key === "usage-vk");
    expect(group).toMatchObject({ name: "usage-team", requests: 2, errors: 0, prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, cost: prompt * 0.5 + completion * 0.25 });
  });
});
