/**
 * Bad input never yields a 5xx: every public and admin route gets malformed JSON, wrong types, huge strings, deep
 * nesting, bad percent-encoding, hostile query strings and bogus credentials, and answers with a 4xx in its error
 * shape. The inputs come from a seeded generator, so a failure replays exactly.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN, configure, gateway, origin } from "./helpers";

/** mulberry32: a small seeded PRNG, so the run is the same every time. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = seeded(20261130);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

function randomText(length: number): string {
  let text = "";
  for (let i = 0; i < length; i += 1) text += String.fromCharCode(1 + Math.floor(random() * 0x2fff));
  return text;
}

function deeplyNested(depth: number): string {
  return `${'{"model":"vllm/m","messages":'.concat("[".repeat(depth))}${"]".repeat(depth)}}`;
}

/** Bodies no route should accept. */
const BODIES: readonly string[] = [
  "",
  "{",
  "[",
  "nul",
  '{"model":',
  "null",
  "[]",
  '"a string"',
  "42",
  '{"model":5}',
  '{"model":["x"],"messages":{}}',
  '{"model":"vllm/m","messages":"hi","max_tokens":"ten"}',
  '{"model":"vllm/m","messages":[{"role":7}],"n":-1}',
  '{"model":"vllm/m","max_tokens":1e309}',
  '{"model":"vllm/m","stream":"yes"}',
  `{"model":"${"m".repeat(100_000)}"}`,
  JSON.stringify({ model: "vllm/m", messages: [{ role: "user", content: randomText(50_000) }], max_tokens: -5 }),
  JSON.stringify({ name: randomText(300), provider_configs: "all", budgets: [{ max_limit: "lots" }] }),
  JSON.stringify({ providers: { constructor: { keys: [{}] }, __proto__: { keys: 1 } } }),
  JSON.stringify({ keys: [{ name: "", value: 5, vllm_key_config: { url: "javascript:alert(1)" } }] }),
  deeplyNested(5_000),
  deeplyNested(200_000),
];

const CREDENTIALS: readonly Record<string, string>[] = [
  {},
  { authorization: "Bearer sk-bf-00000000-0000-0000-0000-000000000000" },
  { authorization: `Bearer sk-bf-${"a".repeat(5_000)}` },
  { authorization: "Bearer sk-bf-eph.bogus.token" },
  { "x-bf-vk": "sk-bf-eph.e30.e30" },
  { "x-api-key": "sk-bf-%ZZ" },
  { authorization: "Basic Zm9vOmJhcg==" },
];

const POST_ROUTES = [
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/embeddings",
  "/v1/rerank",
  "/v1/responses",
  "/v1/messages",
  "/v1/messages/count_tokens",
  "/anthropic/v1/messages",
  "/vllm/v1/chat/completions",
  "/openai/v1/chat/completions",
  "/v1/audio/transcriptions",
  "/v1/tokenize",
  "/v1/detokenize",
  "/v1/score",
  "/v1/classify",
  "/v1/pooling",
  "/vllm/score",
  "/tokenize",
  "/api/governance/virtual-keys/ephemeral-tokens",
];

const ADMIN_WRITES: readonly [string, string][] = [
  ["POST", "/api/providers"],
  ["PUT", "/api/providers/fuzzed"],
  ["POST", "/api/providers/vllm/keys"],
  ["PUT", "/api/providers/vllm/keys/local"],
  ["POST", "/api/config/import"],
  ["POST", "/api/governance/virtual-keys"],
  ["PUT", "/api/governance/virtual-keys/fuzzed"],
  ["POST", "/api/governance/pricing-overrides"],
  ["PUT", "/api/governance/pricing-overrides/fuzzed"],
  ["POST", "/api/governance/teams"],
  ["PUT", "/api/governance/teams/fuzzed"],
  ["POST", "/api/governance/customers"],
  ["PUT", "/api/governance/customers/fuzzed"],
  ["POST", "/api/providers/vllm/keys/local/test"],
];

