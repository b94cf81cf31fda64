/** The official openai npm SDK, unmodified, against the running gateway. */
import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError } from "openai";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";

const LLAMA = "meta-llama/Llama-3.2-1B-Instruct";
const gatewayUrl = inject("gatewayUrl");
const fakeUrl = inject("e2eFakeVllmUrl");
const client = new OpenAI({ baseURL: `${gatewayUrl}/v1`, apiKey: "unused-without-virtual-keys", maxRetries: 0 });

async function adminCall(method: string, path: string, body?: unknown) {
  const response = await fetch(`${gatewayUrl}${path}`, {
    method,
    headers: { authorization: "Bearer e2e-admin-token", "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

beforeAll(async () => {
  // The default provider from embedded defaults is there on first start.
  const providers = (await adminCall("GET", "/api/providers")) as { providers: { name: string }[] };
  expect(providers.providers.map((p) => p.name)).toContain("vllm");
  await adminCall("POST", "/api/config/import", {
    providers: {
      vllm: { keys: [{ name: "vllm-local", value: "", models: ["*"], vllm_key_config: { url: `${fakeUrl}/o/default` }, aliases: { small: LLAMA } }] },
    },
  });
});

describe("openai SDK", () => {
  it("creates a chat completion", async () => {
    const completion = await client.chat.completions.create({ model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "Hello from vLLM!" }] });
    expect(completion.choices[0]?.message.content).toBe("You said: Hello from vLLM!");
    expect(completion.model).toBe(`vllm/${LLAMA}`);
  });

  it("streams a chat completion, with and without usage", async () => {
    const stream = await client.chat.completions.create({ model: "vllm/small", stream: true, messages: [{ role: "user", content: "stream please" }] });
    let text = "";
    for await (const chunk of stream) {
      expect(chunk.model).toBe("vllm/small");
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(text).toBe("You said: stream please");
    const withUsage = await client.chat.completions.create({ model: "vllm/small", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "x" }] });
    let usage = 0;
    for await (const chunk of withUsage) usage = chunk.usage?.total_tokens ?? usage;
    expect(usage).toBeGreaterThan(0);
  });

  it("streams a completion the origin answered as whole JSON, usage included", async () => {
    const stream = await client.chat.completions.create({ model: "vllm/json-anyway", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "stream please" }] });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined;
    const finishes: (string | null | undefined)[] = [];
    for await (const chunk of stream) {
      expect(chunk.model).toBe("vllm/json-anyway");
      text += chunk.choices[0]?.delta.content ?? "";
      finishes.push(chunk.choices[0]?.finish_reason);
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe("You said: stream please");
    expect(finishes).toEqual(["stop", undefined]);
    // The fake counts a quarter token per character of the messages' JSON (42), and one token per word.
    expect(usage).toEqual({ prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 });
  });

  it("works with base_url ending in /vllm, as the seed guide configures it", async () => {
    const vllmClient = new OpenAI({ baseURL: `${gatewayUrl}/vllm`, apiKey: "x", maxRetries: 0 });
    const completion = await vllmClient.chat.completions.create({ model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "Hello from Bifrost!" }] });
    expect(completion.choices[0]?.message.content).toBe("You said: Hello from Bifrost!");
    const bare = await vllmClient.chat.completions.create({ model: LLAMA, messages: [{ role: "user", content: "bare" }] });
    expect(bare.model).toBe(LLAMA);
  });

  it("creates text completions and embeddings", async () => {
    const completion = await client.completions.create({ model: `vllm/${LLAMA}`, prompt: "Hello, my name is", max_tokens: 50 });
    expect(completion.choices[0]?.text).toContain("You said");
    const embeddings = await client.embeddings.create({ model: "vllm/BAAI/bge-m3", input: ["Hello world", "again"] });
    expect(embeddings.data).toHaveLength(2);
    expect(embeddings.data[0]?.embedding).toHaveLength(3);
  });

  it("lists and retrieves models", async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain(`vllm/${LLAMA}`);
    expect(ids).toContain("vllm/small");
    expect((await client.models.retrieve("vllm/small")).id).toBe("vllm/small");
  });

  it("raises the SDK's own error classes", async () => {
    await expect(client.chat.completions.create({ model: "vllm/not-served", messages: [] })).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.chat.completions.create({ model: "unknown-model", messages: [] })).rejects.toBeInstanceOf(BadRequestError);
    await expect(client.chat.completions.create({ model: "vllm/context-too-long", messages: [] })).rejects.toMatchObject({ status: 400, code: "context_length_exceeded" });
    const unauthenticated = await fetch(`${gatewayUrl}/api/providers`);
    expect(unauthenticated.status).toBe(401);
    await expect(new OpenAI({ baseURL: `${gatewayUrl}/api`, apiKey: "x", maxRetries: 0 }).models.list()).rejects.toBeInstanceOf(AuthenticationError);
  });

  it("raises a mid-stream error frame and a truncated stream as APIError", async () => {
    for (const model of ["vllm/mid-stream-error", "vllm/cut-stream"]) {
      const stream = await client.chat.completions.create({ model, stream: true, messages: [{ role: "user", content: "a b c d" }] });
      const consume = async () => {
        for await (const chunk of stream) void chunk;
      };
      await expect(consume()).rejects.toBeInstanceOf(APIError);
    }
  });

  it("transcribes a file passed as a stream, which the SDK uploads without a Content-Length", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gateway-audio-"));
    try {
      const path = join(dir, "speech.wav");
      await writeFile(path, new Uint8Array(300_000).map((_, index) => index % 251));
      const transcription = await client.audio.transcriptions.create({ model: "vllm/openai/whisper-small", file: createReadStream(path) });
      expect(transcription.text).toBe("transcribed 300000 bytes");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
