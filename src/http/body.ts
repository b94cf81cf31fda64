import { GatewayError, badRequest } from "./errors";

const MIB = 1024 * 1024;

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A limit as people write it: whole MiB when it is a whole number of them, else KiB (the admin API's 256 KiB). */
function sizeText(bytes: number): string {
  return bytes % MIB === 0 ? `${bytes / MIB} MiB` : `${Math.floor(bytes / 1024)} KiB`;
}

function tooLarge(limitBytes: number): GatewayError {
  return new GatewayError(413, `request body is larger than the ${sizeText(limitBytes)} limit`, "request_too_large");
}

/** Rejects a declared Content-Length above the limit before any byte is read; answers whether one was declared. */
export function checkDeclaredLength(request: Request, limitBytes: number): boolean {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limitBytes) throw tooLarge(limitBytes);
  return declared !== null;
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

/** Invalid UTF-8 reads as U+FFFD, as `Request.text()` decodes it. */
const utf8 = new TextDecoder();

/**
 * The whole body as text, refused as soon as it grows past the limit. A declared Content-Length is enforced by the
 * runtime, so that body is read and decoded in one native step (no ArrayBuffer and typed array per request: measurably
 * cheaper on the hot path); a chunked upload is read piece by piece.
 */
async function readBodyText(request: Request, limitBytes: number): Promise<string> {
  if (checkDeclaredLength(request, limitBytes)) return request.text();
  if (!request.body) return "";
  const bytes = await readAtMost(request.body, limitBytes);
  if (!bytes) throw tooLarge(limitBytes);
  return utf8.decode(bytes);
}

/**
 * How deep a body's arrays and objects may nest. JSON.parse takes any depth, but JSON.stringify recurses — the
 * body forwarded upstream, an answer echoing the request's tools, a stored response — and runs out of stack
 * thousands of levels down, after the origin may already have run; Python's parser in vLLM stops near a thousand.
 * Real bodies (tool schemas included) nest tens of levels.
 */
export const MAX_JSON_DEPTH = 256;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether JSON text nests arrays and objects deeper than `limit` (strings skipped, escapes included). */
export function nestsDeeperThan(text: string, limit: number): boolean {
  // Each level takes an opening and a closing character: shorter text cannot nest deeper.
  if (text.length <= 2 * limit) return false;
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === BACKSLASH) index += 1;
      else if (code === QUOTE) inString = false;
    } else if (code === QUOTE) inString = true;
    else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      depth += 1;
      if (depth > limit) return true;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth -= 1;
  }
  return false;
}

/** Parses the request body as a JSON object — the one parse the request gets. */
export async function readJsonObject(request: Request, limitBytes: number): Promise<JsonObject> {
  const text = await readBodyText(request, limitBytes);
  if (text === "") throw badRequest("request body is empty; expected a JSON object", "invalid_json");
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw badRequest(`request body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`, "invalid_json");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : "syntax error";
    throw badRequest(`request body is not valid JSON: ${detail}`, "invalid_json");
  }
  if (!isJsonObject(parsed)) throw badRequest("request body must be a JSON object", "invalid_json");
  return parsed;
}

export function mebibytes(value: number): number {
  return value * MIB;
}
