/**
 * Reads a multipart/form-data upload only as far as its `model` field, so the gateway can route it and swap in
 * the origin's model name while the rest of the body — the audio file — streams on untouched. Byte offsets come
 * from a latin1 view of the bytes, which maps every byte to exactly one character.
 */
import { badRequest } from "./errors";

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder();
const encoder = new TextEncoder();
const MAX_FIELD_BYTES = 1024;

export interface MultipartHead {
  model: string;
  /** The `stream` field, when it came before `model`. */
  stream: boolean | undefined;
  /** The upstream body: the bytes read so far with the model value replaced, then the rest of the upload. */
  body(upstreamModel: string, declaredLength: number | null): ReadableStream<Uint8Array>;
}

interface FieldBounds {
  start: number;
  end: number;
}

function findField(text: string, name: string, delimiter: string): FieldBounds | undefined {
  const header = new RegExp(`content-disposition:[^\\r\\n]*;\\s*name="${name}"(?:;[^\\r\\n]*)?\\r\\n(?:[^\\r\\n]+\\r\\n)*\\r\\n`, "i");
  const match = header.exec(text);
  if (!match) return undefined;
  const start = match.index + match[0].length;
  const end = text.indexOf(delimiter, start);
  return end === -1 ? undefined : { start, end };
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

export async function readMultipartHead(upload: ReadableStream<Uint8Array>, boundary: string): Promise<MultipartHead> {
  const reader = upload.getReader();
  const delimiter = `\r\n--${boundary}`;
  const chunks: Uint8Array[] = [];
  let size = 0;
  let text = "";
  let model: FieldBounds | undefined;
  while (!model) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    text += latin1.decode(value, { stream: true });
    model = findField(text, "model", delimiter);
  }
  if (!model) throw badRequest("the multipart body has no model field", "invalid_request", "model");
  if (model.end - model.start > MAX_FIELD_BYTES) throw badRequest("the model field is too long", "invalid_request", "model");
  const streamField = findField(text.slice(0, model.start), "stream", delimiter);
  const head = concat(chunks, size);
  const before = head.subarray(0, model.start);
  const after = head.subarray(model.end);

  return {
    model: utf8.decode(head.subarray(model.start, model.end)).trim(),
    stream: streamField ? text.slice(streamField.start, streamField.end).trim().toLowerCase() === "true" : undefined,
    body(upstreamModel, declaredLength) {
      const replacement = encoder.encode(upstreamModel);
      const readable = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(before);
          controller.enqueue(replacement);
          controller.enqueue(after);
        },
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel(reason) {
          return reader.cancel(reason);
        },
      });
      if (declaredLength === null) return readable;
      // A known length keeps Content-Length on the upstream request instead of chunked encoding.
      const fixed = new FixedLengthStream(declaredLength - (model.end - model.start) + replacement.byteLength);
      readable.pipeTo(fixed.writable).catch(() => undefined);
      return fixed.readable;
    },
  };
}
