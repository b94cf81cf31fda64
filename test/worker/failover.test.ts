/** Fault injection: dead replicas, circuits, fallbacks, failures before and after the first byte, affinity. */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { LLAMA, configure, errorOf, eventually, origin, postJson, quota, received, sseData, virtualKey } from "./helpers";

const replica = (name: string, url: string) => ({ name, models: ["*"], vllm_key_config: { url } });

beforeAll(async () => {
  await configure({
    vllm: { keys: [replica("local", origin("default"))] },
    // Three replicas, one of them refusing connections.
    trio: {
      keys: [replica("a", origin("trio-a")), replica("b", origin("trio-b")), replica("dead", env.REFUSED_URL)],
      network_config: { base_url: origin("trio-a"), max_retries: 2, retry_backoff_initial: 100, retry_backoff_max: 100 },
      custom_provider_config: { base_provider_type: "openai" },
    },
    // Two replicas; "flappy" goes down and comes back during a test. A connection the local runtime loses without
    // an answer becomes a retry on the other replica after 5 s, well inside the test's own time limit.
    pair: {
      keys: [replica("flappy", origin("flappy")), replica("steady", origin("steady"))],
      network_config: { base_url: origin("flappy"), max_retries: 1, retry_backoff_initial: 100, retry_backoff_max: 100, default_request_timeout_in_seconds: 5 },
      custom_provider_config: { base_provider_type: "openai" },
    },
    // Every connection attempt to "cutter" is dropped before the answer starts; "healthy" answers.
    cut: {
      keys: [{ ...replica("cutter", origin("cutter")), weight: 1 }, { ...replica("healthy", origin("healthy")), weight: 0 }],
      network_config: { base_url: origin("cutter"), max_retries: 1, retry_backoff_initial: 100, retry_backoff_max: 100 },
      custom_provider_config: { base_provider_type: "openai" },
    },
    down: { keys: [replica("gone", env.REFUSED_URL)], network_config: { base_url: env.REFUSED_URL }, custom_provider_config: { base_provider_type: "openai" } },
  });
});

