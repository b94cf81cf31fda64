/**
 * network_config.stream_for_json: a JSON chat or text completion is asked of a self-hosted origin as a stream and
 * the answer assembled from it. Each case sends the same request with the setting on and off and compares the
 * client's answers field by field (ids and timestamps aside, which the fake or the converters make afresh), and
 * checks what the origin received.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { streamedJsonFor } from "../../src/convert/assembly";
import { ChatAssembler } from "../../src/convert/chat-assembly";
import { EventSplitter } from "../../src/upstream/assembled-json";
import { LLAMA, admin, configure, errorOf, eventually, origin, postJson, received } from "./helpers";

type Json = Record<string, unknown>;

const HI = [{ role: "user", content: "hi" }];
const TOOLS = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];

function vllm(network: Json | undefined, extra: Json = {}) {
  return { keys: [{ name: "gpu", models: ["*"], vllm_key_config: { url: origin("assembly") } }], ...(network ? { network_config: network } : {}), ...extra };
}

/** The provider as the setting says: true, false, or left out (the default). */
function setting(on: boolean | undefined) {
  return configure({ vllm: vllm(on === undefined ? undefined : { stream_for_json: on }) });
}

/** The answer without what is made afresh per request. */
function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !["id", "created", "created_at"].includes(key)).map(([key, item]) => [key, stable(item)]));
}

interface Sent {
  status: number;
  contentType: string | null;
  answer: Json;
  /** The body the origin received. */
  origin: Json;
  requestId: string;
}

async function send(path: string, body: Json, on: boolean | undefined, headers: Record<string, string> = {}): Promise<Sent> {
  await setting(on);
  const requestId = crypto.randomUUID();
  const response = await postJson(path, body, { "x-request-id": requestId, ...headers });
  const answer = (await response.json()) as Json;
  const [first] = await received(requestId);
  return { status: response.status, contentType: response.headers.get("content-type"), answer, origin: JSON.parse(first?.body ?? "{}") as Json, requestId };
}

/** Sends `body` with the setting on and off; the origin streamed only when on, and the client saw no difference. */
async function compare(path: string, body: Json, headers: Record<string, string> = {}): Promise<Json> {
  const on = await send(path, body, true, headers);
  const off = await send(path, body, false, headers);
  expect(on.origin).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  expect(off.origin.stream).not.toBe(true);
  expect(off.origin.stream_options).toBeUndefined();
  expect(on.status, JSON.stringify(on.answer)).toBe(200);
  expect(off.status).toBe(200);
  expect(on.contentType).toMatch(/^application\/json/);
  expect(stable(on.answer)).toEqual(stable(off.answer));
  return on.answer;
}

beforeEach(() => setting(undefined));

