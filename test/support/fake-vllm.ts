/**
 * A fake vLLM server: a real HTTP server on 127.0.0.1 that answers like `vllm serve` (shapes, SSE framing, usage
 * chunks, every error shape) and records what it received. Several "origins" live on one server under
 * /o/<origin>/…; the origin name picks behaviour (rerank-only, auth-required, legacy error shapes, redirects).
 * The served model name picks the scenario (normal, errors, cut and slow streams).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { NATIVE_PATHS, answerNative } from "./fake-vllm-native";
import { REASONING_MODELS, reasoningScenario } from "./fake-reasoning";
import { SAMPLING_MODELS, sample } from "./fake-vllm-sampling";
import type { RecordedRequest } from "./recorded";

export const SERVED_MODELS = ["meta-llama/Llama-3.2-1B-Instruct", "BAAI/bge-m3", "BAAI/bge-reranker-v2-m3", "openai/whisper-small"];
/** Served by every origin like SERVED_MODELS but not listed by /v1/models: a hosted model, a name one test's key lists. */
export const UNLISTED_MODELS = ["claude-3-5-sonnet-20241022", "spare-model"];
/** Scenario models: accepted by every origin on top of SERVED_MODELS. */
export const SCENARIO_MODELS = [
  "error-200",
  "flat-error",
  "context-too-long",
  "server-error",
  "unavailable-retry",
  "mid-stream-error",
  "first-frame-error",
  "cut-stream",
  "early-end",
  "garbled-frame",
  "garbled-first",
  "json-anyway",
  "templated",
  "slow-stream",
  "slow-headers",
  "silent-stream",
  "spaced-json",
  "tool-call",
  "parallel-tools",
  "bad-tool-args",
  "thinker",
  "cut-short",
  "drop-connection",
  "slow-first-token",
  "slow-body",
  "long-answer",
  "gpt-4o-mini",
  ...REASONING_MODELS,
  ...SAMPLING_MODELS,
];
/** What "long-answer" generates when nothing stops it sooner: this many one-word tokens. */
export const LONG_ANSWER_TOKENS = 500;
/** Bytes per second of the audio "audio-seconds" reports transcribing (16 kHz 16-bit mono WAV). */
export const AUDIO_BYTES_PER_REPORTED_SECOND = 32_000;
export const AUTH_TOKEN = "origin-secret-token";

type Json = Record<string, unknown>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

function nestedError(status: number, message: string, type: string, param: string | null = null) {
  return { error: { message, type, param, code: status } };
}

function chatReply(body: Json): string {
  const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
  const last = messages[messages.length - 1];
  const content = typeof last?.content === "string" ? last.content : "nothing";
  return `You said: ${content}`;
}

/** The "orca" origin reports its load in vLLM's endpoint-load-metrics header, on JSON answers and streams alike. */
function loadReport(origin: string): Record<string, string> {
  return origin === "orca" ? { "endpoint-load-metrics": "TEXT named_metrics.kv_cache_usage_perc=0.42" } : {};
}

function usage(prompt: number, completion: number) {
  return { prompt_tokens: prompt, total_tokens: prompt + completion, completion_tokens: completion };
}