const chat = (model: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  postJson("/v1/chat/completions", { model, messages: [{ role: "user", content: "hi" }], ...extra }, headers);

describe("dead and failing replicas", () => {
  it("stops sending traffic to a dead replica within a bounded number of requests", async () => {
    let failedAttempts = 0;
    const started = Date.now();
    for (let i = 0; i < 40; i += 1) {
      const response = await chat(`trio/${LLAMA}`);
      expect(response.status).toBe(200);
      failedAttempts += Number(response.headers.get("x-bf-attempts")) - 1;
    }
    // The circuit opens after three consecutive failures; afterwards only one probe per cool-down (1 s here) reaches it.
    const cooldowns = Math.ceil((Date.now() - started) / 1000);
    expect(failedAttempts).toBeLessThanOrEqual(3 + cooldowns);
    expect(failedAttempts).toBeLessThan(40 / 3);
  });

  it("moves traffic off a replica that fails, and back once it recovers", async () => {
    // The fake's control call, asked again should the local runtime lose its pooled connection without an answer.
    const takeDown = () => fetch(`${env.FAKE_VLLM_URL}/__down?origin=flappy&ms=1500`, { method: "POST", signal: AbortSignal.timeout(3000) });
    expect((await takeDown().catch(takeDown)).status).toBe(200);
    const served: string[] = [];
    for (let i = 0; i < 20; i += 1) {
      const id = `flappy-${i}`;
      expect((await chat(`pair/${LLAMA}`, {}, { "x-request-id": id })).status).toBe(200);
      served.push((await received(id)).at(-1)?.origin ?? "?");
    }
    expect(served.slice(-10).every((name) => name === "steady")).toBe(true);
    // After the cool-down (1 s in this test setup) a probe finds the replica healthy again.
    const back = await eventually(
      async () => {
        const id = crypto.randomUUID();
        await chat(`pair/${LLAMA}`, {}, { "x-request-id": id });
        return (await received(id)).map((r) => r.origin);
      },
      (origins) => origins.at(-1) === "flappy",
      8000,
    );
    expect(back.at(-1)).toBe("flappy");
  }, 25_000);

  it("fails over when the connection drops before the first byte", async () => {
    const response = await chat("cut/drop-connection", { stream: true });
    expect(response.status).toBe(200);
    expect(Number(response.headers.get("x-bf-attempts"))).toBe(2);
    expect(sseData(await response.text()).at(-1)).toBe("[DONE]");
  });

  it("retries an HTTP 200 answer that carries an error on the next key", async () => {
    const response = await chat("cut/error-200");
    expect(response.status).toBe(200);
    expect(response.headers.get("x-bf-attempts")).toBe("2");
  });

  it("does not retry once the client has received bytes: a mid-stream failure is an error event", async () => {
    const response = await chat("trio/mid-stream-error", { stream: true }, { "x-request-id": "after-first-byte" });
    const frames = sseData(await response.text());
    expect(frames.some((frame) => frame.includes('"error"'))).toBe(true);
    // Only the replica that started the stream was asked (an earlier attempt may have hit the dead one, which never answers).
    expect(await received("after-first-byte")).toHaveLength(1);
  });
});

describe("fallbacks", () => {
  it("tries the request's fallbacks in order and says which one answered", async () => {
    const response = await chat("down/anything", { fallbacks: ["nope/missing", `vllm/${LLAMA}`] }, { "x-request-id": "fallback-1" });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-bf-fallback-index")).toBe("1");
    expect(response.headers.get("x-bf-provider")).toBe("vllm");
    // The primary's one attempt, none for the provider that does not exist, and the one that answered.
    expect(response.headers.get("x-bf-attempts")).toBe("2");
    const [sent] = await received("fallback-1");
    expect(JSON.parse(sent?.body ?? "{}").fallbacks).toBeUndefined();
  });

  it("returns the primary's error when every fallback fails too, and releases the reservation", async () => {
    const key = await virtualKey("fallback-key", { provider_configs: [{ provider: "down" }, { provider: "vllm" }], max_concurrent_requests: 1 });
    const response = await chat("down/anything", { fallbacks: ["vllm/not-served"] }, { "x-bf-vk": key });
    expect(response.status).toBe(502);
    expect((await errorOf(response)).code).toBe("upstream_unreachable");
    expect((await eventually(() => quota(key), (q) => q.concurrency.in_flight === 0)).concurrency.in_flight).toBe(0);
  });

  it("counts a fallback against its own provider config's limits", async () => {
    const key = await virtualKey("fallback-scope", {
      provider_configs: [{ provider: "down" }, { provider: "vllm", rate_limit: { request_max_limit: 1, request_reset_duration: "1h" } }],
    });
    const first = await chat("down/anything", { fallbacks: [`vllm/${LLAMA}`] }, { "x-bf-vk": key });
    expect(first.status).toBe(200);
    expect(first.headers.get("x-bf-fallback-index")).toBe("1");
    // The vllm config allows one request an hour: the second fallback is refused, so the primary's error stands.
    const second = await chat("down/anything", { fallbacks: [`vllm/${LLAMA}`] }, { "x-bf-vk": key });
    expect(second.status).toBe(502);
    expect((await eventually(() => quota(key), (q) => q.concurrency.in_flight === 0)).concurrency.in_flight).toBe(0);
  });

  it("does not fall back on the client's own mistakes", async () => {
    const response = await chat("vllm/flat-error", { fallbacks: [`vllm/${LLAMA}`] });
    expect(response.status).toBe(400);
  });
});

describe("session affinity", () => {
  it("keeps a session on one replica and spreads sessions across replicas", async () => {
    await configure({
      spread: {
        keys: [replica("r1", origin("r1")), replica("r2", origin("r2")), replica("r3", origin("r3"))],
        network_config: { base_url: origin("r1") },
        custom_provider_config: { base_provider_type: "openai" },
      },
    });
    const replicaFor = async (session: string, i: number) => {
      const id = `${session}-${i}`;
      await chat(`spread/${LLAMA}`, {}, { "x-session-id": session, "x-request-id": id });
      return (await received(id))[0]?.origin;
    };
    for (const session of ["alice", "bob", "carol"]) {
      const seen = new Set<string | undefined>();
      for (let i = 0; i < 5; i += 1) seen.add(await replicaFor(session, i));
      expect(seen.size).toBe(1);
    }
    const spread = new Set<string | undefined>();
    for (let s = 0; s < 20; s += 1) spread.add(await replicaFor(`user-${s}`, 0));
    expect(spread.size).toBe(3);
  });

  it("keeps every turn of a conversation on one replica by its start, with prompt_prefix affinity", async () => {
    await configure({
      prefixed: {
        keys: [replica("p1", origin("p1")), replica("p2", origin("p2")), replica("p3", origin("p3"))],
        network_config: { base_url: origin("p1"), session_affinity: "prompt_prefix" },
        custom_provider_config: { base_provider_type: "openai" },
      },
    });
    // The same system prompt for all, a first question of their own; each turn adds an answer and a new question.
    const system = { role: "system", content: "You are a helpful assistant for a hardware store." };
    const spread = new Set<string | undefined>();
    for (let c = 0; c < 12; c += 1) {
      const messages: { role: string; content: string }[] = [system, { role: "user", content: `Question ${c}: which drill for concrete?` }];
      const seen = new Set<string | undefined>();
      for (let turn = 0; turn < 4; turn += 1) {
        const id = `prefix-${c}-${turn}`;
        expect((await chat(`prefixed/${LLAMA}`, { messages }, { "x-request-id": id })).status).toBe(200);
        seen.add((await received(id))[0]?.origin);
        messages.push({ role: "assistant", content: `Answer ${turn}.` }, { role: "user", content: `Follow-up ${turn} of conversation ${c}?` });
      }
      expect(seen.size, `conversation ${c}`).toBe(1);
      spread.add([...seen][0]);
    }
    expect(spread.size).toBe(3);
  });
});
