import { beforeAll, describe, expect, it } from "vitest";
import { LLAMA, configure, errorOf, gateway, postJson, received, sseData, vllmProvider } from "./helpers";

beforeAll(async () => {
  await configure({ vllm: vllmProvider() });
});

describe("chat completions", () => {
  it("answers a non-streaming chat with the client's model name", async () => {
    const response = await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "Hello" }] }, { "x-request-id": "chat-basic" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { model: string; choices: { message: { content: string } }[]; usage: { total_tokens: number } };
    expect(body.model).toBe(`vllm/${LLAMA}`);
    expect(body.choices[0]?.message.content).toBe("You said: Hello");
    expect(body.usage.total_tokens).toBeGreaterThan(0);
    const [seen] = await received("chat-basic");
    expect(seen?.path).toBe("/v1/chat/completions");
    expect(JSON.parse(seen?.body ?? "{}").model).toBe(LLAMA);
  });

  it("streams chunks and ends with [DONE]", async () => {
    const response = await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, stream: true, messages: [{ role: "user", content: "Hi there" }] });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const frames = sseData(await response.text());
    expect(frames.at(-1)).toBe("[DONE]");
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f) as { model: string; choices: unknown[] });
    expect(chunks.every((c) => c.model === `vllm/${LLAMA}`)).toBe(true);
    // The usage chunk the gateway asked for is not shown to a client that did not ask.
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true);
  });
});

describe("chat pass-through and upstream auth", () => {
  it("forwards fields it does not own untouched and never forwards client credentials", async () => {
    const extras = {
      top_k: 20,
      min_p: 0.05,
      repetition_penalty: 1.1,
      chat_template_kwargs: { enable_thinking: false },
      structured_outputs: { choice: ["yes", "no"] },
      vllm_xargs: { custom: [1, 2] },
      a_field_from_the_future: { nested: true },
    };
    const response = await postJson(
      "/v1/chat/completions",
      { model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "x" }], ...extras },
      { "x-request-id": "chat-passthrough", authorization: "Bearer client-secret", cookie: "session=abc" },
    );
    expect(response.status).toBe(200);
    const [seen] = await received("chat-passthrough");
    expect(JSON.parse(seen?.body ?? "{}")).toMatchObject(extras);
    expect(seen?.headers.authorization).toBeUndefined();
    expect(seen?.headers.cookie).toBeUndefined();
    expect(seen?.headers["content-type"]).toBe("application/json");
  });

  it("keeps the client's own stream_options and shows the usage chunk it asked for", async () => {
    const response = await postJson("/v1/chat/completions", {
      model: `vllm/${LLAMA}`,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "count" }],
    });
    const frames = sseData(await response.text());
    const usageChunk = JSON.parse(frames.at(-2) ?? "{}") as { choices: unknown[]; usage: { completion_tokens: number } };
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage.completion_tokens).toBeGreaterThan(0);
  });
});

describe("chat errors", () => {
  it("rejects malformed JSON, wrong types, a missing model and non-object bodies with 400", async () => {
    const cases: [BodyInit, string][] = [
      ["{not json", "invalid_json"],
      ["[1,2]", "invalid_json"],
      ["", "invalid_json"],
      [JSON.stringify({ messages: [] }), "invalid_request"],
      [JSON.stringify({ model: 42, messages: [] }), "invalid_request"],
      [JSON.stringify({ model: `vllm/${LLAMA}`, stream: "yes" }), "invalid_request"],
    ];
    for (const [body, code] of cases) {
      const response = await fetchRaw("/v1/chat/completions", body);
      expect(response.status, String(body)).toBe(400);
      expect((await errorOf(response)).code).toBe(code);
    }
  });

  it("refuses bodies over the size limit with 413", async () => {
    const huge = JSON.stringify({ model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "x".repeat(33 * 1024 * 1024) }] });
    const response = await fetchRaw("/v1/chat/completions", huge);
    expect(response.status).toBe(413);
    expect((await errorOf(response)).code).toBe("request_too_large");
  });

  it("names what is available for an unknown provider or model", async () => {
    let response = await postJson("/v1/chat/completions", { model: "ollama/mistral", messages: [] });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toContain("configured providers: vllm");
    response = await postJson("/v1/chat/completions", { model: "no-such-model", messages: [] });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toContain("provider is required");
  });

  it("maps vLLM's nested 404 for an unknown served model to 404 model_not_found", async () => {
    const response = await postJson("/v1/chat/completions", { model: "vllm/not-served", messages: [] });
    expect(response.status).toBe(404);
    const error = await errorOf(response);
    expect(error.code).toBe("model_not_found");
    expect(error.param).toBe("model");
    // vLLM's pooling routes send the same message with no param.
    const embedding = await postJson("/v1/embeddings", { model: "vllm/not-served", input: "x" });
    expect(embedding.status).toBe(404);
    expect(await errorOf(embedding)).toMatchObject({ code: "model_not_found", param: null, message: "The model `not-served` does not exist." });
  });

  it("says an empty model is empty, with or without a default provider", async () => {
    for (const path of ["/v1/chat/completions", "/vllm/v1/chat/completions"]) {
      const response = await postJson(path, { model: " ", messages: [] });
      expect(response.status, path).toBe(400);
      expect(await errorOf(response), path).toMatchObject({ code: "invalid_model", message: "model must not be empty" });
    }
  });

  it("maps the flat error shape and context-length errors by status and param", async () => {
    let response = await postJson("/v1/chat/completions", { model: "vllm/flat-error", messages: [] });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ message: "temperature must be non-negative", param: "temperature" });
    response = await postJson("/v1/chat/completions", { model: "vllm/context-too-long", messages: [] });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe("context_length_exceeded");
  });

  it("turns an HTTP 200 body carrying an error into an error with the embedded status", async () => {
    const response = await postJson("/v1/chat/completions", { model: "vllm/error-200", messages: [] });
    expect(response.status).toBe(503);
    expect((await errorOf(response)).message).toBe("engine overloaded");
  });

  it("passes origin 500s through in the OpenAI shape", async () => {
    const response = await postJson("/v1/chat/completions", { model: "vllm/server-error", messages: [] });
    expect(response.status).toBe(500);
    expect((await errorOf(response)).type).toBe("InternalServerError");
  });
});

function fetchRaw(path: string, body: BodyInit): Promise<Response> {
  return gateway(path, { method: "POST", headers: { "content-type": "application/json" }, body });
}