describe("chat completions assembled from the origin's stream", () => {
  it("are the origin's own JSON answer: plain content", async () => {
    const answer = await compare("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: HI });
    expect(answer).toMatchObject({ object: "chat.completion", model: `vllm/${LLAMA}`, choices: [{ message: { role: "assistant", content: "You said: hi" }, finish_reason: "stop" }] });
  });

  it("carry tool calls, with content null beside them", async () => {
    const answer = await compare("/v1/chat/completions", { model: "vllm/tool-call", messages: HI, tools: TOOLS });
    expect(answer).toMatchObject({ choices: [{ message: { content: null, tool_calls: [{ id: "chatcmpl-tool-1", function: { name: "get_weather", arguments: '{"city":"Paris","unit":"celsius"}' } }] }, finish_reason: "tool_calls" }] });
  });

  it("keep reasoning under the name the origin used", async () => {
    const current = await compare("/v1/chat/completions", { model: "vllm/thinker", messages: HI });
    expect((current.choices as Json[])[0]?.message).toMatchObject({ reasoning: "The user greets me. ", content: "Hello there!" });
    const legacy = await compare("/v1/chat/completions", { model: "vllm/think-legacy", messages: HI });
    expect((legacy.choices as Json[])[0]?.message).toMatchObject({ reasoning_content: "The user greets me. " });
    expect((legacy.choices as Json[])[0]?.message).not.toHaveProperty("reasoning");
    const both = await compare("/v1/chat/completions", { model: "vllm/think-both", messages: HI });
    expect((both.choices as Json[])[0]?.message).toMatchObject({ reasoning: "The user greets me. ", reasoning_content: "The user greets me. " });
  });

  it("carry logprobs, n choices with their own finish and stop reasons, and the usage", async () => {
    const answer = await compare("/v1/chat/completions", { model: "vllm/sampler", messages: HI, n: 3, max_tokens: 6, logprobs: true, top_logprobs: 2 });
    const choices = answer.choices as Json[];
    expect(choices.map((choice) => [choice.index, choice.finish_reason, choice.stop_reason])).toEqual([
      [0, "stop", null],
      [1, "stop", 128009],
      [2, "length", null],
    ]);
    expect(((choices[2]?.logprobs as Json).content as Json[]).map((entry) => entry.token)).toEqual(["Choice", " 2", " says:", " hi", " 🙂", " again"]);
    expect(answer.usage).toEqual({ prompt_tokens: 8, total_tokens: 8 + 5 + 6 + 6, completion_tokens: 17 });
  });
});

describe("an assembled answer's headers", () => {
  it("pass on vLLM's load report, as a JSON answer's do", async () => {
    for (const on of [true, false]) {
      await configure({ vllm: { keys: [{ name: "gpu", models: ["*"], vllm_key_config: { url: origin("orca") } }], network_config: { stream_for_json: on } } });
      const response = await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: HI });
      expect(response.status).toBe(200);
      expect(response.headers.get("endpoint-load-metrics")).toBe("TEXT named_metrics.kv_cache_usage_perc=0.42");
      await response.text();
    }
  });
});

describe("text completions assembled from the origin's stream", () => {
  it("are the origin's own JSON answer", async () => {
    const answer = await compare("/v1/completions", { model: `vllm/${LLAMA}`, prompt: "hi" });
    expect(answer).toMatchObject({ object: "text_completion", choices: [{ text: " You said: nothing", finish_reason: "stop" }] });
  });

  it("carry logprobs with the JSON answer's text offsets, for every prompt's n choices", async () => {
    const answer = await compare("/v1/completions", { model: "vllm/sampler", prompt: ["hi", "yo"], n: 2, max_tokens: 6, logprobs: 1 });
    const choices = answer.choices as Json[];
    expect(choices.map((choice) => choice.text)).toEqual([" Choice 0 says: hi 🙂", " Choice 1 says: hi 🙂 again", " Choice 0 says: yo 🙂", " Choice 1 says: yo 🙂 again"]);
    // Offsets count code points, as Python does: the emoji is one.
    expect((choices[1]?.logprobs as Json).text_offset).toEqual([0, 7, 9, 15, 18, 20]);
  });
});

describe("requests a stream cannot answer", () => {
  it("go to the origin as they came", async () => {
    const chat = await send("/v1/chat/completions", { model: "vllm/sampler", messages: HI, prompt_logprobs: 1 }, true);
    expect(chat.status, JSON.stringify(chat.answer)).toBe(200);
    expect(chat.origin.stream).toBeUndefined();
    expect(chat.answer.prompt_logprobs).toHaveLength(2);
    for (const extra of [{ echo: true }, { return_token_ids: true }, { kv_transfer_params: { do_remote_decode: true } }, { logprobs: true, tools: TOOLS }]) {
      const sent = await send("/v1/chat/completions", { model: "vllm/sampler", messages: HI, ...extra }, true);
      expect(sent.origin.stream, JSON.stringify(extra)).toBeUndefined();
    }
    for (const extra of [{ echo: true }, { prompt_logprobs: 0 }, { best_of: 2 }]) {
      const sent = await send("/v1/completions", { model: "vllm/sampler", prompt: "hi", ...extra }, true);
      expect(sent.origin.stream, JSON.stringify(extra)).toBeUndefined();
    }
    // The client's own stream_options without stream: vLLM's 400, as it would be without the gateway.
    const refused = await send("/v1/chat/completions", { model: "vllm/sampler", messages: HI, stream_options: { include_usage: true } }, true);
    expect(refused.status).toBe(400);
    expect(refused.origin.stream).toBeUndefined();
  });
});