const GETS: readonly string[] = [
  "/v1/models",
  "/v1/models/vllm/%E0%A4%A",
  "/v1/models/%ZZ",
  `/v1/models/${"x".repeat(5_000)}`,
  "/anthropic/v1/models",
  "/v1/responses/%ZZ",
  `/v1/responses/${"r".repeat(5_000)}`,
  "/v1/responses/resp_1/input_items?limit=1e20&order=sideways&after=%00",
  "/api/governance/virtual-keys/quota",
  "/api/logs?offset=1e20",
  "/api/logs?limit=abc&from=yesterday",
  "/api/logs?status=%00",
  "/api/logs/summary?bucket_seconds=-5&to=1e400",
  `/api/governance/virtual-keys?search=${"%25".repeat(60)}`,
  "/api/governance/virtual-keys?limit=1e20&offset=-1",
  "/api/governance/virtual-keys/%E0%A4%A",
  "/api/governance/virtual-keys/%ZZ/usage",
  "/api/providers/%E0%A4%A",
  "/api/providers/constructor",
  "/api/providers/__proto__/keys",
  "/api/providers/vllm/keys/%ZZ",
  "/api/governance/pricing-overrides/effective?provider=constructor&model=x",
  "/api/governance/pricing-overrides/effective?provider=vllm",
  "/api/config?redact=%",
  "/api/governance/teams?limit=1e20&offset=-1&customer_id=%00",
  `/api/governance/customers?search=${"%25".repeat(60)}`,
  "/api/governance/teams/%ZZ",
  "/api/governance/customers/constructor/usage",
  "/api/governance/teams/__proto__",
  "/api/logs/usage?group_by=__proto__&range=1e20&from=-1",
  "/api/logs/usage?group_by=model&from=1e400&to=-1e400",
  "/api/providers/__proto__/health",
  "/api/providers/vllm/health",
];

async function expectNoServerError(label: string, response: Response): Promise<void> {
  const text = await response.text();
  expect(response.status, `${label} → ${response.status} ${text.slice(0, 300)}`).toBeLessThan(500);
  if (response.status < 400) return;
  const body = JSON.parse(text) as { error?: { message?: unknown; type?: unknown } };
  expect(typeof body.error?.message, `${label}: ${text.slice(0, 300)}`).toBe("string");
  expect(typeof body.error?.type, label).toBe("string");
}

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
});

describe("no 5xx from bad input", () => {
  it("on every inference route, with every kind of bad body and credential", async () => {
    for (const path of POST_ROUTES) {
      for (const body of BODIES) {
        const headers = { "content-type": pick(["application/json", "text/plain", "multipart/form-data; boundary=x", "application/json; charset=utf-8"]), ...pick(CREDENTIALS) };
        await expectNoServerError(`POST ${path} ${body.slice(0, 40)}`, await gateway(path, { method: "POST", headers, body }));
      }
    }
  }, 120_000);

  it("on every admin write, with every kind of bad body", async () => {
    for (const [method, path] of ADMIN_WRITES) {
      for (const body of BODIES) {
        await expectNoServerError(`${method} ${path} ${body.slice(0, 40)}`, await gateway(path, { method, headers: ADMIN, body }));
      }
    }
  }, 120_000);

  it("on reads with hostile paths and query strings, with and without credentials", async () => {
    for (const path of GETS) {
      for (const headers of [ADMIN, pick(CREDENTIALS)]) {
        await expectNoServerError(`GET ${path.slice(0, 80)}`, await gateway(path, { headers }));
      }
    }
    for (const path of ["/api/providers/%E0%A4%A", "/api/governance/virtual-keys/%ZZ", "/api/governance/pricing-overrides/%ZZ", "/api/governance/virtual-keys/ephemeral-tokens/%ZZ", "/v1/responses/%ZZ"]) {
      await expectNoServerError(`DELETE ${path}`, await gateway(path, { method: "DELETE", headers: { ...ADMIN, ...pick(CREDENTIALS) } }));
    }
  }, 60_000);
});
