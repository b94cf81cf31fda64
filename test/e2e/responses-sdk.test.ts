/** The official openai SDK's Responses API, unmodified, against the gateway translating to chat completions. */
import OpenAI, { BadRequestError, NotFoundError } from "openai";
import { describe, expect, inject, it } from "vitest";

const gatewayUrl = inject("gatewayUrl");
const client = new OpenAI({ baseURL: `${gatewayUrl}/v1`, apiKey: "unused-locally", maxRetries: 0 });
const LLAMA = "vllm/meta-llama/Llama-3.2-1B-Instruct";
const weatherTool = {
  type: "function" as const,
  name: "get_weather",
  description: "Current weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" }, unit: { type: "string" } }, required: ["city"] },
  strict: false,
};

describe("openai responses", () => {
  it("creates a response from a string input, with instructions", async () => {
    const response = await client.responses.create({ model: LLAMA, input: "Hello", instructions: "Be brief.", max_output_tokens: 1024 });
    expect(response.status).toBe("completed");
    expect(response.output_text).toBe("You said: Hello");
    expect(response.model).toBe(LLAMA);
    expect(response.usage?.output_tokens).toBeGreaterThan(0);
  });

  it("creates a function call with id and call_id, and takes its output back", async () => {
    const first = await client.responses.create({ model: "vllm/tool-call", input: "Weather in Paris?", tools: [weatherTool] });
    const call = first.output.find((item) => item.type === "function_call");
    expect(call).toMatchObject({ type: "function_call", name: "get_weather", call_id: "chatcmpl-tool-1" });
    expect(call?.id).toMatch(/^fc_/);
    const second = await client.responses.create({
      model: LLAMA,
      input: [{ role: "user", content: "Weather in Paris?" }, call as OpenAI.Responses.ResponseFunctionToolCall, { type: "function_call_output", call_id: "chatcmpl-tool-1", output: "18C and sunny" }],
      tools: [weatherTool],
    });
    expect(second.output_text).toBe("You said: 18C and sunny");
  });

  it("marks a length cut-off incomplete", async () => {
    const response = await client.responses.create({ model: "vllm/cut-short", input: "Tell me everything", max_output_tokens: 5 });
    expect(response.status).toBe("incomplete");
    expect(response.incomplete_details?.reason).toBe("max_output_tokens");
  });

  it("streams text through responses.stream() and resolves the final response", async () => {
    const stream = client.responses.stream({ model: "vllm/thinker", input: "Hi" });
    let text = "";
    stream.on("response.output_text.delta", (event) => (text += event.delta));
    const final = await stream.finalResponse();
    expect(text).toBe("Hello there!");
    expect(final.status).toBe("completed");
    expect(final.output_text).toBe("Hello there!");
    expect(final.output.map((item) => item.type)).toEqual(["reasoning", "message"]);
    expect(final.usage?.total_tokens).toBe(19);
  });

  it("streams a response the origin answered as whole JSON", async () => {
    const stream = client.responses.stream({ model: "vllm/json-anyway", input: "stream please" });
    let text = "";
    stream.on("response.output_text.delta", (event) => (text += event.delta));
    const final = await stream.finalResponse();
    expect(text).toBe("You said: stream please");
    expect([final.status, final.output_text, final.usage?.total_tokens]).toEqual(["completed", "You said: stream please", 15]);
  });

  it("streams a function call through responses.stream()", async () => {
    const stream = client.responses.stream({ model: "vllm/tool-call", input: "Weather?", tools: [weatherTool] });
    const final = await stream.finalResponse();
    const call = final.output.find((item) => item.type === "function_call");
    expect(call).toMatchObject({ name: "get_weather", call_id: "chatcmpl-tool-1", arguments: JSON.stringify({ city: "Paris", unit: "celsius" }) });
  });

  it("ends a stream whose origin fails mid-way as a failed response", async () => {
    const stream = client.responses.stream({ model: "vllm/mid-stream-error", input: "a b c d" });
    const final = await stream.finalResponse();
    expect(final.status).toBe("failed");
    expect(final.error?.code).toBe("server_error");
  });

  it("keeps responses: continues with previous_response_id, retrieves, lists input items and deletes", async () => {
    const first = await client.responses.create({ model: LLAMA, input: "first turn" });
    const second = await client.responses.create({ model: LLAMA, input: "second turn", previous_response_id: first.id });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text).toBe("You said: second turn");
    const retrieved = await client.responses.retrieve(second.id);
    expect(retrieved.id).toBe(second.id);
    expect(retrieved.output_text).toBe("You said: second turn");
    const items = await client.responses.inputItems.list(second.id, { order: "asc" });
    expect(items.data.map((item) => (item.type === "message" ? item.role : item.type))).toEqual(["user", "assistant", "user"]);
    await client.responses.delete(second.id);
    await expect(client.responses.retrieve(second.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("raises the SDK's error classes", async () => {
    await expect(client.responses.create({ model: "vllm/not-served", input: "x" })).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.responses.create({ model: LLAMA, input: "x", previous_response_id: "resp_123" })).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.responses.create({ model: LLAMA, input: "x", tools: [{ type: "web_search" }] })).rejects.toBeInstanceOf(BadRequestError);
  });
});
