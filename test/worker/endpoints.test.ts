/** Completions, embeddings, rerank, models, audio and the unsupported operations. */
import { beforeAll, describe, expect, it } from "vitest";
import { LLAMA, configure, errorOf, gateway, origin, postJson, received, sseData } from "./helpers";
import { env } from "cloudflare:workers";

beforeAll(async () => {
  await configure({
    vllm: {
      keys: [
        { name: "chat", models: ["*"], blacklisted_models: ["bge"], vllm_key_config: { url: origin("default") }, aliases: { "llama-small": LLAMA } },
        { name: "embed", models: ["bge"], vllm_key_config: { url: origin("embed"), model_name: "BAAI/bge-m3" } },
      ],
    },
    reranker: {
      keys: [{ name: "old-server", vllm_key_config: { url: origin("rerank-only") } }],
      network_config: { base_url: origin("rerank-only") },
      custom_provider_config: { base_provider_type: "openai", allowed_requests: { rerank: true, list_models: true } },
    },
    down: {
      keys: [{ name: "gone" }],
      network_config: { base_url: env.REFUSED_URL },
      custom_provider_config: { base_provider_type: "openai" },
    },
  });
});

describe("text completions", () => {
  it("answers non-streaming and streaming completions", async () => {
    const plain = await postJson("/v1/completions", { model: `vllm/${LLAMA}`, prompt: "Hello, my name is", max_tokens: 50 });
    expect(plain.status).toBe(200);
    const body = (await plain.json()) as { object: string; model: string; choices: { text: string }[] };
    expect(body).toMatchObject({ object: "text_completion", model: `vllm/${LLAMA}` });
    const streamed = await postJson("/v1/completions", { model: `vllm/${LLAMA}`, prompt: "Hi", stream: true });
    const frames = sseData(await streamed.text());
    expect(frames.at(-1)).toBe("[DONE]");
    expect(JSON.parse(frames[0] ?? "{}").object).toBe("text_completion");
  });
});

describe("aliases", () => {
  it("sends the served name upstream and gives the public name back, in JSON and in every chunk", async () => {
    const response = await postJson("/v1/chat/completions", { model: "vllm/llama-small", messages: [{ role: "user", content: "a" }] }, { "x-request-id": "alias-1" });
    expect(((await response.json()) as { model: string }).model).toBe("vllm/llama-small");
    expect(JSON.parse((await received("alias-1"))[0]?.body ?? "{}").model).toBe(LLAMA);
    const streamed = await postJson("/v1/chat/completions", { model: "vllm/llama-small", stream: true, messages: [{ role: "user", content: "a b c" }] });
    const chunks = sseData(await streamed.text()).filter((f) => f !== "[DONE]").map((f) => JSON.parse(f) as { model: string });
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.every((c) => c.model === "vllm/llama-small")).toBe(true);
  });

  it("rewrites a whitespace-formatted origin answer too", async () => {
    const response = await postJson("/v1/chat/completions", { model: "vllm/spaced-json", messages: [] });
    expect(((await response.json()) as { model: string }).model).toBe("vllm/spaced-json");
  });
});

