import { beforeAll, describe, expect, it } from "vitest";
import { LLAMA, configure, errorOf, postJson, received, sseData, vllmProvider } from "./helpers";

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
