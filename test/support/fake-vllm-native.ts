/**
 * vLLM's own endpoints on the fake vLLM, in vLLM's shapes (vllm/entrypoints/serve/tokenize/protocol.py and
 * vllm/entrypoints/pooling/{score,classify,pooling}/protocol.py): /tokenize, /detokenize, /score and /v1/score,
 * /classify and /pooling — all at the server's root, as vLLM serves them. Usage is deterministic and deliberately
 * not the gateway's estimate (each input costs one more token, as a BOS would), so tests can tell the two apart.
 *
 * Origins: "legacy-score" is a server from before /score moved out of /v1 (it has /v1/score only); "no-usage"
 * answers without a `usage` object.
 */
import type { ServerResponse } from "node:http";

export const NATIVE_PATHS: ReadonlySet<string> = new Set(["/tokenize", "/detokenize", "/score", "/v1/score", "/classify", "/pooling"]);

/** The max_model_len the fake reports. */
export const NATIVE_MAX_MODEL_LEN = 8192;

type Json = Record<string, unknown>;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** vLLM's validation failure: HTTP 400 with the nested error shape. */
function invalid(res: ServerResponse, message: string): void {
  send(res, 400, { error: { message, type: "BadRequestError", param: null, code: 400 } });
}

/** Tokens of one text as the fake counts them: a token per 4 characters, plus a BOS. */
export function fakeTokens(text: string): number {
  return Math.ceil(text.length / 4) + 1;
}

const textOf = (item: unknown) => (typeof item === "string" ? item : JSON.stringify(item));
const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

function usageBlock(prompt: number): Json {
  return { prompt_tokens: prompt, total_tokens: prompt, completion_tokens: 0, prompt_tokens_details: null };
}

/** The pairs a score request names: one item against N, or two lists of equal length. */
function scorePairs(body: Json): [unknown, unknown][] | string {
  const first = body.queries ?? body.data_1 ?? body.text_1;
  const second = body.documents ?? body.items ?? body.data_2 ?? body.text_2;
  if (first === undefined || second === undefined) return "text_1 and text_2 are required";
  const left = listOf(first);
  const right = listOf(second);
  if (left.length === 1) return right.map((item) => [left[0], item]);
  if (left.length !== right.length) return "text_1 and text_2 must have the same length, or text_1 must be a single item";
  return left.map((item, index) => [item, right[index]]);
}

/** The inputs a classify or pooling request names: texts, or the chat as one. */
function inputsOf(body: Json): string[] | undefined {
  if (Array.isArray(body.messages)) return [JSON.stringify(body.messages)];
  if (body.input === undefined) return body.data === undefined ? undefined : [JSON.stringify(body.data)];
  return listOf(body.input).map(textOf);
}

export function answerNative(res: ServerResponse, path: string, raw: Buffer, origin: string, known: (model: string) => boolean): void {
  if (origin === "legacy-score" && path === "/score") return send(res, 404, { detail: "Not Found" });
  let body: Json;
  try {
    body = JSON.parse(raw.toString("utf8")) as Json;
  } catch {
    return invalid(res, "JSON decode error");
  }
  // vLLM's `model` is optional on these; one it does not serve is a 404.
  const model = typeof body.model === "string" ? body.model : "meta-llama/Llama-3.2-1B-Instruct";
  if (!known(model)) return send(res, 404, { error: { message: `The model \`${model}\` does not exist.`, type: "NotFoundError", param: "model", code: 404 } });
  const usage = (prompt: number) => (origin === "no-usage" ? {} : { usage: usageBlock(prompt) });
  const created = Math.floor(Date.now() / 1000);

  switch (path) {
    case "/tokenize": {
      if (body.prompt === undefined && body.messages === undefined) return invalid(res, "prompt or messages is required");
      const count = Math.ceil(JSON.stringify(body.messages ?? body.prompt ?? "").length / 4);
      const tokens = Array.from({ length: count }, (_, i) => i);
      return send(res, 200, { count, max_model_len: NATIVE_MAX_MODEL_LEN, tokens, token_strs: body.return_token_strs === true ? tokens.map((t) => `t${t}`) : null });
    }
    case "/detokenize": {
      const tokens = body.tokens;
      if (!Array.isArray(tokens) || tokens.some((t) => !Number.isInteger(t) || (t as number) < 0)) return invalid(res, "tokens must be a list of non-negative integers");
      return send(res, 200, { prompt: tokens.map((t) => `<${String(t)}>`).join("") });
    }
    case "/score":
    case "/v1/score": {
      const pairs = scorePairs(body);
      if (typeof pairs === "string") return invalid(res, pairs);
      const prompt = pairs.reduce((sum, [a, b]) => sum + fakeTokens(textOf(a)) + fakeTokens(textOf(b)), 0);
      const data = pairs.map(([a, b], index) => ({ index, object: "score", score: textOf(a) === textOf(b) ? 1 : 0.5 / (index + 1) }));
      return send(res, 200, { id: "score-fake", object: "list", created, model, data, ...usage(prompt) });
    }
    case "/classify":
    case "/pooling": {
      const inputs = inputsOf(body);
      if (!inputs) return invalid(res, path === "/classify" ? "input or messages is required" : "input, messages or data is required");
      const prompt = inputs.reduce((sum, text) => sum + fakeTokens(text), 0);
      const data =
        path === "/classify"
          ? inputs.map((text, index) => ({ index, label: text.includes("great") ? "positive" : "negative", probs: text.includes("great") ? [0.1, 0.9] : [0.9, 0.1], num_classes: 2 }))
          : inputs.map((_, index) => ({ index, object: "pooling", data: [[0.25, 0.5], [0.75, 1]] }));
      return send(res, 200, { id: path === "/classify" ? "classify-fake" : "pool-fake", object: "list", created, model, data, ...usage(prompt) });
    }
    default:
      return send(res, 404, { detail: "Not Found" });
  }
}
