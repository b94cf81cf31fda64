/**
 * Relays an origin's SSE stream to the client event by event, as soon as each arrives. It rewrites only what it
 * must (the model name when it differs, the usage-only chunk the gateway asked for, the reasoning field's name when
 * a provider or request chose one), watches for error frames and
 * usage, and never lets a broken stream look finished: an origin that stops without `[DONE]`, goes silent, or drops
 * the connection ends the client's stream with an error event its SDK raises.
 */
import { CLIENT_CLOSED } from "../observability/log-row";
import { errorPartsOf } from "./errors";
import type { ChatChunk } from "../convert/chat-types";
import { modelRewrite, rewriteModelInJson, type ModelRewrite } from "./model-rewrite";
import { renameReasoningInJson, type ReasoningField } from "./reasoning-field";
import type { SseEvent, StreamConverter } from "./stream-converter";

export interface StreamUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

export type StreamOutcome = "completed" | "error_frame" | "invalid_frame" | "truncated" | "idle_timeout" | "upstream_failed" | "client_cancelled";

export interface RelaySummary {
  outcome: StreamOutcome;
  usage: StreamUsage | null;
  /** Data events forwarded, a proxy for tokens received when usage never arrived. */
  dataEvents: number;
  /** When the first data event arrived from the origin, ms since the epoch. */
  firstEventAt: number | undefined;
  /** Why a stream that did not complete failed: the error frame's own code, or how the stream broke. */
  failureCode?: string | undefined;
}

export interface FirstFrameError {
  /** The first event was not JSON at all (not an error frame): the origin's answer is unusable. */
  invalid?: true;
  message: string;
  type?: string;
  param?: string | null;
  code?: string | number | null;
}

export interface RelayOptions {
  servedModel: string;
  publicModel: string;
  /** The gateway added stream_options.include_usage; the client did not ask for the usage-only chunk. */
  dropUsageOnlyChunk: boolean;
  idleTimeoutMs: number;
  abortUpstream(reason: string): void;
  onEnd?(summary: RelaySummary): void;
  /** Re-expresses the chat stream in another API's events instead of relaying it. */
  converter?: StreamConverter | undefined;
  /** Chat relay: the name each delta's reasoning goes out under; absent, chunks keep the origin's spelling. */
  reasoningField?: ReasoningField | undefined;
  /**
   * While the origin is silent this long, the client gets a `: keep-alive` comment (every SSE client ignores them),
   * so proxies with idle cut-offs (about 120 s through Cloudflare Tunnel) never end a long prefill. It is also how
   * long the response waits for the origin's first event before it starts anyway.
   */
  keepAliveMs: number;
}

const encoder = new TextEncoder();
const KEEP_ALIVE = encoder.encode(": keep-alive\n\n");
/**
 * About how much text one pull hands the client. Memory stays flat however long the stream: a long event (a
 * Responses closing event repeating the whole answer) goes out in pieces as the client reads, never encoded whole.
 */
const PULL_CHARS = 64 * 1024;

const INVALID_FRAME = "origin sent a stream event that is not JSON";

function errorEvent(message: string, code: string): string {
  return `data: ${JSON.stringify({ error: { message, type: "upstream_error", param: null, code } })}\n\n`;
}

export class SseRelay {
  readonly stream: ReadableStream<Uint8Array>;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffer = "";
  /** Output not yet handed to the client, in order: event text, and long events still yielding their pieces. */
  private pending: (string | Iterator<string>)[] = [];
  private sawDone = false;
  private sawError = false;
  private finished = false;
  /** The converter has emitted its terminal events; anything after is ignored. */
  private converterClosed = false;
  private reading: Promise<void> | null = null;
  private dataEvents = 0;
  private firstEventAt: number | undefined;
  private usage: StreamUsage | null = null;
  private firstError: FirstFrameError | null = null;
  /** The code of the first error frame the origin sent. */
  private errorCode: string | undefined;
  /** The final bytes wait for this (the request's settlement), so the client's next request sees exact numbers. */
  private endGate: Promise<unknown> | null = null;
  private readonly rewrite: ModelRewrite | null;

