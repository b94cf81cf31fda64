/**
 * Reads a multipart/form-data upload only as far as the gateway needs — its `model` field, so the request can be
 * routed and the origin's model name swapped in — while the rest of the body (the audio file) streams on untouched.
 *
 * The body is parsed once, incrementally, by a small state machine ({@link MultipartScanner}) that looks at every
 * byte once: part bodies are searched for the delimiter with a native byte search, a delimiter cut by a chunk edge is
 * carried over as the length of its matched prefix (at most boundary length + 3 bytes, never copied), part headers
 * are capped, and only the fields the gateway reads (`model`, `stream`) are collected, each capped; files and other
 * fields pass through unread. `model` may come after the file (curl's `-F file=@… -F model=…`), so the chunks read
 * before it are held — once, as the chunks themselves — and sent on from there; the head can grow up to the upload
 * limit and no further. The scanner keeps watching the rest of the body as it streams to the origin: a second `model`
 * or `stream` field (which the origin, not the gateway, would act on) fails the upload.
 */
import { GatewayError, badRequest } from "./errors";
import { MultipartScanner, type FieldValue } from "./multipart-scanner";

export { MAX_FIELD_BYTES, MAX_PART_HEADER_BYTES, dispositionName } from "./multipart-scanner";

const MIB = 1024 * 1024;
const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/** Form booleans as the origin (vLLM: pydantic) reads them. */
const TRUE_VALUES: ReadonlySet<string> = new Set(["true", "1", "yes", "on", "t", "y"]);

export interface MultipartHeadOptions {
  /** The most bytes the upload may hold (MAX_UPLOAD_BODY_MB); the held head never grows past it. */
  maxBytes: number;
}

export interface MultipartHead {
  model: string;
  /**
   * The `stream` field as far as the body has been read: read before `model`, or in the same chunks. Undefined when
   * none has been seen yet — it may still come later; {@link finalStream} reads on to be sure.
   */
  readonly stream: boolean | undefined;
  /**
   * Reads on — holding what it reads, within the upload limit — until a `stream` field has been read whole or the
   * body has ended, and gives its value (false when there is none). Resolves at once when `stream` came before
   * `model`. A second `stream` field after it still fails the upload (see {@link failure}).
   */
  finalStream(): Promise<boolean>;
  /** Why the upload failed while streaming to the origin (a second model or stream field, a malformed tail). */
  readonly failure: GatewayError | undefined;
  /** The upstream body: the bytes held with the model value replaced, then the rest of the upload. Call once. */
  body(upstreamModel: string, declaredLength: number | null): ReadableStream<Uint8Array>;
}

function asStreamFlag(field: FieldValue | undefined): boolean | undefined {
  if (!field) return undefined;
  return TRUE_VALUES.has(utf8.decode(field.bytes).trim().toLowerCase());
}

export async function readMultipartHead(upload: ReadableStream<Uint8Array>, boundary: string, options: MultipartHeadOptions): Promise<MultipartHead> {
  const scanner = new MultipartScanner(boundary);
  const reader = upload.getReader();
  /** The chunks read before the upstream body starts: the head, held once and sent as it is. */
  const held: Uint8Array[] = [];
  let ended = false;
  let failure: GatewayError | undefined;

  const fail = (error: unknown): never => {
    reader.cancel(error).catch(() => undefined);
    throw error;
  };
  /** Reads and scans one more chunk (held while the head is read); undefined at the end of the body. */
  const readMore = async (hold: boolean): Promise<Uint8Array | undefined> => {
    const { done, value } = await reader.read();
    if (done) {
      ended = true;
      return undefined;
    }
    if (scanner.bytes + value.byteLength > options.maxBytes) {
      const limit = `${Math.floor(options.maxBytes / MIB)} MiB`;
      if (!scanner.fields.has("model")) fail(badRequest(`the multipart body has no model field within its first ${limit}`, "invalid_request", "model"));
      fail(new GatewayError(413, `request body is larger than the ${limit} limit`, "request_too_large"));
    }
    try {
      scanner.push(value);
    } catch (error) {
      fail(error);
    }
    if (hold) held.push(value);
    return value;
  };

  while (!scanner.fields.has("model") && !ended) await readMore(true);
  const modelField = scanner.fields.get("model");
  if (!modelField) {
    const message = scanner.openField === "model" ? "the multipart body ends inside its model field" : "the multipart body has no model field";
    throw badRequest(message, "invalid_request", "model");
  }
  let sending = false;

  return {
    model: utf8.decode(modelField.bytes).trim(),
    get stream() {
      return asStreamFlag(scanner.fields.get("stream"));
    },
    get failure() {
      return failure;
    },
    async finalStream() {
      if (sending) throw new Error("finalStream() must come before body()");
      while (!scanner.fields.has("stream") && !ended) await readMore(true);
      return asStreamFlag(scanner.fields.get("stream")) ?? false;
    },
    body(upstreamModel, declaredLength) {
      if (sending) throw new Error("the upload can be sent only once");
      sending = true;
      const replacement = encoder.encode(upstreamModel);
      const pieces = heldPieces(held, modelField, replacement);
      const readable = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            const next = pieces.next();
            if (!next.done) return controller.enqueue(next.value);
            try {
              const value = await readMore(false);
              if (value) controller.enqueue(value);
              else controller.close();
            } catch (error) {
              failure = error instanceof GatewayError ? error : undefined;
              controller.error(error);
            }
          },
          cancel(reason) {
            return reader.cancel(reason);
          },
        },
        { highWaterMark: 0 },
      );
      if (declaredLength === null) return readable;
      // A known length keeps Content-Length on the upstream request instead of chunked encoding.
      const fixed = new FixedLengthStream(declaredLength - (modelField.end - modelField.start) + replacement.byteLength);
      readable.pipeTo(fixed.writable).catch(() => undefined);
      return fixed.readable;
    },
  };
}

/** The held chunks as views, the model value's bytes replaced; each chunk is let go once it has been sent. */
function* heldPieces(held: Uint8Array[], model: FieldValue, replacement: Uint8Array): Generator<Uint8Array> {
  let offset = 0;
  let replaced = false;
  for (let i = 0; i < held.length; i++) {
    const chunk = held[i] as Uint8Array;
    held[i] = EMPTY;
    const chunkEnd = offset + chunk.byteLength;
    if (offset < model.start) {
      const before = chunk.subarray(0, Math.min(chunk.byteLength, model.start - offset));
      if (before.byteLength > 0) yield before;
    }
    if (!replaced && chunkEnd >= model.start) {
      replaced = true;
      if (replacement.byteLength > 0) yield replacement;
    }
    if (chunkEnd > model.end) {
      const after = chunk.subarray(Math.max(0, model.end - offset));
      if (after.byteLength > 0) yield after;
    }
    offset = chunkEnd;
  }
  held.length = 0;
  if (!replaced && replacement.byteLength > 0) yield replacement;
}

const EMPTY = new Uint8Array(0);