describe("embeddings", () => {
  it("routes a key's client-facing name to its served model_name", async () => {
    const response = await postJson("/v1/embeddings", { model: "vllm/bge", input: ["a", "b"], dimensions: 3 }, { "x-request-id": "embed-1" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { model: string; data: unknown[] };
    expect(body.model).toBe("vllm/bge");
    expect(body.data).toHaveLength(2);
    const [seen] = await received("embed-1");
    expect(seen?.origin).toBe("embed");
    expect(JSON.parse(seen?.body ?? "{}")).toMatchObject({ model: "BAAI/bge-m3", dimensions: 3 });
  });

  it("streams binary embeddings through with their metadata header", async () => {
    const response = await postJson("/v1/embeddings", { model: "vllm/bge", input: ["a"], encoding_format: "bytes" });
    expect(response.headers.get("content-type")).toBe("application/octet-stream");
    expect(JSON.parse(response.headers.get("metadata") ?? "{}").data).toHaveLength(1);
    expect((await response.arrayBuffer()).byteLength).toBe(12);
  });

  it("refuses stream: true", async () => {
    const response = await postJson("/v1/embeddings", { model: "vllm/bge", input: "a", stream: true });
    expect(response.status).toBe(400);
  });
});

describe("rerank", () => {
  const seedRequest = {
    query: "What is machine learning?",
    documents: [{ text: "Machine learning is a subset of AI." }, { text: "Python is a programming language." }, { text: "Deep learning uses neural networks." }],
    params: { return_documents: true },
  };

  it("accepts the seed guide's request and answers sorted results with the documents", async () => {
    const response = await postJson("/v1/rerank", { model: "vllm/BAAI/bge-reranker-v2-m3", ...seedRequest }, { "x-request-id": "rerank-1" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { model: string; results: { index: number; relevance_score: number; document: { text: string } }[] };
    expect(body.model).toBe("vllm/BAAI/bge-reranker-v2-m3");
    expect(body.results[0]?.index).toBe(0);
    expect(body.results[0]?.document.text).toBe("Machine learning is a subset of AI.");
    const scores = body.results.map((r) => r.relevance_score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    const sent = JSON.parse((await received("rerank-1"))[0]?.body ?? "{}");
    expect(sent.documents).toEqual(seedRequest.documents.map((d) => d.text));
    expect(sent.params).toBeUndefined();
  });

  it("falls back to /rerank when /v1/rerank is not served", async () => {
    const response = await postJson("/v1/rerank", { model: "reranker/BAAI/bge-reranker-v2-m3", ...seedRequest, params: { top_n: 1 } }, { "x-request-id": "rerank-2" });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { results: unknown[] }).results).toHaveLength(1);
    expect((await received("rerank-2")).map((r) => r.path)).toEqual(["/v1/rerank", "/rerank"]);
  });

  it("rejects a request without documents", async () => {
    const response = await postJson("/v1/rerank", { model: "vllm/x", query: "q" });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toContain("documents");
  });

  it("keeps custom providers to their allowed requests", async () => {
    const response = await postJson("/v1/chat/completions", { model: "reranker/BAAI/bge-reranker-v2-m3", messages: [] });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe("unsupported_operation");
  });
});

describe("models", () => {
  it("lists every origin's models, prefixed and deduplicated, despite a dead origin", async () => {
    const response = await gateway("/v1/models");
    expect(response.status).toBe(200);
    const ids = ((await response.json()) as { data: { id: string }[] }).data.map((m) => m.id);
    expect(ids).toContain(`vllm/${LLAMA}`);
    expect(ids).toContain("vllm/llama-small");
    expect(ids).toContain("vllm/bge");
    expect(ids).toContain("reranker/BAAI/bge-reranker-v2-m3");
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.some((id) => id.startsWith("down/"))).toBe(false);
  });

  it("answers models.retrieve from the list", async () => {
    const response = await gateway("/openai/v1/models/vllm/llama-small");
    expect(response.status).toBe(200);
    expect(((await response.json()) as { id: string }).id).toBe("vllm/llama-small");
    expect((await gateway("/v1/models/vllm/nope")).status).toBe(404);
  });
});

describe("audio transcriptions", () => {
  function upload(fields: Record<string, string>, fileFirst = true): FormData {
    const form = new FormData();
    const file = new File([new Uint8Array(50_000).fill(7)], "speech.wav", { type: "audio/wav" });
    if (fileFirst) form.append("file", file);
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    if (!fileFirst) form.append("file", file);
    return form;
  }

  it("streams the upload through with only the model field rewritten", async () => {
    const response = await gateway("/v1/audio/transcriptions", { method: "POST", body: upload({ model: "vllm/openai/whisper-small", language: "en" }), headers: { "x-request-id": "audio-1" } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ text: "transcribed 50000 bytes", usage: { type: "duration", seconds: 1 } });
    const [seen] = await received("audio-1");
    expect(seen?.body).toContain('name="model"\r\n\r\nopenai/whisper-small\r\n');
    expect(seen?.headers["content-length"]).toBe(String(seen?.body.length));
  });

  it("passes stream=true through as SSE and text formats as text", async () => {
    const streamed = await gateway("/v1/audio/transcriptions", { method: "POST", body: upload({ model: "vllm/openai/whisper-small", stream: "true" }, false) });
    expect(streamed.headers.get("content-type")).toContain("text/event-stream");
    const frames = sseData(await streamed.text());
    expect(frames.at(-1)).toBe("[DONE]");
    expect(JSON.parse(frames[0] ?? "{}").object).toBe("transcription.chunk");
    const text = await gateway("/v1/audio/transcriptions", { method: "POST", body: upload({ model: "vllm/openai/whisper-small", response_format: "text" }) });
    expect(await text.text()).toBe("transcribed 50000 bytes");
  });

  it("rejects a non-multipart body", async () => {
    const response = await postJson("/v1/audio/transcriptions", { model: "vllm/openai/whisper-small" });
    expect(response.status).toBe(400);
  });
});

describe("unsupported operations", () => {
  for (const [method, path] of [
    ["POST", "/v1/images/generations"],
    ["POST", "/v1/audio/speech"],
    ["GET", "/v1/files"],
    ["POST", "/v1/batches"],
    ["POST", "/openai/v1/images/edits"],
  ] as const) {
    it(`${method} ${path} → 400 unsupported_operation`, async () => {
      const response = await gateway(path, { method, body: method === "POST" ? "{}" : undefined });
      expect(response.status).toBe(400);
      expect((await errorOf(response)).code).toBe("unsupported_operation");
    });
  }
});