export class FakeVllm {
  readonly requests: RecordedRequest[] = [];
  /** Origins answering 503 until the given time (set through POST /__down?origin=…&ms=…). */
  private readonly downUntil = new Map<string, number>();
  private server: Server | undefined;
  url = "";

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, 500, nestedError(500, String(error), "InternalServerError"));
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 5000; // as uvicorn
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    if (url.pathname === "/__log") {
      const id = url.searchParams.get("request_id");
      return sendJson(res, 200, id ? this.requests.filter((r) => r.headers["x-request-id"] === id) : this.requests);
    }
    if (url.pathname === "/__down") {
      this.downUntil.set(url.searchParams.get("origin") ?? "", Date.now() + Number(url.searchParams.get("ms") ?? 0));
      return sendJson(res, 200, { ok: true });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    let origin = "default";
    let path = url.pathname;
    const scoped = /^\/o\/([^/]+)(\/.*)$/.exec(path);
    if (scoped) {
      origin = scoped[1] ?? "default";
      path = scoped[2] ?? "/";
    }
    const record: RecordedRequest = {
      origin,
      method: req.method ?? "GET",
      path,
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")])),
      body: req.headers["content-type"]?.startsWith("multipart/") ? raw.toString("latin1") : raw.toString("utf8"),
    };
    this.requests.push(record);
    if (this.requests.length > 5000) this.requests.splice(0, 1000);
    res.on("close", () => {
      if (!res.writableFinished) record.closedEarly = true;
      else record.finished = true;
    });

    if (origin === "auth" && req.headers.authorization !== `Bearer ${AUTH_TOKEN}`) return sendJson(res, 401, { error: "Unauthorized" });
    if (origin === "access" && (req.headers["cf-access-client-id"] !== "access-id" || req.headers["cf-access-client-secret"] !== "access-secret")) {
      res.writeHead(302, { location: "https://team.cloudflareaccess.com/cdn-cgi/access/login" });
      return void res.end();
    }
    if ((this.downUntil.get(origin) ?? 0) > Date.now()) return sendJson(res, 503, nestedError(503, "replica is down", "ServiceUnavailableError"));
    if (origin === "scaling") return sendJson(res, 503, { error: "The model is currently scaling. Please try again later." });
    if (origin === "html") {
      res.writeHead(502, { "content-type": "text/html" });
      return void res.end("<!DOCTYPE html><html><body>Bad gateway</body></html>");
    }
    // An engine that accepted the connection and hangs: no headers for ten seconds (longer than any test's timeout).
    if (origin === "hung") {
      setTimeout(() => {
        if (!res.destroyed) sendJson(res, 503, nestedError(503, "gave up", "ServiceUnavailableError"));
      }, 10_000).unref();
      return;
    }
    // Something in front of the engine answering in its own words, naming an internal host.
    if (origin === "proxy-text") {
      res.writeHead(503, { "content-type": "text/plain" });
      return void res.end("upstream connect error or disconnect/reset before headers: 10.0.3.7:8000 connection refused");
    }
    // A login page served with 200, as an identity proxy does.
    if (origin === "login-page") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return void res.end("<!DOCTYPE html><html><body><script>steal()</script></body></html>");
    }

    if (req.method === "GET" && path === "/v1/models") return this.models(res, origin);
    if (req.method === "GET" && path === "/health") return void res.writeHead(origin === "sick" ? 503 : 200).end();
    if (req.method === "GET" && path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      // Two data-parallel engines, and KV-cache use under both names, as vLLM 0.10 exports it: the origin's queue is
      // 7 (4 + 3) for "queued", 0 elsewhere, and its KV-cache use 0.42 (not 0.84 or 1.68, the sums).
      const [first, second] = origin === "queued" ? [4, 3] : [0, 0];
      const series = (name: string, a: number, b: number) => `# TYPE ${name} gauge\n${name}{engine="0",model_name="m"} ${a}\n${name}{engine="1",model_name="m"} ${b}\n`;
      return void res.end(series("vllm:num_requests_waiting", first, second) + series("vllm:kv_cache_usage_perc", 0.42, 0.42) + series("vllm:gpu_cache_usage_perc", 0.42, 0.42));
    }
    if (req.method !== "POST") return sendJson(res, 405, { detail: "Method Not Allowed" });
    if (path === "/rerank" || (path === "/v1/rerank" && origin !== "rerank-only")) return this.rerank(res, raw);
    if (path === "/v1/audio/transcriptions" || path === "/v1/audio/translations") return this.transcribe(req, res, raw);
    if (NATIVE_PATHS.has(path)) return answerNative(res, path, raw, origin, (model) => SERVED_MODELS.includes(model) || UNLISTED_MODELS.includes(model) || SCENARIO_MODELS.includes(model));
    if (path !== "/v1/chat/completions" && path !== "/v1/completions" && path !== "/v1/embeddings") {
      return sendJson(res, 404, { detail: "Not Found" });
    }
    if (!String(req.headers["content-type"] ?? "").startsWith("application/json")) {
      return sendJson(res, 400, nestedError(400, "Unsupported Media Type: Only 'application/json' is allowed", "Bad Request"));
    }
    let body: Json;
    try {
      body = JSON.parse(raw.toString("utf8")) as Json;
    } catch {
      return sendJson(res, 400, nestedError(400, "JSON decode error", "Bad Request"));
    }
    const model = String(body.model ?? "");
    if (!SERVED_MODELS.includes(model) && !UNLISTED_MODELS.includes(model) && !SCENARIO_MODELS.includes(model)) {
      // vLLM's pooling routes (embeddings among them) say so with no `param`.
      return sendJson(res, 404, nestedError(404, `The model \`${model}\` does not exist.`, "NotFoundError", path === "/v1/embeddings" ? null : "model"));
    }
    if (model === "drop-connection" && origin !== "healthy") return void req.socket.destroy();
    if (body.stream_options && !body.stream) {
      return sendJson(res, 400, nestedError(400, "Stream options can only be defined when `stream=True`.", "BadRequestError", "stream_options"));
    }
    if (path === "/v1/embeddings") return this.embeddings(res, body);
    return this.generate(res, body, path === "/v1/chat/completions", origin);
  }

  private models(res: ServerResponse, origin: string) {
    if (origin === "dead-models") return sendJson(res, 500, nestedError(500, "engine dead", "InternalServerError"));
    const served = origin === "embed" ? ["BAAI/bge-m3"] : SERVED_MODELS;
    sendJson(res, 200, {
      object: "list",
      data: served.map((id) => ({ id, object: "model", created: 1, owned_by: "vllm", root: id, parent: null, max_model_len: 8192, permission: [] })),
    });
  }

  private async generate(res: ServerResponse, body: Json, chat: boolean, origin: string) {
    const model = String(body.model);
    switch (model) {
      case "error-200":
        if (origin !== "healthy") return sendJson(res, 200, nestedError(503, "engine overloaded", "ServiceUnavailableError"));
        break;
      case "flat-error":
        return sendJson(res, 400, { object: "error", message: "temperature must be non-negative", type: "BadRequestError", param: "temperature", code: 400 });
      case "context-too-long":
        return sendJson(res, 400, nestedError(400, "You passed 9000 input tokens and requested 16 output tokens. However, the model's context length is only 8192 tokens.", "BadRequestError", "input_tokens"));
      case "server-error":
        return sendJson(res, 500, nestedError(500, "Internal server error", "InternalServerError"));
      case "unavailable-retry":
        if (origin !== "healthy") return sendJson(res, 503, nestedError(503, "busy", "ServiceUnavailableError"), { "retry-after": "0" });
        break;
      case "slow-headers":
        await sleep(3000);
        break;
    }
    if (chat && (model === "tool-call" || model === "thinker" || model === "cut-short")) return this.scripted(res, body, model);
    if (chat && (model === "parallel-tools" || model === "bad-tool-args")) return this.interleavedTools(res, body, model);
    if (chat && REASONING_MODELS.includes(model)) return reasoningScenario(res, body, model);
    if (SAMPLING_MODELS.includes(model)) return sample(res, body, chat);
    if (model === "long-answer") return this.longAnswer(res, body, chat);
    const reply = chatReply(body);
    // "templated" counts 30 more prompt tokens, as a chat template with a default system header adds.
    const prompt = Math.max(1, Math.ceil(JSON.stringify(body.messages ?? body.prompt ?? "").length / 4)) + (model === "templated" ? 30 : 0);
    const words = (chat ? reply : ` ${reply}`).split(/(?= )/);
    const created = Math.floor(Date.now() / 1000);
    const id = chat ? "chatcmpl-fake" : "cmpl-fake";
    const object = chat ? "chat.completion.chunk" : "text_completion";
    const served = model === "spaced-json" ? "spaced-json" : model;

    // "json-anyway" answers whole JSON even when asked for a stream, as a buffering proxy in front of vLLM would.
    if (!body.stream || model === "json-anyway") {
      const choice = chat
        ? { index: 0, message: { role: "assistant", content: reply, reasoning: null, tool_calls: [] }, logprobs: null, finish_reason: "stop", stop_reason: null }
        : { index: 0, text: ` ${reply}`, logprobs: null, finish_reason: "stop", stop_reason: null };
      const answer = { id, object: chat ? "chat.completion" : "text_completion", created, model: served, choices: [choice], usage: usage(prompt, words.length) };
      if (model === "spaced-json") return sendJson(res, 200, JSON.stringify(answer, null, 2));
      if (model === "slow-body") {
        // Headers at once, the body 3 s later: an answer that started but takes too long to finish.
        res.writeHead(200, { "content-type": "application/json" });
        res.flushHeaders();
        await sleep(3000);
        return void res.end(JSON.stringify(answer));
      }
      return sendJson(res, 200, answer, loadReport(origin));
    }

    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", ...loadReport(origin) });
    res.flushHeaders(); // like Starlette's StreamingResponse: headers go out before the first token
    const frame = (payload: unknown) => res.write(`data: ${JSON.stringify(payload)}\n\n`);
    const chunk = (delta: Json | string, finish: string | null = null) =>
      frame({
        id,
        object,
        created,
        model: served,
        choices: [chat ? { index: 0, delta, logprobs: null, finish_reason: finish } : { index: 0, text: delta, logprobs: null, finish_reason: finish }],
      });
    if (model === "first-frame-error") {
      frame(nestedError(400, "tool parser failed before generation", "BadRequestError"));
      return void res.end("data: [DONE]\n\n");
    }
    if (model === "garbled-first") {
      res.write("data: <html>upstream proxy error</html>\n\n");
      return void res.end("data: [DONE]\n\n");
    }
    if (model === "silent-stream") {
      if (chat) chunk({ role: "assistant", content: "" });
      await sleep(10_000);
      return void res.end();
    }
    if (model === "slow-first-token") await sleep(2500); // a long prefill: headers out, then silence
    if (chat) chunk({ role: "assistant", content: "" });
    const delay = model === "slow-stream" ? 150 : 0;
    const count = model === "slow-stream" ? 40 : words.length;
    for (let i = 0; i < count; i += 1) {
      if (res.destroyed) return;
      if (delay) await sleep(delay);
      const word = words[i % words.length] ?? "";
      chunk(chat ? { content: word } : word);
      if (model === "mid-stream-error" && i === 1) {
        frame(nestedError(500, "Internal server error", "InternalServerError"));
        return void res.end("data: [DONE]\n\n");
      }
      if (model === "garbled-frame" && i === 1) {
        res.write('data: {"id":"chatcmpl-x","choices":[{"delta":{"content":"lo wor\n\n');
        await sleep(1000); // still generating: the gateway should stop it
      }
      if (model === "cut-stream" && i === 1) {
        await sleep(50); // let the first bytes reach the gateway, then drop the connection
        return void res.destroy();
      }
    }
    if (model === "early-end") return void res.end();
    chunk(chat ? {} : "", "stop");
    const options = body.stream_options as Json | undefined;
    if (options?.include_usage) frame({ id, object, created, model: served, choices: [], usage: usage(prompt, count) });
    res.end("data: [DONE]\n\n");
  }

  /** Tool calls, reasoning and length cut-offs, as vLLM's chat endpoint emits them. */
  private scripted(res: ServerResponse, body: Json, model: string) {
    const tools = Array.isArray(body.tools) ? (body.tools as Json[]) : [];
    const toolName = String((tools[0]?.function as Json | undefined)?.name ?? "get_weather");
    const args = JSON.stringify({ city: "Paris", unit: "celsius" });
    const reasoning = model === "thinker" ? "The user greets me. " : null;
    const text = model === "tool-call" ? null : model === "cut-short" ? "This answer is cut" : "Hello there!";
    const finish = model === "tool-call" ? "tool_calls" : model === "cut-short" ? "length" : "stop";
    const base = { id: "chatcmpl-fake", created: 1, model };
    const calls = model === "tool-call" ? [{ id: "chatcmpl-tool-1", type: "function", function: { name: toolName, arguments: args } }] : [];
    const usageBlock = usage(12, 7);
    if (!body.stream) {
      return sendJson(res, 200, {
        ...base,
        object: "chat.completion",
        choices: [{ index: 0, message: { role: "assistant", content: text, reasoning, tool_calls: calls }, logprobs: null, finish_reason: finish, stop_reason: null }],
        usage: usageBlock,
      });
    }
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
    const frame = (choices: unknown[], extra: Json = {}) => res.write(`data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices, ...extra })}\n\n`);
    const delta = (d: Json, finishReason: string | null = null) => frame([{ index: 0, delta: d, logprobs: null, finish_reason: finishReason }]);
    delta({ role: "assistant", content: "" });
    if (reasoning) for (const part of reasoning.split(/(?= )/)) delta({ reasoning: part });
    if (text) for (const part of text.split(/(?= )/)) delta({ content: part });
    if (calls[0]) {
      delta({ tool_calls: [{ index: 0, id: calls[0].id, type: "function", function: { name: toolName, arguments: "" } }] });
      for (const part of [args.slice(0, 10), args.slice(10)]) delta({ tool_calls: [{ index: 0, function: { arguments: part } }] });
    }
    delta({}, finish);
    const options = body.stream_options as Json | undefined;
    if (options?.include_usage) frame([], { usage: usageBlock });
    res.end("data: [DONE]\n\n");
  }

  /**
   * Tool calls whose streamed pieces interleave, as parallel calls may: two calls' argument pieces alternate, with
   * text between two pieces of the first ("parallel-tools"); or one call whose arguments are not JSON
   * ("bad-tool-args"). The JSON answer carries the same calls whole.
   */
  private interleavedTools(res: ServerResponse, body: Json, model: string) {
    const base = { id: "chatcmpl-fake", created: 1, model };
    const weather = JSON.stringify({ city: "Paris", unit: "celsius" });
    const time = JSON.stringify({ zone: "Europe/Paris" });
    const calls =
      model === "parallel-tools"
        ? [
            { id: "call_weather", type: "function", function: { name: "get_weather", arguments: weather } },
            { id: "call_time", type: "function", function: { name: "get_time", arguments: time } },
          ]
        : [{ id: "call_bad", type: "function", function: { name: "get_weather", arguments: "{not json" } }];
    const text = model === "parallel-tools" ? "Checking both. " : null;
    if (!body.stream) {
      return sendJson(res, 200, {
        ...base,
        object: "chat.completion",
        choices: [{ index: 0, message: { role: "assistant", content: text, reasoning: null, tool_calls: calls }, logprobs: null, finish_reason: "tool_calls", stop_reason: null }],
        usage: usage(20, 30),
      });
    }
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
    const delta = (d: Json, finishReason: string | null = null) =>
      res.write(`data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta: d, logprobs: null, finish_reason: finishReason }] })}\n\n`);
    const piece = (index: number, args: string, head?: { id: string; name: string }) =>
      delta({ tool_calls: [{ index, ...(head ? { id: head.id, type: "function" } : {}), function: { ...(head ? { name: head.name } : {}), arguments: args } }] });
    delta({ role: "assistant", content: "" });
    if (model === "parallel-tools") {
      delta({ content: "Checking " });
      piece(0, weather.slice(0, 9), { id: "call_weather", name: "get_weather" });
      piece(1, time.slice(0, 5), { id: "call_time", name: "get_time" });
      delta({ content: "both. " });
      piece(0, weather.slice(9));
      piece(1, time.slice(5));
    } else {
      piece(0, "{not", { id: "call_bad", name: "get_weather" });
      piece(0, " json");
    }
    delta({}, "tool_calls");
    const options = body.stream_options as Json | undefined;
    if (options?.include_usage) res.write(`data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices: [], usage: usage(20, 30) })}\n\n`);
    res.end("data: [DONE]\n\n");
  }

  /**
   * Generates like vLLM up to its limit: min(limit, LONG_ANSWER_TOKENS) one-word tokens, each counted in usage, and
   * finish_reason "length" when the limit cut the answer. The limit is vLLM's `max_completion_tokens or max_tokens`
   * (so a 0 counts as absent); without one, chat runs to the end and completions stop at vLLM's default of 16.
   */
  private longAnswer(res: ServerResponse, body: Json, chat: boolean) {
    const set = (value: unknown) => (typeof value === "number" && value > 0 ? value : undefined);
    const limit = set(body.max_completion_tokens) ?? set(body.max_tokens) ?? (chat ? LONG_ANSWER_TOKENS : 16);
    const count = Math.min(limit, LONG_ANSWER_TOKENS);
    const finish = limit < LONG_ANSWER_TOKENS ? "length" : "stop";
    const words = Array.from({ length: count }, (_, i) => (i === 0 ? "word" : " word"));
    const prompt = Math.max(1, Math.ceil(JSON.stringify(body.messages ?? body.prompt ?? "").length / 4));
    const base = { id: chat ? "chatcmpl-long" : "cmpl-long", created: 1, model: "long-answer" };
    if (!body.stream) {
      const choice = chat
        ? { index: 0, message: { role: "assistant", content: words.join(""), reasoning: null, tool_calls: [] }, logprobs: null, finish_reason: finish, stop_reason: null }
        : { index: 0, text: words.join(""), logprobs: null, finish_reason: finish, stop_reason: null };
      return sendJson(res, 200, { ...base, object: chat ? "chat.completion" : "text_completion", choices: [choice], usage: usage(prompt, count) });
    }
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
    const object = chat ? "chat.completion.chunk" : "text_completion";
    const frame = (choices: unknown[], extra: Json = {}) => res.write(`data: ${JSON.stringify({ ...base, object, choices, ...extra })}\n\n`);
    const piece = (text: string, finishReason: string | null = null) =>
      frame([chat ? { index: 0, delta: { content: text }, logprobs: null, finish_reason: finishReason } : { index: 0, text, logprobs: null, finish_reason: finishReason }]);
    if (chat) frame([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
    for (const word of words) piece(word);
    piece("", finish);
    const options = body.stream_options as Json | undefined;
    if (options?.include_usage) frame([], { usage: usage(prompt, count) });
    res.end("data: [DONE]\n\n");
  }

  private embeddings(res: ServerResponse, body: Json) {
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    if (body.encoding_format === "bytes") {
      const data = Buffer.from(new Float32Array(inputs.length * 3).fill(0.5).buffer);
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        metadata: JSON.stringify({ id: "embd-fake", created: 1, model: body.model, data: inputs.map((_, index) => ({ index, start: index * 12, end: index * 12 + 12 })), usage: usage(inputs.length, 0) }),
      });
      return void res.end(data);
    }
    sendJson(res, 200, {
      id: "embd-fake",
      object: "list",
      created: 1,
      model: body.model,
      data: inputs.map((_, index) => ({ index, object: "embedding", embedding: [0.1, 0.2, 0.3] })),
      usage: usage(inputs.length * 2, 0),
    });
  }

  private rerank(res: ServerResponse, raw: Buffer) {
    const body = JSON.parse(raw.toString("utf8")) as Json;
    const documents = body.documents as unknown[];
    if (documents.some((doc) => typeof doc === "object" && doc !== null && !("content" in doc))) {
      return sendJson(res, 400, nestedError(400, "documents must be strings or content objects", "Bad Request", "documents"));
    }
    const query = String(body.query).toLowerCase();
    const results = documents.map((doc, index) => {
      const text = String(doc);
      const overlap = text.toLowerCase().split(/\W+/).filter((word) => word && query.includes(word)).length;
      return { index, document: { text, multi_modal: null }, relevance_score: overlap / 10 + index / 1000 };
    });
    results.sort((a, b) => b.relevance_score - a.relevance_score);
    const topN = typeof body.top_n === "number" && body.top_n > 0 ? body.top_n : results.length;
    sendJson(res, 200, { id: "score-fake", model: body.model, usage: { prompt_tokens: 10, total_tokens: 10 }, results: results.slice(0, topN) });
  }

  private async transcribe(req: IncomingMessage, res: ServerResponse, raw: Buffer) {
    const form = await new Request("http://fake/", { method: "POST", headers: { "content-type": String(req.headers["content-type"]) }, body: new Uint8Array(raw) }).formData();
    const file = form.get("file");
    const model = String(form.get("model"));
    if (!SERVED_MODELS.includes(model) && model !== "audio-seconds") return sendJson(res, 404, nestedError(404, `The model \`${model}\` does not exist.`, "NotFoundError", "model"));
    const size = file instanceof Blob ? file.size : 0;
    const text = `transcribed ${size} bytes`;
    if (form.get("stream") === "true") {
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
      for (const word of text.split(" ")) {
        res.write(`data: ${JSON.stringify({ id: "trsc-fake", object: "transcription.chunk", created: 1, model, choices: [{ delta: { content: `${word} ` } }] })}\n\n`);
      }
      return void res.end("data: [DONE]\n\n");
    }
    if (form.get("response_format") === "text") {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      return void res.end(text);
    }
    // "audio-seconds" reports the upload's real duration, as vLLM does for a WAV file.
    const seconds = model === "audio-seconds" ? Math.ceil(size / AUDIO_BYTES_PER_REPORTED_SECOND) : 1;
    sendJson(res, 200, { text, usage: { type: "duration", seconds } });
  }
}

/** A URL on which nothing listens: connections are refused. */
export async function refusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
