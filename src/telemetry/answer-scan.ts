/**
 * What a span says about an origin's answer — its id, the model that served it and each choice's finish reason —
 * read from the bytes as they pass, for JSON answers and SSE streams alike, without parsing or holding the body:
 * the relay parses only what it must, and a stream is never kept whole. OpenAI-compatible servers (vLLM among them)
 * write the answer's `id` and `model` before its choices, so the first of each is the answer's own; a
 * `"finish_reason":"…"` can only be a key and its value, since quotes inside JSON strings are escaped.
 */

export interface AnswerFacts {
  id?: string;
  model?: string;
  finishReasons: string[];
}

const FIELD = /"(id|model|finish_reason)"\s*:\s*"([^"\\]{1,256})"/g;
/** Longer than any match FIELD can make, so one split across two chunks is found whole in the next. */
const CARRY = 320;

export class AnswerScan {
  readonly facts: AnswerFacts = { finishReasons: [] };
  private readonly decoder = new TextDecoder();
  private carry = "";

  feed(bytes: Uint8Array): void {
    const text = this.carry + this.decoder.decode(bytes, { stream: true });
    let consumed = 0;
    for (const match of text.matchAll(FIELD)) {
      const [whole, key, value] = match;
      if (value === undefined) continue;
      if (key === "finish_reason") this.facts.finishReasons.push(value);
      else if (key === "id") this.facts.id ??= value;
      else this.facts.model ??= value;
      consumed = match.index + whole.length;
    }
    // A match already read must not be read again: the carry starts after the last one.
    this.carry = text.slice(Math.max(consumed, text.length - CARRY));
  }
}

/** The body, unchanged and pulled only as the reader pulls, with every chunk shown to `scan` on the way. */
export function scannedBody(body: ReadableStream<Uint8Array>, scan: AnswerScan): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        scan.feed(value);
        controller.enqueue(value);
      },
      // The reader going away reaches the origin, as it would without the scan.
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}
