/**
 * Token accounting against the real gateway: the completion limit granted and written into the forwarded body, a
 * token window used to its last token, sequential requests admitted exactly while they fit, Retry-After, and a
 * stream that fails mid-way. Every amount is exact: the fake vLLM's usage is deterministic.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { LLAMA, admin, configure, errorOf, eventually, origin, postJson, quota, received, sseData, virtualKey } from "./helpers";

/** "hi": the gateway estimates 1 text token + 4 for the message + 3 for the reply header. */
const HI = [{ role: "user", content: "hi" }];
const HI_ESTIMATE = 8;
/** The fake's usage for "hi": ceil(len('[{"role":"user","content":"hi"}]') / 4) = 8 prompt tokens; "You said: hi" is 3. */
const HI_USAGE = { prompt_tokens: 8, completion_tokens: 3 };
const HI_TOKENS = HI_USAGE.prompt_tokens + HI_USAGE.completion_tokens;

interface Completion {
  choices: { finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

function send(path: string, key: string, body: Record<string, unknown>, requestId: string = crypto.randomUUID()) {
  return postJson(path, body, { "x-bf-vk": key, "x-request-id": requestId });
}

function chat(key: string, model: string, extra: Record<string, unknown> = {}, requestId?: string) {
  return send("/v1/chat/completions", key, { model, messages: HI, ...extra }, requestId);
}

/** The body the origin received for a request id. */
async function forwarded(requestId: string): Promise<Record<string, unknown>> {
  const [seen] = await received(requestId);
  return JSON.parse(seen?.body ?? "{}") as Record<string, unknown>;
}

const tokenWindow = async (key: string) => (await quota(key)).rate_limits[0]?.tokens;

function tokenKey(id: string, limit: number, extra: Record<string, unknown> = {}) {
  return virtualKey(id, { provider_configs: [{ provider: "vllm" }], rate_limit: { token_max_limit: limit, token_reset_duration: "1h" }, ...extra });
}

/** Retry-After of a refusal by settled usage in a 1h window: the time left until it resets. */
function expectWindowReset(response: Response): void {
  const retryAfter = Number(response.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThan(3_590);
  expect(retryAfter).toBeLessThanOrEqual(3_600);
  expect(response.headers.get("x-ratelimit-reset-tokens")).toBe(`${retryAfter}s`);
}

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
});

describe("the completion limit forwarded to the origin", () => {
  it("is the grant: the default when nothing limits it, what remains of a nearly used window, and in the client's field", async () => {
    const free = await virtualKey("grant-free", { provider_configs: [{ provider: "vllm" }] });
    const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
      ["/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: HI }, { max_tokens: 4096 }],
      ["/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: HI, max_completion_tokens: null }, { max_completion_tokens: 4096 }],
      // vLLM's own default for completions is a limit the client gets either way.
      ["/v1/completions", { model: `vllm/${LLAMA}`, prompt: "hi" }, { max_tokens: 16 }],
      ["/v1/responses", { model: `vllm/${LLAMA}`, input: "hi" }, { max_tokens: 4096 }],
      ["/v1/responses", { model: `vllm/${LLAMA}`, input: "hi", max_output_tokens: 50 }, { max_completion_tokens: 50 }],
      ["/v1/messages", { model: `vllm/${LLAMA}`, max_tokens: 64, messages: HI }, { max_completion_tokens: 64 }],
    ];
    for (const [path, body, limit] of cases) {
      const requestId = crypto.randomUUID();
      const response = await send(path, free, body, requestId);
      expect(response.status, `${path} ${JSON.stringify(body)}`).toBe(200);
      const seen = await forwarded(requestId);
      const field = Object.keys(limit)[0] as string;
      expect({ [field]: seen[field] }, `${path} ${JSON.stringify(body)}`).toEqual(limit);
      // Only the field the client used (or max_tokens) carries the limit.
      expect(seen[field === "max_tokens" ? "max_completion_tokens" : "max_tokens"] ?? null, path).toBeNull();
    }

    // 11 of 200 tokens used: a request without a limit is granted 200 − 11 − its 8-token prompt.
    const nearly = await tokenKey("grant-nearly", 200);
    expect((await chat(nearly, `vllm/${LLAMA}`, { max_tokens: 10 })).status).toBe(200);
    expect((await tokenWindow(nearly))?.current_usage).toBe(HI_TOKENS);
    const requestId = crypto.randomUUID();
    expect((await chat(nearly, `vllm/${LLAMA}`, {}, requestId)).status).toBe(200);
    expect((await forwarded(requestId)).max_tokens).toBe(200 - HI_TOKENS - HI_ESTIMATE);
  });

  it("treats a limit of 0 as none, as vLLM does, so it cannot slip past a window", async () => {
    for (const [index, limits] of [{ max_completion_tokens: 0 }, { max_completion_tokens: 0, max_tokens: 0 }].entries()) {
      const key = await tokenKey(`grant-zero-${index}`, 100);
      const requestId = crypto.randomUUID();
      const response = await chat(key, "vllm/long-answer", limits, requestId);
      expect(response.status, JSON.stringify(limits)).toBe(200);
      const { usage } = (await response.json()) as Completion;
      // Granted what remains after the 8-token prompt, in the field the client used.
      const granted = (await forwarded(requestId)).max_completion_tokens as number;
      expect(usage.completion_tokens).toBe(granted);
      expect(granted).toBe(100 - HI_ESTIMATE);
      expect((await tokenWindow(key))?.current_usage).toBe(usage.prompt_tokens + usage.completion_tokens);
      expect(usage.prompt_tokens + usage.completion_tokens).toBeLessThanOrEqual(100);
    }
  });

  it("is reserved once per choice (n)", async () => {
    // Without its own limit, n: 3 splits what remains of 100 tokens: floor((100 − 8) / 3) = 30 each, 98 reserved.
    const key = await tokenKey("choices", 100);
    const requestId = crypto.randomUUID();
    const running = chat(key, "vllm/slow-headers", { n: 3 }, requestId);
    const held = await eventually(() => tokenWindow(key), (tokens) => tokens?.reserved !== 0);
    expect(held?.reserved).toBe(HI_ESTIMATE + 3 * 30);
    expect((await running).status).toBe(200);
    expect((await forwarded(requestId)).max_tokens).toBe(30);
    expect(await tokenWindow(key)).toMatchObject({ current_usage: HI_TOKENS, reserved: 0 });

    // With its own limit: 8 + 3 × 30 = 98 tokens can never fit a 97-token window, though one choice (38) does.
    const small = await tokenKey("choices-small", 97);
    const never = await chat(small, `vllm/${LLAMA}`, { n: 3, max_tokens: 30 });
    expect(never.status).toBe(400);
    const neverError = await errorOf(never);
    // The choices are what multiply it: the refusal names them and `n`.
    expect(neverError).toMatchObject({ code: "request_exceeds_limit", param: "n" });
    expect(neverError.message).toContain("it needs about 8 prompt tokens + 90 completion tokens (30 for each of 3 choices)");
    expect(neverError.message).toMatch(/; ask for fewer choices \(n, best_of\) or fewer tokens each, or raise the limit$/);
    // Without its own limit, n alone: a few tokens for each of a billion choices never fit.
    const billion = await chat(small, `vllm/${LLAMA}`, { n: 1_000_000_000 });
    expect(billion.status).toBe(400);
    const billionError = await errorOf(billion);
    expect(billionError).toMatchObject({ code: "request_exceeds_limit", param: "n" });
    expect(billionError.message).toContain("a few completion tokens for each of 1000000000 choices");
    expect((await chat(small, `vllm/${LLAMA}`, { n: 1, max_tokens: 30 })).status).toBe(200);
    // A prompt larger than the whole window: a smaller completion limit cannot help.
    const tiny = await tokenKey("prompt-too-large", 5);
    const long = await chat(tiny, `vllm/${LLAMA}`, { max_tokens: 1, messages: [{ role: "user", content: "word ".repeat(200) }] });
    expect(long.status).toBe(400);
    const longError = await errorOf(long);
    expect(longError).toMatchObject({ code: "request_exceeds_limit", param: null });
    expect(longError.message).toMatch(/; send less input \(a shorter prompt or upload\) or raise the limit$/);
  });
});

describe("a token window used to its last token", () => {
  /** Flexible long-answer requests until one is refused: the limits the origin was given and what it reported. */
  async function drain(key: string) {
    const runs: { granted: unknown; finish: string | undefined; used: number }[] = [];
    for (;;) {
      const requestId = crypto.randomUUID();
      const response = await chat(key, "vllm/long-answer", {}, requestId);
      if (response.status !== 200) return { runs, refused: response };
      const body = (await response.json()) as Completion;
      runs.push({ granted: (await forwarded(requestId)).max_tokens, finish: body.choices[0]?.finish_reason, used: body.usage.total_tokens });
    }
  }

  it("admits requests without a limit while MIN_COMPLETION_TOKENS fit, and the origin never uses more than the window", async () => {
    // long-answer writes 500 tokens unless stopped sooner. 1040 = 508 + 508 + (8 + 16): the third gets exactly 16.
    const exact = await tokenKey("last-token", 1040);
    const { runs, refused } = await drain(exact);
    expect(runs).toEqual([
      { granted: 1032, finish: "stop", used: 508 },
      { granted: 524, finish: "stop", used: 508 },
      { granted: 16, finish: "length", used: 24 },
    ]);
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).code).toBe("token_limited");
    expectWindowReset(refused);
    expect(await tokenWindow(exact)).toMatchObject({ current_usage: 1040, reserved: 0, max_limit: 1040 });
    // One token less and the third would get 15: below the floor, so it is refused rather than cut to nothing.
    const short = await tokenKey("last-token-short", 1039);
    const second = await drain(short);
    expect(second.runs.map((run) => run.granted)).toEqual([1031, 523]);
    expect(second.refused.status).toBe(429);
    expect((await tokenWindow(short))?.current_usage).toBe(1016);
  });

  it("refuses a request's own limit that does not fit, unless the key lowers it to fit", async () => {
    const strict = await tokenKey("explicit-strict", 100);
    // 8 + 500 can never fit 100 tokens, whatever has been used.
    const never = await chat(strict, "vllm/long-answer", { max_tokens: 500 });
    expect(never.status).toBe(400);
    expect(await errorOf(never)).toMatchObject({ code: "request_exceeds_limit", param: "max_tokens" });
    expect(((await (await chat(strict, "vllm/long-answer", { max_tokens: 50 })).json()) as Completion).usage.total_tokens).toBe(58);
    // 58 fits the window but not the 42 left of it.
    const short = await chat(strict, "vllm/long-answer", { max_tokens: 50 });
    expect(short.status).toBe(429);
    expect((await errorOf(short)).code).toBe("token_limited");
    expect((await tokenWindow(strict))?.current_usage).toBe(58);

    const lowering = await tokenKey("explicit-lowered", 100, { lower_max_tokens_to_fit: true });
    expect((await chat(lowering, "vllm/long-answer", { max_tokens: 50 })).status).toBe(200);
    const requestId = crypto.randomUUID();
    const lowered = await chat(lowering, "vllm/long-answer", { max_tokens: 50 }, requestId);
    expect(lowered.status).toBe(200);
    expect((await forwarded(requestId)).max_tokens).toBe(100 - 58 - HI_ESTIMATE);
    const body = (await lowered.json()) as Completion;
    expect(body.choices[0]?.finish_reason).toBe("length");
    expect(body.usage.completion_tokens).toBe(34);
    expect((await tokenWindow(lowering))?.current_usage).toBe(100);
    expect((await chat(lowering, "vllm/long-answer", { max_tokens: 50 })).status).toBe(429);
  });
});

