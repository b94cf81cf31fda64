/**
 * Reads an origin's SSE answer to its end and hands the client the JSON answer assembled from it (see
 * convert/assembly.ts). Nothing reaches the client before the stream is complete, so every way a stream can fail —
 * an error frame, a cut connection, silence, no `[DONE]` — becomes the HTTP error the JSON request would have
 * met, never a 200 with part of an answer.
 */
import type { Assembler } from "../convert/assembly";
import { isJsonObject } from "../http/body";
import { GatewayError } from "../http/errors";
import type { Target } from "../routing/resolve";
import { errorPartsOf, originError } from "./errors";
import { originLabel, type OriginCall } from "./origin";
import { withReasoningField, type ReasoningField } from "./reasoning-field";
import { dataOf } from "./sse-relay";
import { forwardedHeaders, usageOf, type JsonAnswer, type UsageReport } from "./respond";

export interface AssembleOptions {
  publicModel: string;
  /** Prompt tokens to account when the origin never reports usage. */
  promptEstimate: number;
  /** The provider's reasoning_field, for a chat answer relayed as chat (as relayJson renames it). */
  reasoningField?: ReasoningField | undefined;
}

/** What the stream carried besides its chunks. */
interface StreamTally {
  dataEvents: number;
  firstEventAt: number | undefined;
  done: boolean;
}

/** Feeds one event to the assembler; throws the error an error frame or an unreadable event stands for. */
function takeEvent(raw: string, assembler: Assembler, tally: StreamTally, target: Target): void {
  const data = dataOf(raw);
  if (data === null || tally.done) return;
  if (data === "[DONE]") {
    tally.done = true;
    return;
  }
  tally.firstEventAt ??= Date.now();
  let chunk: unknown;
  try {
    chunk = JSON.parse(data);
  } catch {
    throw new GatewayError(502, `origin for ${originLabel(target)} sent a stream event that is not JSON`, "invalid_upstream_response");
  }
  // An error frame (vLLM sends one when generation fails mid-way) is the error its JSON answer would have been.
  if (data.includes('"error"') && errorPartsOf(chunk)) throw originError(200, data, { provider: target.provider.name, key: target.key.name });
  if (!isJsonObject(chunk)) throw new GatewayError(502, `origin for ${originLabel(target)} sent a stream event that is not a JSON object`, "invalid_upstream_response");
  tally.dataEvents += 1;
  assembler.add(chunk);
}

/** The next read, within the provider's stream idle timeout. */
async function readWithin(reader: ReadableStreamDefaultReader<Uint8Array>, call: OriginCall, target: Target): Promise<ReadableStreamReadResult<Uint8Array>> {
  let idle = false;
  const timer = setTimeout(() => {
    idle = true;
    call.abort("stream idle timeout");
  }, target.provider.streamIdleTimeoutMs);
  try {
    return await reader.read();
  } catch (thrown) {
    if (!idle) throw call.readFailure(thrown);
    const seconds = target.provider.streamIdleTimeoutMs / 1000;
    throw new GatewayError(504, `origin for ${originLabel(target)} sent nothing for ${seconds} s (network_config.stream_idle_timeout_in_seconds)`, "stream_idle_timeout");
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Cuts SSE text into events as it arrives. The unfinished rest is kept as pieces and joined once its event ends, so
 * an event cut into many reads costs its length, however long; a CR at a read's end waits for a possible LF.
 */
export class EventSplitter {
  private pieces: string[] = [];
  private endsWithNewline = false;
  private carry = "";

  /** The events `chunk` completes (at the end of the stream, whatever is left too). */
  push(chunk: string, atEnd: boolean): string[] {
    let text = this.carry + chunk;
    this.carry = "";
    if (!atEnd && text.endsWith("\r")) {
      this.carry = "\r";
      text = text.slice(0, -1);
    }
    if (text.includes("\r")) text = text.replace(/\r\n?/g, "\n");
    const completes = text.includes("\n\n") || (this.endsWithNewline && text.startsWith("\n"));
    if (text !== "") {
      this.pieces.push(text);
      this.endsWithNewline = text.endsWith("\n");
    }
    if (!completes && !atEnd) return [];
    const buffer = this.pieces.join("");
    const events: string[] = [];
    let from = 0;
    for (let boundary = buffer.indexOf("\n\n"); boundary !== -1; boundary = buffer.indexOf("\n\n", from)) {
      events.push(buffer.slice(from, boundary));
      from = boundary + 2;
    }
    const rest = buffer.slice(from);
    this.pieces = rest === "" || atEnd ? [] : [rest];
    this.endsWithNewline = rest.endsWith("\n");
    if (atEnd && rest.trim() !== "") events.push(rest.replace(/\n+$/, ""));
    return events;
  }
}

/** Reads the stream into the assembler until `[DONE]`; throws for anything short of a complete stream. */
async function readStream(reader: ReadableStreamDefaultReader<Uint8Array>, call: OriginCall, target: Target, assembler: Assembler): Promise<StreamTally> {
  const tally: StreamTally = { dataEvents: 0, firstEventAt: undefined, done: false };
  const decoder = new TextDecoder();
  const splitter = new EventSplitter();
  for (;;) {
    const { done, value } = await readWithin(reader, call, target);
    const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
    for (const event of splitter.push(text, done)) takeEvent(event, assembler, tally, target);
    if (tally.done) return tally;
    if (done) throw new GatewayError(502, `origin for ${originLabel(target)} ended its stream before completion (no [DONE])`, "stream_truncated");
  }
}

/** Reads what follows [DONE] to the end, so the origin connection closes normally. */
function drain(reader: ReadableStreamDefaultReader<Uint8Array>): void {
  const rest = async () => {
    while (!(await reader.read()).done);
  };
  rest().catch(() => undefined);
}

/** The JSON answer assembled from an origin's successful event stream. */
export async function relayAssembled(call: OriginCall, target: Target, assembler: Assembler, options: AssembleOptions): Promise<JsonAnswer> {
  const body = call.response.body;
  if (!body) throw new GatewayError(502, `origin for ${originLabel(target)} returned an empty stream`, "stream_truncated");
  // The request timer covers time to headers; from here the stream idle timeout applies, as for a stream.
  call.stopTimer();
  const reader = body.getReader();
  let tally: StreamTally;
  try {
    tally = await readStream(reader, call, target, assembler);
  } catch (error) {
    call.abort("stream failed");
    await reader.cancel().catch(() => undefined);
    throw error;
  }
  drain(reader);
  const answer = assembler.answer();
  // The client's model name, where the origin named the model it serves (as relayJson does).
  if (answer.model === target.upstreamModel) answer.model = options.publicModel;
  const text = JSON.stringify((options.reasoningField && withReasoningField(answer, options.reasoningField)) || answer);
  // As for a stream: the usage chunk's numbers, or when the origin never sent one, the prompt estimate and a token
  // per chunk received.
  const usage: UsageReport = {
    ...(usageOf(answer.usage) ?? { promptTokens: options.promptEstimate, completionTokens: tally.dataEvents, estimated: true }),
    firstTokenAt: tally.firstEventAt,
    responseBody: text,
  };
  // vLLM's load report and metadata headers come with the stream's headers, as with a JSON answer.
  return { response: new Response(text, { status: 200, headers: forwardedHeaders(call.response.headers, "application/json") }), body: answer, usage: Promise.resolve(usage) };
}
