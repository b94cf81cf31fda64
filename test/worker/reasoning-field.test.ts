/**
 * Reasoning in either spelling through the gateway, against a fake vLLM of each generation (test/support/
 * fake-reasoning.ts): chat relayed byte for byte unless a provider (`reasoning_field`) or a request
 * (`x-bf-reasoning-field`) names the field, the Responses and Messages answers the same whichever spelling the
 * origin used, and cut streams charged alike.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { REASONING_TEXT, TRAP_EXTRA, TRAP_TEXT } from "../support/fake-reasoning";
import { admin, configure, errorOf, eventually, origin, postJson, sseData } from "./helpers";

const HEADER = "x-bf-reasoning-field";
/**
 * A JSON chat request reaches the origin as JSON only with stream_for_json off (by default it is streamed and
 * assembled): `vllm`, `modern` and `legacy` relay JSON, `sgl` and `modern-assembled` assemble it.
 */
const relayedJson = { stream_for_json: false };
const custom = (reasoningField: string, network: Record<string, unknown> = relayedJson) => ({
  keys: [{ name: "k", value: "" }],
  network_config: { base_url: origin("default"), ...network },
  custom_provider_config: { base_provider_type: "openai" },
  reasoning_field: reasoningField,
});

beforeAll(async () => {
  await configure({
    vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }], network_config: relayedJson },
    sgl: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] },
    modern: custom("reasoning"),
    legacy: custom("reasoning_content"),
    "modern-assembled": custom("reasoning", {}),
  });
});

type Message = Record<string, unknown>;

function chatBody(model: string, stream: boolean, includeUsage = true) {
  return { model, stream, ...(stream && includeUsage ? { stream_options: { include_usage: true } } : {}), messages: [{ role: "user", content: "hi" }] };
}

function chat(model: string, stream: boolean, headers: Record<string, string> = {}, includeUsage = true): Promise<Response> {
  return postJson("/v1/chat/completions", chatBody(model, stream, includeUsage), headers);
}

