/**
 * A fast fake vLLM origin for the benchmark. It runs in its own worker thread (see startOrigin) so its event loop
 * never competes with the load generator's: a slow origin would blur the few hundred microseconds we measure.
 * Replies are canned and written at once, with no artificial delay.
 */
import { createServer } from "node:http";
import { Worker, isMainThread, parentPort } from "node:worker_threads";

/** Starts the origin in a worker thread; resolves with its base URL and a stop() that closes it cleanly. */
export function startOrigin() {
  const thread = new Worker(new URL(import.meta.url));
  const exited = new Promise((resolve) => thread.once("exit", resolve));
  return new Promise((resolve, reject) => {
    thread.once("error", reject);
    thread.once("message", ({ port }) =>
      resolve({
        url: `http://127.0.0.1:${port}`,
        stop: async () => {
          thread.postMessage("stop");
          await exited;
        },
      }),
    );
  });
}

const CONTENT = ["Hello", " from", " the", " bench", " origin."];

/** Long replies for the conversion benchmark: max_tokens ≥ 100 asks for that many content chunks. */
function contentFor(body) {
  const wanted = body.max_completion_tokens ?? body.max_tokens ?? 0;
  if (wanted < 100) return CONTENT;
  return Array.from({ length: wanted }, (_, i) => CONTENT[i % CONTENT.length]);
}

function completion(model) {
  return {
    id: "chatcmpl-bench",
    object: "chat.completion",
    created: 1700000000,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: CONTENT.join("") }, logprobs: null, finish_reason: "stop" }],
    usage: { prompt_tokens: 9, completion_tokens: CONTENT.length, total_tokens: 9 + CONTENT.length },
  };
}

/** The SSE frames vLLM sends for one streamed reply, ending with the usage-only chunk when asked for, then [DONE]. */
function streamFrames(model, includeUsage, content) {
  const chunk = (choices, extra = {}) => ({ id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1700000000, model, choices, ...extra });
  const frames = [chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }])];
  for (const text of content) frames.push(chunk([{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }]));
  frames.push(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }]));
  if (includeUsage) frames.push(chunk([], { usage: completion(model).usage }));
  return [...frames.map((f) => `data: ${JSON.stringify(f)}\n\n`), "data: [DONE]\n\n"];
}

function handle(req, res) {
  if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
    res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"message":"not found"}}');
    return;
  }
  const parts = [];
  req.on("data", (part) => parts.push(part));
  req.on("end", () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(parts).toString("utf8"));
    } catch {
      res.writeHead(400, { "content-type": "application/json" }).end('{"error":{"message":"bad json"}}');
      return;
    }
    const model = typeof body.model === "string" ? body.model : "unknown";
    if (body.stream === true) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      // One write: the bench measures the gateway's work per chunk, not the origin's pacing.
      res.end(streamFrames(model, body.stream_options?.include_usage === true, contentFor(body)).join(""));
    } else {
      const json = JSON.stringify(completion(model));
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(json) }).end(json);
    }
  });
}

// Inside the worker thread: serve until the parent says stop.
if (!isMainThread) {
  const server = createServer({ keepAlive: true }, handle);
  // workerd and the load generator reuse connections; keep them open across the whole run.
  server.keepAliveTimeout = 120_000;
  server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
  parentPort.on("message", (message) => {
    if (message !== "stop") return;
    server.close(() => parentPort.close());
    server.closeAllConnections();
  });
}