describe("a stream that fails", () => {
  it("becomes the HTTP error the JSON request would have met, never a 200 with part of an answer", async () => {
    // The fake's JSON answer for this model succeeds; a real engine failing there answers as "server-error" does.
    const failed = await send("/v1/chat/completions", { model: "vllm/mid-stream-error", messages: HI }, true);
    const direct = await send("/v1/chat/completions", { model: "vllm/server-error", messages: HI }, false);
    expect(failed.origin.stream).toBe(true);
    expect(failed.status).toBe(500);
    expect(failed.answer).toEqual(direct.answer);
    const text = await send("/v1/completions", { model: "vllm/mid-stream-error", prompt: "hi" }, true);
    expect(text.status).toBe(500);
    // Ended without [DONE], or the connection dropped: a 502, as a JSON body cut short would be.
    await setting(true);
    const early = await postJson("/v1/chat/completions", { model: "vllm/early-end", messages: HI });
    expect(early.status).toBe(502);
    expect(await errorOf(early)).toMatchObject({ code: "stream_truncated" });
    const cut = await postJson("/v1/chat/completions", { model: "vllm/cut-stream", messages: HI });
    expect(cut.status).toBe(502);
    expect(await errorOf(cut)).toMatchObject({ code: "upstream_unreachable" });
  });
});

describe("an origin that answers JSON although asked for a stream", () => {
  it("is relayed as it answered", async () => {
    // It receives stream: true and answers JSON: the client gets that JSON.
    const answer = await compare("/v1/chat/completions", { model: "vllm/sampler-json", messages: HI, n: 2 });
    expect(answer.choices).toHaveLength(2);
  });
});

describe("translated APIs", () => {
  it("answer the Responses API from the assembled chat completion", async () => {
    const answer = await compare("/v1/responses", { model: "vllm/thinker", input: "hi" });
    expect(answer).toMatchObject({ object: "response", status: "completed", output: [{ type: "reasoning" }, { type: "message" }] });
  });

  it("answer the Messages API from the assembled chat completion", async () => {
    const answer = await compare("/anthropic/v1/messages", { model: "vllm/tool-call", max_tokens: 100, messages: HI, tools: [{ name: "get_weather", input_schema: { type: "object" } }] });
    expect(answer).toMatchObject({ type: "message", stop_reason: "tool_use", content: [{ type: "tool_use", name: "get_weather", input: { city: "Paris" } }] });
  });
});

describe("usage and charges", () => {
  it("are logged as for the JSON answer", async () => {
    const added = await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider: "vllm", match_type: "exact", pattern: "sampler", input_price_per_million: 3, output_price_per_million: 7 });
    expect(added.status).toBe(200);
    const body = { model: "vllm/sampler", messages: HI, n: 2 };
    const on = await send("/v1/chat/completions", body, true);
    const off = await send("/v1/chat/completions", body, false);
    expect(on.origin.stream).toBe(true);
    const row = async (requestId: string) => {
      const logs = await eventually(async () => ((await (await admin("GET", `/api/logs?request_id=${requestId}`)).json()) as { logs: Json[] }).logs, (rows) => rows.length > 0);
      const found = logs[0] ?? {};
      return { status: found.status, stream: found.stream, prompt_tokens: found.prompt_tokens, completion_tokens: found.completion_tokens, cost: found.cost as number };
    };
    const logged = await row(on.requestId);
    expect(logged).toEqual(await row(off.requestId));
    expect(logged).toMatchObject({ status: 200, stream: false, prompt_tokens: 8, completion_tokens: 11 });
    expect(logged.cost).toBeCloseTo((8 * 3 + 11 * 7) / 1e6, 12);
  });
});

