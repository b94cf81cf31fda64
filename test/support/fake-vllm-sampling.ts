/**
 * Sampling as vLLM's chat and completions endpoints answer it, for the fake vLLM — the same generation as a JSON
 * answer and as a stream, so a test can compare the two. The served model "sampler" honours:
 *   n                 choices per prompt; choice i says "Choice i says: <prompt>", an emoji (a token whose length
 *                     in code points differs from its length in UTF-16 units) and " again" i times
 *   max_tokens / max_completion_tokens   cuts each choice (finish_reason "length"); otherwise it stops with
 *                     finish_reason "stop", odd choices on a stop token (stop_reason 128009), even ones on EOS (null)
 *   logprobs, top_logprobs   chat's per-token entries; completions' `logprobs: N` lists (N + 1 top entries)
 *   prompt            completions: a string or a list of strings, each with its own n choices
 *   prompt_logprobs   in the JSON answer only; with `stream: true` vLLM's 400
 * "sampler-json" is the same, but answers JSON even when asked for a stream (a server that cannot stream).
 * Streams are shaped as vLLM shapes them: chat opens every choice with a role chunk, sends one chunk per token and
 * choice (the last with finish_reason and stop_reason), omits unset fields; completions send every field, nulls
 * included, and start each chunk's text_offset at the text sent so far.
 */
type Json = Record<string, unknown>;

/** The part of node's ServerResponse used here. */
interface Reply {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(text: string): unknown;
  end(text?: string): unknown;
}

export const SAMPLING_MODELS = ["sampler", "sampler-json"];
export const STOP_TOKEN_ID = 128009;

interface Token {
  text: string;
  logprob: number;
}

interface Generated {
  index: number;
  tokens: Token[];
  finish: "length" | "stop";
  stopReason: number | null;
}

const codePoints = (text: string) => [...text].length;
const bytesOf = (text: string) => [...new TextEncoder().encode(text)];

function limitOf(body: Json, chat: boolean): number | undefined {
  const set = (value: unknown) => (typeof value === "number" && value > 0 ? value : undefined);
  return chat ? (set(body.max_completion_tokens) ?? set(body.max_tokens)) : (set(body.max_tokens) ?? 16);
}

function promptsOf(body: Json, chat: boolean): string[] {
  if (chat) {
    const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
    return [String(messages[messages.length - 1]?.content ?? "")];
  }
  return Array.isArray(body.prompt) ? body.prompt.map(String) : [String(body.prompt ?? "")];
}

function generate(body: Json, chat: boolean): Generated[] {
  const n = typeof body.n === "number" ? body.n : 1;
  const limit = limitOf(body, chat);
  return promptsOf(body, chat).flatMap((prompt, p) =>
    Array.from({ length: n }, (_, c): Generated => {
      const index = p * n + c;
      const words = `${chat ? "" : " "}Choice ${c} says: ${prompt} 🙂${" again".repeat(c)}`.split(/(?= )/);
      const cut = limit !== undefined && limit < words.length;
      const tokens = words.slice(0, cut ? limit : words.length).map((text, k) => ({ text, logprob: -Math.round((k + 1) * 10 + index) / 100 }));
      return { index, tokens, finish: cut ? "length" : "stop", stopReason: !cut && index % 2 === 1 ? STOP_TOKEN_ID : null };
    }),
  );
}

/** Chat's logprobs entry for a token: the token first among its top alternatives. */
function chatEntry(token: Token, top: number): Json {
  const alternatives = Array.from({ length: top }, (_, j) => (j === 0 ? token : { text: `alt${j}`, logprob: token.logprob - j }));
  const entry = (t: Token) => ({ token: t.text, logprob: t.logprob, bytes: bytesOf(t.text) });
  return { ...entry(token), top_logprobs: alternatives.map(entry) };
}

/** Completions' logprobs for consecutive tokens, offsets counted from `offset`. */
function textLogprobs(tokens: Token[], top: number, offset: number): Json {
  const text_offset: number[] = [];
  let at = offset;
  for (const token of tokens) {
    text_offset.push(at);
    at += codePoints(token.text);
  }
  const tops = tokens.map((token) => Object.fromEntries(Array.from({ length: top + 1 }, (_, j) => (j === 0 ? [token.text, token.logprob] : [`alt${j}`, token.logprob - j]))));
  return { text_offset, token_logprobs: tokens.map((t) => t.logprob), tokens: tokens.map((t) => t.text), top_logprobs: tops };
}