describe("sequential requests under a token window", () => {
  // Each reserves 8 + 10 and uses 8 + 3. 73 = 5 × 11 + 18: the sixth fits only if the fifth settled before its answer ended.
  const LIMIT = 5 * HI_TOKENS + HI_ESTIMATE + 10;

  for (const stream of [false, true]) {
    it(`admits every one that fits (${stream ? "streamed" : "JSON"})`, async () => {
      const key = await tokenKey(`sequential-${String(stream)}`, LIMIT);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        const response = await chat(key, `vllm/${LLAMA}`, { max_tokens: 10, stream });
        statuses.push(response.status);
        const text = await response.text(); // the whole body before the next request
        if (stream) expect(sseData(text).at(-1)).toBe("[DONE]");
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
      expect(await tokenWindow(key)).toMatchObject({ current_usage: 6 * HI_TOKENS, reserved: 0 });
      const seventh = await chat(key, `vllm/${LLAMA}`, { max_tokens: 10, stream });
      expect(seventh.status).toBe(429);
      expect(seventh.headers.get("x-ratelimit-remaining-tokens")).toBe(String(LIMIT - 6 * HI_TOKENS));
      expectWindowReset(seventh);
    });
  }
});

describe("Retry-After", () => {
  it("is 1 s when only a reservation in flight blocks the request, and the window's reset once usage has settled", async () => {
    const key = await tokenKey("retry-after", HI_ESTIMATE + 10);
    const running = chat(key, "vllm/slow-headers", { max_tokens: 10 });
    await eventually(() => tokenWindow(key), (tokens) => tokens?.reserved === HI_ESTIMATE + 10);
    const blocked = await chat(key, `vllm/${LLAMA}`, { max_tokens: 10 });
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get("retry-after")).toBe("1");
    expect(blocked.headers.get("x-ratelimit-reset-tokens")).toBe("1s");
    expect((await errorOf(blocked)).message).toContain("once requests in flight have settled");
    const first = await running;
    expect(first.status).toBe(200);
    await first.text();
    expect(await tokenWindow(key)).toMatchObject({ current_usage: HI_TOKENS, reserved: 0 });
    const spent = await chat(key, `vllm/${LLAMA}`, { max_tokens: 10 });
    expect(spent.status).toBe(429);
    expectWindowReset(spent);
  });
});