  constructor(
    upstream: ReadableStream<Uint8Array>,
    private readonly options: RelayOptions,
  ) {
    this.reader = upstream.getReader();
    this.rewrite = modelRewrite(options.servedModel, options.publicModel);
    this.stream = new ReadableStream<Uint8Array>(
      {
        pull: (controller) => this.pull(controller),
        cancel: () => this.cancel(),
      },
      { highWaterMark: 0 },
    );
  }

  /**
   * Reads until the first complete event. Returns the error when the stream opens with an error frame, so the
   * gateway can answer with a proper HTTP error instead of a 200 stream.
   */
  async open(): Promise<FirstFrameError | null> {
    // A long prefill must not hold the response back: after keepAliveMs it starts, and a later error is in-band.
    while (this.pending.length === 0 && !this.finished) if ((await this.readOrKeepAlive()) === "quiet") break;
    return this.firstError;
  }

  /** Holds the stream's final bytes until `until` settles. */
  holdEnd(until: Promise<unknown>): void {
    this.endGate = until;
  }

  private async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    // Loops until it enqueues or closes: a pull that returns with nothing would leave the client's read hanging.
    for (;;) {
      while (this.pending.length === 0 && !this.finished) {
        if ((await this.readOrKeepAlive()) === "quiet") {
          controller.enqueue(KEEP_ALIVE);
          return;
        }
      }
      if (this.finished && this.endGate) await this.endGate;
      const text = this.takePending();
      const last = this.finished && this.pending.length === 0;
      if (text !== "") controller.enqueue(encoder.encode(text));
      if (last) controller.close();
      if (text !== "" || last) return;
    }
  }

  /** Up to about PULL_CHARS of pending output, in order. */
  private takePending(): string {
    let text = "";
    let taken = 0;
    for (const head of this.pending) {
      if (text.length >= PULL_CHARS) break;
      if (typeof head === "string") {
        text += head;
        taken += 1;
        continue;
      }
      for (let piece = head.next(); ; piece = head.next()) {
        if (piece.done) {
          taken += 1;
          break;
        }
        text += piece.value;
        if (text.length >= PULL_CHARS) break;
      }
    }
    this.pending = taken === this.pending.length ? [] : this.pending.slice(taken);
    return text;
  }

  private queue(events: SseEvent[]): void {
    for (const event of events) this.pending.push(typeof event === "string" ? event : event.pieces()[Symbol.iterator]());
  }

  /** The next upstream read, or "quiet" when keepAliveMs pass first (the read stays pending for the next call). */
  private async readOrKeepAlive(): Promise<"read" | "quiet"> {
    this.reading ??= this.readOnce().finally(() => (this.reading = null));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const quiet = new Promise<"quiet">((resolve) => (timer = setTimeout(() => resolve("quiet"), this.options.keepAliveMs)));
    try {
      return await Promise.race([this.reading.then(() => "read" as const), quiet]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  private async readOnce(): Promise<void> {
    let idle = false;
    const timer = setTimeout(() => {
      idle = true;
      this.options.abortUpstream("stream idle timeout");
    }, this.options.idleTimeoutMs);
    try {
      const { done, value } = await this.reader.read();
      if (done) {
        this.consume(this.decoder.decode(), true);
        this.finish(this.sawError ? "error_frame" : "truncated");
      } else {
        this.consume(this.decoder.decode(value, { stream: true }), false);
      }
    } catch (thrown) {
      if (this.finished) return;
      const seconds = this.options.idleTimeoutMs / 1000;
      this.finish(idle ? "idle_timeout" : "upstream_failed", thrown, seconds);
    } finally {
      clearTimeout(timer);
    }
  }

  private consume(text: string, atEnd: boolean): void {
    if (text !== "") this.buffer += text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
    let boundary = this.buffer.indexOf("\n\n");
    while (boundary !== -1) {
      const raw = this.buffer.slice(0, boundary);
      this.buffer = this.buffer.slice(boundary + 2);
      if (raw !== "") this.handleEvent(raw);
      boundary = this.buffer.indexOf("\n\n");
    }
    if (atEnd && this.buffer.trim() !== "") {
      const raw = this.buffer.replace(/\n+$/, "");
      this.buffer = "";
      this.handleEvent(raw, true);
    }
  }

  /** `cut`: the text the stream ended with, no blank line after it (an event the connection may have cut short). */
  private handleEvent(raw: string, cut = false): void {
    // Nothing after [DONE] is part of the answer.
    if (this.finished) return;
    const data = dataOf(raw);
    if (data === null) {
      this.pending.push(`${raw}\n\n`); // comments and keep-alives pass through
      return;
    }
    if (data === "[DONE]") {
      if (this.sawDone) return;
      this.sawDone = true;
      if (this.options.converter) this.convertEnd(() => this.options.converter?.doneEvents() ?? []);
      // vLLM sends [DONE] after an error frame too: the stream ends with the error, not a clean finish.
      else if (!this.sawError) this.pending.push("data: [DONE]\n\n");
      // The answer is complete (vLLM may send [DONE] after an error frame: still a failure).
      this.finish(this.sawError ? "error_frame" : "completed");
      this.drainUpstream();
      return;
    }
    let parsed: unknown;
    const parse = () => (parsed ??= safeParse(data));
    const isFirst = this.firstEventAt === undefined;
    if (isFirst) this.firstEventAt = Date.now();
    // A data event that is not JSON cannot be relayed or converted: the SDKs throw on it. The stream ends with an
    // error event instead, as a JSON answer with such an event is a 502. A converter parses every event anyway; the
    // chat relay parses none it need not, so there an event must begin and end as an object does (a page, a
    // truncated frame do not).
    const broken = this.options.converter ? parse() === undefined : !framedAsObject(data);
    if (broken) return cut ? undefined : this.invalidFrame(isFirst);
    const parts = data.includes('"error"') ? errorPartsOf(parse()) : undefined;
    if (parts) {
      this.sawError = true;
      this.errorCode ??= parts.code === undefined || parts.code === null ? (parts.type ?? "stream_error_frame") : String(parts.code);
      if (isFirst) this.firstError = parts;
      if (this.options.converter) return this.convertEnd(() => this.options.converter?.failEvents(parts.message) ?? []);
    } else {
      // Chunks generated, a proxy for tokens when usage never arrives (an error frame generated nothing).
      this.dataEvents += 1;
    }
    if (this.options.converter) {
      const chunk = parse();
      if (typeof chunk === "object" && chunk !== null) {
        const { usage } = chunk as { usage?: unknown };
        if (typeof usage === "object" && usage !== null) this.usage = usage as StreamUsage;
        if (!this.converterClosed) this.queue(this.options.converter.chunkEvents(chunk as ChatChunk));
      }
      return;
    }
    if (data.includes('"usage"')) {
      const chunk = parse() as { usage?: unknown; choices?: unknown } | undefined;
      if (chunk && typeof chunk.usage === "object" && chunk.usage !== null) this.usage = chunk.usage as StreamUsage;
      if (this.options.dropUsageOnlyChunk && Array.isArray(chunk?.choices) && chunk.choices.length === 0) return;
    }
    const modelNamed = this.rewrite ? rewriteModelInJson(data, this.rewrite, parse) : data;
    const { reasoningField } = this.options;
    const rewritten = reasoningField ? renameReasoningInJson(modelNamed, reasoningField, modelNamed === data ? parse : () => safeParse(modelNamed)) : modelNamed;
    if (rewritten === data) {
      this.pending.push(`${raw}\n\n`);
      return;
    }
    // Keep any event:/id: lines; only the data payload changes.
    const head = raw.endsWith(data) ? raw.slice(0, raw.length - data.length) : "data: ";
    this.pending.push(`${head}${rewritten}\n\n`);
  }

  private invalidFrame(isFirst: boolean): void {
    if (isFirst) this.firstError = { invalid: true, message: INVALID_FRAME, code: "invalid_upstream_response" };
    this.finish("invalid_frame");
    this.options.abortUpstream("origin sent a stream event that is not JSON");
    this.reader.cancel().catch(() => undefined);
  }

  /** Emits a converter's terminal events once. */
  private convertEnd(events: () => SseEvent[]): void {
    if (this.converterClosed) return;
    this.converterClosed = true;
    this.queue(events());
  }

  private finish(outcome: StreamOutcome, thrown?: unknown, idleSeconds?: number): void {
    if (this.finished) return;
    this.finished = true;
    const failure =
      outcome === "truncated"
        ? { message: "origin stream ended before completion (no [DONE])", code: "stream_truncated" }
        : outcome === "idle_timeout"
          ? { message: `origin sent nothing for ${idleSeconds} s (network_config.stream_idle_timeout_in_seconds)`, code: "stream_idle_timeout" }
          : outcome === "upstream_failed"
            ? { message: `origin stream failed: ${thrown instanceof Error ? thrown.message : String(thrown)}`, code: "stream_interrupted" }
            : outcome === "invalid_frame"
              ? { message: INVALID_FRAME, code: "invalid_upstream_response" }
              : null;
    if (failure) {
      const { converter } = this.options;
      if (converter) this.convertEnd(() => converter.failEvents(failure.message));
      else this.pending.push(errorEvent(failure.message, failure.code));
    }
    const failureCode = outcome === "error_frame" ? this.errorCode : failure?.code;
    this.options.onEnd?.({ outcome, usage: this.usage, dataEvents: this.dataEvents, firstEventAt: this.firstEventAt, failureCode });
  }

  /** Reads whatever follows [DONE] to the end, so the origin connection closes normally. */
  private drainUpstream(): void {
    const drain = async () => {
      while (!(await this.reader.read()).done);
    };
    drain().catch(() => undefined);
  }

  private async cancel(): Promise<void> {
    const alreadyFinished = this.finished;
    this.finished = true;
    this.options.abortUpstream("client disconnected");
    await this.reader.cancel().catch(() => undefined);
    // Logged as the client's doing (not the origin's: the circuit breaker does not count it).
    if (!alreadyFinished) this.options.onEnd?.({ outcome: "client_cancelled", usage: this.usage, dataEvents: this.dataEvents, firstEventAt: this.firstEventAt, failureCode: CLIENT_CLOSED });
  }

  /** Stops relaying without a client cancel — used when the first frame turned into an HTTP error. */
  async discard(): Promise<void> {
    await this.cancel();
  }
}

/** The data payload of an event, or null for comment-only / data-less events. */
export function dataOf(raw: string): string | null {
  if (raw.startsWith("data:") && raw.indexOf("\n") === -1) return raw.charCodeAt(5) === 32 ? raw.slice(6) : raw.slice(5);
  let data: string | null = null;
  for (const line of raw.split("\n")) {
    if (!line.startsWith("data:")) continue;
    const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    data = data === null ? value : `${data}\n${value}`;
  }
  return data;
}

const SPACE = /\s/;

/** Whether text begins with `{` and ends with `}`, whitespace aside: the frame of every chunk an origin sends. */
function framedAsObject(text: string): boolean {
  let start = 0;
  let end = text.length - 1;
  while (start <= end && SPACE.test(text.charAt(start))) start += 1;
  while (end > start && SPACE.test(text.charAt(end))) end -= 1;
  return text.charAt(start) === "{" && text.charAt(end) === "}";
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