/** What the origin itself answers for the same request: the bytes a pass-through must reproduce, model name aside. */
async function originText(model: string, stream: boolean, publicModel = model): Promise<string> {
  const response = await fetch(`${origin("default")}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chatBody(model, stream)) });
  return (await response.text()).replaceAll(`"model":"${model}"`, `"model":"${publicModel}"`);
}

/** The JSON answer's message, or the stream's deltas merged: each member's text joined, and every member name seen. */
async function reasoningView(response: Response, stream: boolean): Promise<{ names: Set<string>; message: Message; top: Message }> {
  expect(response.status, await response.clone().text()).toBe(200);
  if (!stream) {
    const body = (await response.json()) as { choices: { message: Message }[] } & Message;
    const message = body.choices[0]?.message ?? {};
    return { names: new Set(Object.keys(message)), message, top: body };
  }
  const names = new Set<string>();
  const message: Message = {};
  let top: Message = {};
  for (const data of sseData(await response.text())) {
    if (data === "[DONE]") continue;
    const chunk = JSON.parse(data) as { choices: { delta: Message }[] } & Message;
    top = chunk;
    for (const [name, value] of Object.entries(chunk.choices[0]?.delta ?? {})) {
      names.add(name);
      if (typeof value === "string") message[name] = `${typeof message[name] === "string" ? message[name] : ""}${value}`;
    }
  }
  return { names, message, top };
}

describe("chat: the origin's spelling passes through untouched by default", () => {
  for (const model of ["think-new", "think-legacy", "think-both", "think-trap-new", "think-trap-legacy"]) {
    for (const stream of [false, true]) {
      it(`relays ${model} ${stream ? "streamed" : "as JSON"} byte for byte`, async () => {
        const response = await chat(`vllm/${model}`, stream);
        expect(await response.text()).toBe(await originText(model, stream, `vllm/${model}`));
      });
    }
  }

  it("relays byte for byte when the request asks for passthrough over a provider that renames", async () => {
    for (const stream of [false, true]) {
      const response = await chat("modern/think-legacy", stream, { [HEADER]: "passthrough" });
      expect(await response.text()).toBe(await originText("think-legacy", stream, "modern/think-legacy"));
    }
  });
});

describe("chat: a provider or a request names the field", () => {
  const cases: { how: string; provider: string; headers: Record<string, string>; to: string; from: string }[] = [
    { how: "provider reasoning_field", provider: "modern", headers: {}, to: "reasoning", from: "reasoning_content" },
    { how: "provider reasoning_field", provider: "legacy", headers: {}, to: "reasoning_content", from: "reasoning" },
    { how: "provider reasoning_field, JSON assembled", provider: "modern-assembled", headers: {}, to: "reasoning", from: "reasoning_content" },
    { how: `${HEADER} header`, provider: "vllm", headers: { [HEADER]: "reasoning" }, to: "reasoning", from: "reasoning_content" },
    { how: `${HEADER} header`, provider: "vllm", headers: { [HEADER]: "reasoning_content" }, to: "reasoning_content", from: "reasoning" },
    { how: `${HEADER} header, JSON assembled`, provider: "sgl", headers: { [HEADER]: "reasoning_content" }, to: "reasoning_content", from: "reasoning" },
    { how: `${HEADER} header over the provider's`, provider: "modern", headers: { [HEADER]: "reasoning_content" }, to: "reasoning_content", from: "reasoning" },
  ];
  for (const { how, provider, headers, to, from } of cases) {
    for (const stream of [false, true]) {
      it(`${how}: ${to}, ${stream ? "streamed" : "JSON"}, from every origin spelling`, async () => {
        for (const origin of ["think-new", "think-legacy", "think-both"]) {
          const { names, message } = await reasoningView(await chat(`${provider}/${origin}`, stream, headers), stream);
          expect(names.has(from), `${origin} still carries ${from}`).toBe(false);
          expect(message[to], origin).toBe(REASONING_TEXT);
          expect(message.content, origin).toBe("Hello there!");
        }
      });
    }
  }

  it("never touches text that spells a field's name, nor members outside the message", async () => {
    for (const [model, headers] of [
      ["vllm/think-trap-legacy", { [HEADER]: "reasoning" }],
      ["vllm/think-trap-new", { [HEADER]: "reasoning_content" }],
      ["sgl/think-trap-legacy", { [HEADER]: "reasoning" }],
      ["modern/think-trap-legacy", {}],
      ["legacy/think-trap-new", {}],
      ["modern-assembled/think-trap-legacy", {}],
    ] as const) {
      for (const stream of [false, true]) {
        const { message, top } = await reasoningView(await chat(model, stream, headers), stream);
        expect(message.content, model).toBe(TRAP_TEXT);
        // An assembled JSON answer is built from the deltas: the origin's extra top-level members are not in it.
        if (stream || !/^(sgl|modern-assembled)\//.test(model)) expect(top.extra, model).toEqual(TRAP_EXTRA);
        expect(Object.values(message)).toContain(REASONING_TEXT);
      }
    }
  });

  it("keeps the chat stream's own behaviour under the header: usage chunk, model name, error frames", async () => {
    const withUsage = sseData(await (await chat("vllm/think-legacy", true, { [HEADER]: "reasoning" })).text());
    const withoutUsage = sseData(await (await chat("vllm/think-legacy", true, { [HEADER]: "reasoning" }, false)).text());
    expect(withUsage.length - withoutUsage.length).toBe(1);
    expect(withUsage.at(-2)).toContain('"choices":[],"usage"');
    expect(withoutUsage.at(-1)).toBe("[DONE]");
    expect(new Set(withoutUsage.slice(0, -1).map((data) => (JSON.parse(data) as Message).model))).toEqual(new Set(["vllm/think-legacy"]));

    const broken = sseData(await (await postJson("/v1/chat/completions", { model: "vllm/mid-stream-error", stream: true, messages: [] }, { [HEADER]: "reasoning" })).text());
    expect(broken.map((data) => (data === "[DONE]" ? {} : (JSON.parse(data) as { error?: unknown }))).find((data) => data.error)).toEqual({
      error: { message: "Internal server error", type: "InternalServerError", param: null, code: 500 },
    });
    const refused = await postJson("/v1/chat/completions", { model: "vllm/first-frame-error", stream: true, messages: [] }, { [HEADER]: "reasoning" });
    expect(refused.status).toBe(400);
  });

  it("refuses an unknown header value, and a provider setting outside the choices", async () => {
    const response = await chat("vllm/think-new", false, { [HEADER]: "thoughts" });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: "invalid_header", param: HEADER });
    const refused = await admin("POST", "/api/providers", { provider: "bad-field", ...custom("thinking") });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("reasoning_field");
  });
});