describe("a stream that fails mid-way", () => {
  it("ends with the error event, is charged for what it delivered, and is logged with the frame's code", async () => {
    const key = await tokenKey("error-frame", 1_000_000);
    const requestId = crypto.randomUUID();
    const response = await chat(key, "vllm/mid-stream-error", { stream: true }, requestId);
    expect(response.status).toBe(200);
    const frames = sseData(await response.text());
    // The fake sends a role chunk, two words, then vLLM's error frame and [DONE]: the stream ends with the error frame.
    expect(frames).toHaveLength(4);
    expect(JSON.parse(frames[3] ?? "{}")).toEqual({ error: { message: "Internal server error", type: "InternalServerError", param: null, code: 500 } });
    // No usage arrived: the prompt estimate plus one token per chunk relayed (the role chunk and two words; the
    // error frame is none), settled before the stream's end reached the client.
    expect(await tokenWindow(key)).toMatchObject({ current_usage: HI_ESTIMATE + 3, reserved: 0 });
    const logs = async () => ((await (await admin("GET", "/api/logs?virtual_key=error-frame")).json()) as { logs: Record<string, unknown>[] }).logs;
    const [row] = await eventually(logs, (rows) => rows.length > 0);
    expect(row).toMatchObject({ request_id: requestId, stream: true, status: 200, error_code: "500", prompt_tokens: HI_ESTIMATE, completion_tokens: 3 });
    // Metrics are written with the row: an error, not a success.
    const metrics = await (await admin("GET", "/metrics")).text();
    const labels = 'provider="vllm",model="vllm/mid-stream-error",virtual_key="error-frame"';
    expect(metrics).toContain(`bifrost_error_requests_total{${labels},status_code="stream_error"} 1`);
    expect(metrics).not.toContain(`bifrost_success_requests_total{${labels}}`);
  });
});