function usageOf(body: Json, chat: boolean, choices: Generated[]) {
  const prompt = promptsOf(body, chat).reduce((sum, text) => sum + Math.max(1, Math.ceil(JSON.stringify(chat ? body.messages : text).length / 4)), 0);
  const completion = choices.reduce((sum, choice) => sum + choice.tokens.length, 0);
  return { prompt_tokens: prompt, total_tokens: prompt + completion, completion_tokens: completion };
}

export function sample(res: Reply, body: Json, chat: boolean): void {
  const promptLogprobs = typeof body.prompt_logprobs === "number" ? body.prompt_logprobs : null;
  const stream = body.stream === true && body.model !== "sampler-json";
  if (stream && promptLogprobs !== null && (promptLogprobs > 0 || promptLogprobs === -1)) {
    res.writeHead(400, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: "`prompt_logprobs` are not available when `stream=True`.", type: "BadRequestError", param: "prompt_logprobs", code: 400 } }));
    return;
  }
  const choices = generate(body, chat);
  const base = { id: chat ? "chatcmpl-sampler" : "cmpl-sampler", created: Math.floor(Date.now() / 1000), model: String(body.model) };
  const chatTop = body.logprobs === true ? (typeof body.top_logprobs === "number" ? body.top_logprobs : 0) : null;
  const textTop = !chat && typeof body.logprobs === "number" ? body.logprobs : null;
  const usage = usageOf(body, chat, choices);
  if (!stream) {
    const answer = choices.map((choice) => {
      const text = choice.tokens.map((t) => t.text).join("");
      const end = { finish_reason: choice.finish, stop_reason: choice.stopReason };
      if (chat) {
        const logprobs = chatTop === null ? null : { content: choice.tokens.map((t) => chatEntry(t, chatTop)) };
        return { index: choice.index, message: { role: "assistant", content: text, reasoning: null, tool_calls: [] }, logprobs, ...end };
      }
      const logprobs = textTop === null ? null : textLogprobs(choice.tokens, textTop, 0);
      return { index: choice.index, text, logprobs, ...end, ...(promptLogprobs === null ? {} : { prompt_logprobs: [null, { "1": { logprob: -1, rank: 1, decoded_token: "x" } }] }) };
    });
    const extra = chat && promptLogprobs !== null ? { prompt_logprobs: [null, { "1": { logprob: -1, rank: 1, decoded_token: "x" } }] } : {};
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ ...base, object: chat ? "chat.completion" : "text_completion", choices: answer, usage, ...extra }));
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
  const object = chat ? "chat.completion.chunk" : "text_completion";
  const frame = (choice: Json) => res.write(`data: ${JSON.stringify(chat ? { ...base, object, choices: [choice] } : { ...base, object, choices: [choice], usage: null })}\n\n`);
  if (chat) for (const choice of choices) frame({ index: choice.index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null });
  const sent = new Map<number, number>();
  const longest = Math.max(...choices.map((choice) => choice.tokens.length));
  for (let k = 0; k < longest; k += 1) {
    for (const choice of choices) {
      const token = choice.tokens[k];
      if (!token) continue;
      const last = k === choice.tokens.length - 1;
      const end = last ? { finish_reason: choice.finish, stop_reason: choice.stopReason } : { finish_reason: null };
      if (chat) {
        frame({ index: choice.index, delta: { content: token.text }, logprobs: chatTop === null ? null : { content: [chatEntry(token, chatTop)] }, ...end });
      } else {
        const offset = sent.get(choice.index) ?? 0;
        sent.set(choice.index, offset + codePoints(token.text));
        frame({ index: choice.index, text: token.text, logprobs: textTop === null ? null : textLogprobs([token], textTop, offset), ...end, ...(last ? {} : { stop_reason: null }) });
      }
    }
  }
  if ((body.stream_options as Json | undefined)?.include_usage) res.write(`data: ${JSON.stringify({ ...base, object, choices: [], usage })}\n\n`);
  res.end("data: [DONE]\n\n");
}
