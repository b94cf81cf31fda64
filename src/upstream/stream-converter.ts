/**
 * Turns an origin's chat-completion stream into another API's event stream (Responses, Anthropic Messages).
 *
 * Streams cost what they carry: a converter keeps no per-delta state beyond what a closing event must repeat, and
 * a long text that closing events repeat (the Responses API makes four events carry the whole answer) is kept once,
 * JSON-escaped, and spliced into each event as the client reads it — never built into one string per event.
 */
import type { ChatChunk } from "../convert/chat-types";
import type { JsonObject } from "../http/body";

/** An SSE event too long to build as one string: it yields its text in pieces as the relay reads them. */
export interface LongEvent {
  pieces(): Iterable<string>;
}

/** One SSE event for the client: its whole text, or a LongEvent. */
export type SseEvent = string | LongEvent;

export interface StreamConverter {
  /** Events for one chat chunk (usage chunks included). */
  chunkEvents(chunk: ChatChunk): SseEvent[];
  /** Events that finish the stream after the origin's `[DONE]`. */
  doneEvents(): SseEvent[];
  /** Events that end the stream after an origin failure (error frame, cut connection, idle timeout). */
  failEvents(message: string): SseEvent[];
}

/** An event's whole text (a LongEvent joined: only for events known to be short, or in tests). */
export function wholeEvent(event: SseEvent): string {
  return typeof event === "string" ? event : [...event.pieces()].join("");
}

/** A converter, plus its events as whole strings for callers that inspect them one by one (tests); the relay streams. */
export abstract class EventConverter implements StreamConverter {
  abstract chunkEvents(chunk: ChatChunk): SseEvent[];
  abstract doneEvents(): SseEvent[];
  abstract failEvents(message: string): SseEvent[];

  chunk(chunk: ChatChunk): string[] {
    return this.chunkEvents(chunk).map(wholeEvent);
  }

  done(): string[] {
    return this.doneEvents().map(wholeEvent);
  }

  fail(message: string): string[] {
    return this.failEvents(message).map(wholeEvent);
  }
}

/** About 64 K characters: big enough that a piece costs little, small enough that nothing is copied whole. */
const PIECE_CHARS = 64 * 1024;

/**
 * A text that grows by deltas and that several events repeat, kept once as JSON-escaped pieces. Deltas are joined
 * only until a piece is full: a rope of millions of tiny deltas would cost many times the text, and one flat string
 * would have to be copied whole to be escaped or encoded. In JSON it stands as `ref`, a string no client text can
 * forge (a random id made here), which `sseEvent` replaces with the pieces.
 */
export class LongText {
  readonly ref = `long-text:${crypto.randomUUID()}`;
  private readonly pieces: string[] = [];
  private tail = "";

  append(delta: string): void {
    this.tail += delta;
    if (this.tail.length >= PIECE_CHARS) this.seal();
  }

  /** The escaped text (without its quotes) in pieces; call once the text is complete. */
  escaped(): readonly string[] {
    this.seal();
    return this.pieces;
  }

  private seal(): void {
    if (this.tail === "") return;
    // JSON.stringify escapes each piece on its own: a surrogate pair split between pieces becomes two \u escapes,
    // which a JSON parser joins back into the same character.
    this.pieces.push(JSON.stringify(this.tail).slice(1, -1));
    this.tail = "";
  }
}

/**
 * An SSE event whose data may hold LongText refs: one without refs stays a string; one that repeats long texts
 * serialises its JSON skeleton now (its sequence number and fields fixed) and yields the texts' pieces in place
 * of their refs when read. The texts must be complete.
 */
export function sseEvent(type: string, data: JsonObject, texts: readonly LongText[]): SseEvent {
  const frame = `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
  const used = texts.filter((text) => frame.includes(`"${text.ref}"`));
  if (used.length === 0) return frame;
  // Seal them now: an event repeats a text as it was when the event was made.
  for (const text of used) text.escaped();
  return { pieces: () => splice(frame, used) };
}

function* splice(frame: string, texts: readonly LongText[]): Generator<string> {
  let from = 0;
  for (;;) {
    let next: { at: number; text: LongText } | null = null;
    for (const text of texts) {
      const at = frame.indexOf(`"${text.ref}"`, from);
      if (at !== -1 && (next === null || at < next.at)) next = { at, text };
    }
    if (next === null) break;
    // Keep the quotes around the ref; the escaped pieces go between them.
    yield frame.slice(from, next.at + 1);
    yield* next.text.escaped();
    from = next.at + next.text.ref.length + 1;
  }
  yield frame.slice(from);
}