/** Ids and clocks apart (and the model's name), two answers must be the same. */
function normalised(text: string): string {
  return text
    .replace(/\b(resp|rs|msg|fc|toolu)_[0-9a-f]{32}\b/g, "$1_ID")
    .replace(/"created_at":\d+/g, '"created_at":0')
    .replace(/\b(vllm|sgl|modern|legacy|modern-assembled)\/think-(new|legacy|both)\b/g, "provider/think-X");
}

describe("Responses and Messages: the same answer whichever spelling the origin used", () => {
  const requests = {
    responses: (model: string, stream: boolean) => postJson("/v1/responses", { model, stream, input: "hi" }),
    messages: (model: string, stream: boolean) => postJson("/anthropic/v1/messages", { model, stream, max_tokens: 64, messages: [{ role: "user", content: "hi" }] }),
  };
  for (const [api, send] of Object.entries(requests)) {
    for (const stream of [false, true]) {
      it(`${api}, ${stream ? "streamed" : "JSON"}`, async () => {
        const answers: string[] = [];
        for (const model of ["vllm/think-new", "vllm/think-legacy", "vllm/think-both", "sgl/think-legacy", "sgl/think-both", "modern/think-legacy", "legacy/think-new", "modern-assembled/think-new"]) {
          const response = await send(model, stream);
          expect(response.status).toBe(200);
          answers.push(normalised(await response.text()));
        }
        for (const answer of answers.slice(1)) expect(answer).toBe(answers[0]);
        expect(answers[0]).toContain("greets");
        expect(answers[0]?.split(stream ? (api === "responses" ? "event: response.reasoning_text.delta" : '"thinking_delta"') : REASONING_TEXT).length).toBe(stream ? 6 : 2);
      });
    }
  }
});

describe("usage", () => {
  it("charges a stream cut short the same, whichever spelling and whether renamed", async () => {
    const runs = [
      ["vllm/think-new-cut", {}],
      ["vllm/think-legacy-cut", {}],
      ["vllm/think-legacy-cut", { [HEADER]: "reasoning" }],
      ["legacy/think-new-cut", {}],
    ] as const;
    const ids: string[] = [];
    for (const [model, headers] of runs) {
      const id = crypto.randomUUID();
      ids.push(id);
      const frames = sseData(await (await postJson("/v1/chat/completions", chatBody(model, true), { ...headers, "x-request-id": id })).text());
      expect(frames.at(-1)).toContain("stream_");
    }
    const tokens = await Promise.all(
      ids.map(async (id) => {
        const rows = await eventually(
          async () => ((await (await admin("GET", `/api/logs?request_id=${id}`)).json()) as { logs: { completion_tokens: number }[] }).logs,
          (logs) => logs.length === 1,
          5000,
        );
        return Number(rows[0]?.completion_tokens);
      }),
    );
    // One token per chunk generated: the role chunk and the reasoning's five.
    expect(tokens).toEqual([6, 6, 6, 6]);
  });
});

it("the fake vLLM speaks each generation's spelling", async () => {
  const bodies = await Promise.all(["think-new", "think-legacy", "think-both"].map((model) => originText(model, false)));
  expect(bodies.map((body) => Object.keys((JSON.parse(body) as { choices: { message: Message }[] }).choices[0]?.message ?? {}).filter((k) => k.startsWith("reasoning")))).toEqual([
    ["reasoning"],
    ["reasoning_content"],
    ["reasoning", "reasoning_content"],
  ]);
});
