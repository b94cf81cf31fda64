/**
 * Reasoning as each generation of vLLM's chat endpoint spells it, for the fake vLLM. The served model picks one:
 *   think-new      vLLM 0.16 and later: `reasoning` alone
 *   think-legacy   vLLM 0.11.0 and earlier: `reasoning_content` alone
 *   think-both     vLLM 0.11.1 to 0.15: both, the same text (`reasoning_content` is a copy, so null where
 *                  `reasoning` is unset)
 *   think-trap-new / think-trap-legacy   as think-new / think-legacy, but the answer's text spells both field names
 *                  and an extra top-level object has members of both names: none of which is a reasoning field
 *   think-new-cut / think-legacy-cut     the stream breaks after the reasoning, before any usage
 */
type Json = Record<string, unknown>;

/** The part of node's ServerResponse used here (worker tests import this module's texts, without node's types). */
interface Reply {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(text: string): unknown;
  end(text?: string): unknown;
  destroy(): unknown;
}

export const REASONING_MODELS = ["think-new", "think-legacy", "think-both", "think-trap-new", "think-trap-legacy", "think-new-cut", "think-legacy-cut"];
export const REASONING_TEXT = "The user greets me. ";
export const TRAP_TEXT = 'Write {"reasoning_content": "x", "reasoning": "y"} or plain reasoning_content.';
/** Not a message or delta: a rename must leave it alone. */
export const TRAP_EXTRA = { reasoning: "elsewhere", reasoning_content: "elsewhere" };

type Spelling = "new" | "legacy" | "both";

function spellingOf(model: string): Spelling {
  return model.includes("legacy") ? "legacy" : model.includes("both") ? "both" : "new";
}

/** The reasoning members of a message or delta carrying `text` (null: none in this delta). */
function reasoningMembers(spelling: Spelling, text: string | null): Json {
  if (spelling === "new") return text === null ? {} : { reasoning: text };
  if (spelling === "legacy") return text === null ? {} : { reasoning_content: text };
  return text === null ? { reasoning_content: null } : { reasoning: text, reasoning_content: text };
}

export function reasoningScenario(res: Reply, body: Json, model: string): void {
  const spelling = spellingOf(model);
  const trap = model.startsWith("think-trap");
  const content = trap ? TRAP_TEXT : "Hello there!";
  const base = { id: "chatcmpl-think", created: 1, model, ...(trap ? { extra: TRAP_EXTRA } : {}) };
  const usage = { prompt_tokens: 12, total_tokens: 19, completion_tokens: 7 };
  if (!body.stream) {
    const message = { role: "assistant", content, ...reasoningMembers(spelling, REASONING_TEXT), tool_calls: [] };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ ...base, object: "chat.completion", choices: [{ index: 0, message, logprobs: null, finish_reason: "stop", stop_reason: null }], usage }));
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
  const frame = (choices: unknown[], extra: Json = {}) => res.write(`data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices, ...extra })}\n\n`);
  const delta = (d: Json, finish: string | null = null) => frame([{ index: 0, delta: { ...d, ...reasoningMembers(spelling, null) }, logprobs: null, finish_reason: finish }]);
  delta({ role: "assistant", content: "" });
  for (const part of REASONING_TEXT.split(/(?= )/)) frame([{ index: 0, delta: reasoningMembers(spelling, part), logprobs: null, finish_reason: null }]);
  if (model.endsWith("-cut")) {
    setTimeout(() => res.destroy(), 50); // the reasoning reaches the gateway, then the connection drops
    return;
  }
  for (const part of content.split(/(?= )/)) delta({ content: part });
  delta({}, "stop");
  if ((body.stream_options as Json | undefined)?.include_usage) frame([], { usage });
  res.end("data: [DONE]\n\n");
}
