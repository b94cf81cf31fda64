/**
 * An origin asked for a stream may answer with one whole JSON completion instead (a proxy that buffers, a server
 * that ignores `stream`). A client that asked for a stream must still get one: its SDK waits for events and would
 * see none. The completion is re-expressed as the stream it would have been — one chunk per choice carrying all of
 * its content, a usage chunk, `[DONE]` — and relayed like any stream, so model names, usage, conversion to
 * Responses or Messages events and settlement work as they do for a real one. Anything that is not a successful
 * completion (an error body, something else) is left as it came, for the JSON relay to judge.
 */
import { isJsonObject, type JsonObject } from "../http/body";
import { errorPartsOf } from "./errors";
import type { OriginCall } from "./origin";
import { SSE_HEADERS, readText } from "./respond";

function chunkOf(completion: JsonObject, object: string, choices: unknown[], extra: JsonObject = {}): string {
  const chunk = { id: completion.id, object, created: completion.created, model: completion.model, choices, ...extra };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

/** A chat message as a delta: every field it has, its tool calls numbered as stream deltas number them. */
function deltaOf(message: JsonObject): JsonObject {
  const delta: JsonObject = { ...message };
  if (Array.isArray(message.tool_calls)) delta.tool_calls = message.tool_calls.map((call, index) => (isJsonObject(call) ? { index, ...call } : call));
  return delta;
}

/** The stream a completion would have been, or null when the body is not one. */
export function streamTextOf(body: unknown): string | null {
  if (!isJsonObject(body) || !Array.isArray(body.choices) || (errorPartsOf(body) && (body.error || body.object === "error"))) return null;
  const chat = body.object !== "text_completion";
  let text = "";
  for (const choice of body.choices) {
    if (!isJsonObject(choice)) return null;
    const { message, ...rest } = choice;
    const streamed = chat ? { ...rest, delta: isJsonObject(message) ? deltaOf(message) : {} } : rest;
    text += chunkOf(body, chat ? "chat.completion.chunk" : "text_completion", [streamed]);
  }
  if (isJsonObject(body.usage)) text += chunkOf(body, chat ? "chat.completion.chunk" : "text_completion", [], { usage: body.usage });
  return `${text}data: [DONE]\n\n`;
}

/**
 * The call with its JSON completion turned into an event stream, or — when the body is not a completion — with the
 * same body, to be relayed as JSON.
 */
export async function jsonAsStream(call: OriginCall): Promise<OriginCall> {
  const text = await readText(call);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const stream = streamTextOf(parsed);
  const response = stream === null ? new Response(text, { status: call.response.status, headers: call.response.headers }) : new Response(stream, { status: 200, headers: SSE_HEADERS });
  return { response, stopTimer: () => undefined, abort: call.abort, readFailure: call.readFailure };
}
