import { GatewayError, badRequest } from "./errors";

const MIB = 1024 * 1024;

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function tooLarge(limitBytes: number): GatewayError {
  return new GatewayError(413, `request body is larger than the ${Math.floor(limitBytes / MIB)} MiB limit`, "request_too_large");
}

/** Rejects a declared Content-Length above the limit before any byte is read. */
export function checkDeclaredLength(request: Request, limitBytes: number): void {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limitBytes) throw tooLarge(limitBytes);
}

/** Reads the whole body, refusing it as soon as it grows past the limit (for chunked uploads with no length). */
export async function readBodyBytes(request: Request, limitBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    if (Number(declared) > limitBytes) throw tooLarge(limitBytes);
    // A declared length is enforced by the runtime, so the body can be read in one go.
    return new Uint8Array(await request.arrayBuffer());
  }
  if (!request.body) return new Uint8Array(0);
  const bytes = await readAtMost(request.body, limitBytes);
  if (!bytes) throw tooLarge(limitBytes);
  return bytes;
}

/** Reads a stream whole, or stops (cancelling it) and answers null as soon as it grows past `limitBytes`. */
export async function readAtMost(stream: ReadableStream<Uint8Array>, limitBytes: number): Promise<Uint8Array | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limitBytes) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export interface JsonRequestBody {
  body: JsonObject;
  /** Size on the wire, for a cheap prompt-size estimate. */
  byteLength: number;
}

/** Parses the request body as a JSON object — the one parse the request gets. */
export async function readJsonObject(request: Request, limitBytes: number): Promise<JsonObject> {
  return (await readJsonRequest(request, limitBytes)).body;
}

export async function readJsonRequest(request: Request, limitBytes: number): Promise<JsonRequestBody> {
  const bytes = await readBodyBytes(request, limitBytes);
  if (bytes.byteLength === 0) throw badRequest("request body is empty; expected a JSON object", "invalid_json");
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw badRequest("request body is not valid UTF-8", "invalid_json");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : "syntax error";
    throw badRequest(`request body is not valid JSON: ${detail}`, "invalid_json");
  }
  if (!isJsonObject(parsed)) throw badRequest("request body must be a JSON object", "invalid_json");
  return { body: parsed, byteLength: bytes.byteLength };
}

export function mebibytes(value: number): number {
  return value * MIB;
}
