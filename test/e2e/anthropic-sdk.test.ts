/** The official @anthropic-ai/sdk, unmodified, against the gateway's Messages API on a vLLM chat model. */
import Anthropic, { APIError, NotFoundError } from "@anthropic-ai/sdk";
import { describe, expect, inject, it } from "vitest";

const gatewayUrl = inject("gatewayUrl");
const client = new Anthropic({ baseURL: `${gatewayUrl}/anthropic`, apiKey: "unused-locally", maxRetries: 0 });
const LLAMA = "vllm/meta-llama/Llama-3.2-1B-Instruct";
const weatherTool = {
  name: "get_weather",
  description: "Current weather for a city",
  input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] },
};

describe("anthropic messages", () => {
  it("creates a message", async () => {
    const message = await client.messages.create({ model: LLAMA, max_tokens: 1024, system: "Be brief.", messages: [{ role: "user", content: "Hello, Claude" }] });
    expect(message.content).toEqual([{ type: "text", text: "You said: Hello, Claude" }]);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.model).toBe(LLAMA);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it("returns tool_use and accepts the tool_result back", async () => {
    const first = await client.messages.create({ model: "vllm/tool-call", max_tokens: 256, tools: [weatherTool], messages: [{ role: "user", content: "Weather in Paris?" }] });
    expect(first.stop_reason).toBe("tool_use");
    const toolUse = first.content.find((block) => block.type === "tool_use");
    expect(toolUse).toMatchObject({ type: "tool_use", id: "chatcmpl-tool-1", name: "get_weather", input: { city: "Paris", unit: "celsius" } });
    const second = await client.messages.create({
      model: LLAMA,
      max_tokens: 256,
      tools: [weatherTool],
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "chatcmpl-tool-1", content: "18C and sunny" }] },
      ],
    });
    expect(second.content).toEqual([{ type: "text", text: "You said: 18C and sunny" }]);
  });

  it("streams text, with thinking, through messages.stream()", async () => {
    const stream = client.messages.stream({ model: "vllm/thinker", max_tokens: 256, messages: [{ role: "user", content: "Hi" }] });
    let text = "";
    stream.on("text", (delta) => (text += delta));
    const final = await stream.finalMessage();
    expect(text).toBe("Hello there!");
    expect(final.content.map((block) => block.type)).toEqual(["thinking", "text"]);
    expect(final.stop_reason).toBe("end_turn");
    expect(final.usage.output_tokens).toBe(7);
  });

  it("streams tool use through messages.stream()", async () => {
    const stream = client.messages.stream({ model: "vllm/tool-call", max_tokens: 256, tools: [weatherTool], messages: [{ role: "user", content: "Weather?" }] });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe("tool_use");
    expect(final.content).toEqual([{ type: "tool_use", id: "chatcmpl-tool-1", name: "get_weather", input: { city: "Paris", unit: "celsius" } }]);
  });

  it("streams parallel tool calls whose pieces interleave, as the JSON answer gives them", async () => {
    const request = { model: "vllm/parallel-tools", max_tokens: 256, tools: [weatherTool], messages: [{ role: "user" as const, content: "Weather and time?" }] };
    const whole = await client.messages.create(request);
    const stream = client.messages.stream(request);
    const final = await stream.finalMessage();
    const calls = [
      { type: "tool_use", id: "call_weather", name: "get_weather", input: { city: "Paris", unit: "celsius" } },
      { type: "tool_use", id: "call_time", name: "get_time", input: { zone: "Europe/Paris" } },
    ];
    expect(whole.content).toEqual([{ type: "text", text: "Checking both. " }, ...calls]);
    // The first call streams live; what arrived between its pieces (the second call, then text) follows it in order.
    expect(final.content).toEqual([{ type: "text", text: "Checking " }, calls[0], calls[1], { type: "text", text: "both. " }]);
    expect(final.stop_reason).toBe("tool_use");
  });

  it("streams a tool call whose arguments are not JSON with an empty input, as the JSON answer does", async () => {
    const request = { model: "vllm/bad-tool-args", max_tokens: 256, tools: [weatherTool], messages: [{ role: "user" as const, content: "Weather?" }] };
    const whole = await client.messages.create(request);
    const final = await client.messages.stream(request).finalMessage();
    const call = { type: "tool_use", id: "call_bad", name: "get_weather", input: {} };
    expect(whole.content).toEqual([call]);
    expect(final.content).toEqual([call]);
  });

  it("streams a message the origin answered as whole JSON", async () => {
    const final = await client.messages.stream({ model: "vllm/json-anyway", max_tokens: 64, messages: [{ role: "user", content: "stream please" }] }).finalMessage();
    expect(final.content).toEqual([{ type: "text", text: "You said: stream please" }]);
    expect([final.stop_reason, final.usage.output_tokens]).toEqual(["end_turn", 4]);
  });

  it("maps a length cut-off to max_tokens", async () => {
    const message = await client.messages.create({ model: "vllm/cut-short", max_tokens: 5, messages: [{ role: "user", content: "Everything" }] });
    expect(message.stop_reason).toBe("max_tokens");
  });

  it("lists models", async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain(LLAMA);
  });

  it("counts tokens", async () => {
    const counted = await client.messages.countTokens({ model: LLAMA, messages: [{ role: "user", content: "Hello, Claude" }] });
    expect(counted.input_tokens).toBeGreaterThan(0);
  });

  it("raises the SDK's own error classes, in Anthropic's error shape", async () => {
    const notFound = client.messages.create({ model: "vllm/not-served", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
    await expect(notFound).rejects.toBeInstanceOf(NotFoundError);
    await expect(notFound).rejects.toMatchObject({ error: { type: "error", error: { type: "not_found_error" } } });
    const stream = client.messages.stream({ model: "vllm/mid-stream-error", max_tokens: 10, messages: [{ role: "user", content: "a b c d" }] });
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(APIError);
  });
});