describe("the setting", () => {
  it("is on by default for self-hosted providers, off for hosted APIs, and needs a custom provider to allow streams", async () => {
    const viaDefault = await send("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: HI }, undefined);
    expect(viaDefault.origin.stream).toBe(true);
    await configure({
      openai: { network_config: { base_url: origin("assembly") }, keys: [{ name: "oa", value: "sk-test", models: ["*"] }] },
      "json-only": { network_config: { base_url: origin("assembly") }, custom_provider_config: { base_provider_type: "openai", is_key_less: true, allowed_requests: { chat_completion: true } } },
      "any-custom": { network_config: { base_url: origin("assembly") }, custom_provider_config: { base_provider_type: "openai", is_key_less: true } },
    });
    const cases: [string, boolean | undefined][] = [
      ["openai", undefined],
      ["json-only", undefined],
      ["any-custom", true],
    ];
    for (const [provider, streamed] of cases) {
      const requestId = crypto.randomUUID();
      const response = await postJson("/v1/chat/completions", { model: `${provider}/${LLAMA}`, messages: HI }, { "x-request-id": requestId });
      expect(response.status, provider).toBe(200);
      const [first] = await received(requestId);
      expect((JSON.parse(first?.body ?? "{}") as Json).stream, provider).toBe(streamed);
    }
  });

  it("is a boolean", async () => {
    await setting(false);
    const response = await admin("POST", "/api/config/import?replace=true", { providers: { vllm: vllm({ stream_for_json: "yes" }) } });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("stream_for_json");
  });
});

describe("the pieces", () => {
  it("cut events wherever the reads end, CRLF split between reads included", () => {
    const text = 'data: {"a":1}\r\n\r\n: keep-alive\r\n\r\ndata: {"b":\r\ndata: 2}\r\n\r\ndata: [DONE]';
    const splitter = new EventSplitter();
    const events: string[] = [];
    for (const char of text) events.push(...splitter.push(char, false));
    events.push(...splitter.push("", true));
    expect(events).toEqual(['data: {"a":1}', ": keep-alive", 'data: {"b":\ndata: 2}', "data: [DONE]"]);
  });

  it("assemble forced tool calls as vLLM answers them: content \"\", calls in index order without gaps", () => {
    const assembler = new ChatAssembler(streamedJsonFor({ tools: [{}], tool_choice: "required" }, "chat")?.forcedToolChoice ?? false);
    const chunk = (index: number, delta: Json, finish: string | null = null) => assembler.add({ id: "c", created: 1, model: "m", choices: [{ index, delta, finish_reason: finish }] });
    chunk(1, { role: "assistant", content: "" });
    // vLLM numbers a named tool choice's call by the choice's index.
    chunk(1, { tool_calls: [{ index: 1, id: "call-b", type: "function", function: { name: "f", arguments: '{"x"' } }] });
    chunk(1, { tool_calls: [{ index: 1, function: { arguments: ":1}" } }] }, "tool_calls");
    assembler.add({ id: "c", created: 1, model: "m", choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });
    expect(assembler.answer()).toEqual({
      id: "c",
      object: "chat.completion",
      created: 1,
      model: "m",
      choices: [
        {
          index: 1,
          message: { role: "assistant", content: "", reasoning: null, tool_calls: [{ id: "call-b", type: "function", function: { name: "f", arguments: '{"x":1}' } }] },
          logprobs: null,
          finish_reason: "tool_calls",
          stop_reason: null,
        },
      ],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    });
  });
});
