/**
 * A multipart/form-data parser that looks at every byte once: part bodies are searched for the delimiter with a
 * native byte search, a delimiter cut by a chunk edge is carried over as the length of its matched prefix (never
 * copied), part headers are capped, and only the fields the gateway reads (`model`, `stream`) are collected, each
 * capped; files and other fields pass through unread.
 */
import { GatewayError, badRequest } from "./errors";

const CR = 13;
const LF = 10;
const DASH = 45;
const SPACE = 32;
const TAB = 9;

/** The most bytes a field the gateway reads (model, stream) may hold. */
export const MAX_FIELD_BYTES = 1024;
/** The most bytes one part's headers (and the rest of its boundary line) may take. */
export const MAX_PART_HEADER_BYTES = 8 * 1024;
/** The fields the gateway reads; every other part streams through unread. */
const READ_FIELDS: ReadonlySet<string> = new Set(["model", "stream"]);

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/** A field the gateway reads, with the absolute byte range of its value in the upload. */
export interface FieldValue {
  name: string;
  /** Offset of the value's first byte in the upload. */
  start: number;
  /** Offset just past the value's last byte (where the next delimiter's CRLF begins). */
  end: number;
  bytes: Uint8Array;
}

interface OpenField {
  name: string;
  start: number;
  buffer: Uint8Array;
  size: number;
}

type State = "body" | "boundary-line" | "headers" | "epilogue";

function malformed(detail: string): GatewayError {
  return badRequest(`malformed multipart body: ${detail}`, "invalid_request");
}

/** The `name` parameter of a Content-Disposition value (`form-data; name="model"`), quotes and escapes undone. */
export function dispositionName(value: string): string | undefined {
  const param = /\s*;\s*([^\s=;]+)\s*(?:=\s*(?:"((?:[^"\\]|\\[\s\S])*)"|([^;]*)))?/y;
  param.lastIndex = value.indexOf(";");
  if (param.lastIndex < 0) return undefined;
  while (param.lastIndex < value.length) {
    const match = param.exec(value);
    if (!match) return undefined;
    if (match[1]?.toLowerCase() === "name") return match[2] !== undefined ? match[2].replace(/\\([\s\S])/g, "$1") : (match[3] ?? "").trim();
  }
  return undefined;
}

function partName(headers: Uint8Array): string | undefined {
  for (const line of utf8.decode(headers).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === "content-disposition") return dispositionName(line.slice(colon + 1));
  }
  return undefined;
}

/**
 * An incremental multipart/form-data parser: feed it the body chunk by chunk with {@link push}; it keeps no bytes of
 * its own beyond a part's headers (capped) and the values of the fields it reads (capped), and does work
 * proportional to the bytes it is given. It throws a 400 GatewayError for a body it cannot accept.
 */
export class MultipartScanner {
  /** `\r\n--boundary`: every delimiter, including the first, which is read as if the body began with CRLF. */
  private readonly delimiter: Uint8Array;
  private state: State = "body";
  /** How many delimiter bytes the data seen so far ends with (a delimiter cut by a chunk edge). */
  private matched = 2;
  /** Absolute offset of the chunk being scanned. */
  private offset = 0;
  private field: OpenField | undefined;
  /** Bytes of the boundary line read after the delimiter, and where in it the scanner is. */
  private lineLength = 0;
  private lineState: "start" | "dash" | "padding" | "cr" = "start";
  private readonly header = new Uint8Array(MAX_PART_HEADER_BYTES + 4);
  private headerLength = 0;
  /** The fields read whole, by name. */
  readonly fields = new Map<string, FieldValue>();
  /** Bytes scanned so far. */
  get bytes(): number {
    return this.offset;
  }

  constructor(boundary: string) {
    // RFC 2046: 1–70 characters, none of them CR or LF (a little more is tolerated). The linear search relies on CR
    // appearing only at the delimiter's start.
    if (boundary.length === 0 || boundary.length > 200 || /[\r\n]/.test(boundary)) throw badRequest("the multipart boundary is invalid", "invalid_request");
    this.delimiter = encoder.encode(`\r\n--${boundary}`);
  }

  /** The field being read, by name, when a part has begun but not ended. */
  get openField(): string | undefined {
    return this.field?.name;
  }

  push(chunk: Uint8Array): void {
    let index = 0;
    while (index < chunk.length) {
      switch (this.state) {
        case "body":
          index = this.scanBody(chunk, index);
          break;
        case "boundary-line":
          index = this.scanBoundaryLine(chunk, index);
          break;
        case "headers":
          index = this.scanHeaders(chunk, index);
          break;
        case "epilogue":
          index = chunk.length;
          break;
      }
    }
    this.offset += chunk.length;
  }

  /** Part data: kept only for a field being read, and only up to its cap. */
  private data(source: Uint8Array, from: number, to: number): void {
    const field = this.field;
    if (!field || to <= from) return;
    if (field.size + (to - from) > MAX_FIELD_BYTES) {
      throw badRequest(`the ${field.name} field is longer than ${MAX_FIELD_BYTES} bytes`, "invalid_request", field.name);
    }
    field.buffer.set(source.subarray(from, to), field.size);
    field.size += to - from;
  }

  /** Searches part data (or the preamble) for the delimiter; returns where scanning goes on. */
  private scanBody(chunk: Uint8Array, from: number): number {
    const delimiter = this.delimiter;
    let index = from;
    if (this.matched > 0) {
      // A delimiter begun in the previous chunk: its bytes are delimiter[0, matched).
      let matched = this.matched;
      while (matched < delimiter.length && index < chunk.length && chunk[index] === delimiter[matched]) {
        matched++;
        index++;
      }
      if (matched === delimiter.length) return this.delimiterFound(index);
      if (index === chunk.length) {
        this.matched = matched;
        return index;
      }
      // Not a delimiter after all: those bytes were data. CR occurs only at the delimiter's start, so no other
      // delimiter can begin inside them; the search resumes at the mismatching byte.
      this.matched = 0;
      this.data(delimiter, 0, matched);
    }
    const start = index;
    for (;;) {
      const cr = chunk.indexOf(CR, index);
      if (cr === -1) {
        this.data(chunk, start, chunk.length);
        return chunk.length;
      }
      let matched = 0;
      let at = cr;
      while (matched < delimiter.length && at < chunk.length && chunk[at] === delimiter[matched]) {
        matched++;
        at++;
      }
      if (matched === delimiter.length) {
        this.data(chunk, start, cr);
        return this.delimiterFound(at);
      }
      if (at === chunk.length) {
        this.data(chunk, start, cr);
        this.matched = matched;
        return at;
      }
      // The bytes matched after this CR hold no CR, so the next search starts past them: linear overall.
      index = cr + 1;
    }
  }

  /** A whole delimiter ends just before `end` in the current chunk: the open part (if any) ends where it began. */
  private delimiterFound(end: number): number {
    this.matched = 0;
    const field = this.field;
    if (field) {
      this.fields.set(field.name, { name: field.name, start: field.start, end: this.offset + end - this.delimiter.length, bytes: field.buffer.subarray(0, field.size) });
      this.field = undefined;
    }
    this.state = "boundary-line";
    this.lineState = "start";
    this.lineLength = 0;
    return end;
  }

  /** After a delimiter: `--` (the last one), or optional padding and CRLF before the next part's headers. */
  private scanBoundaryLine(chunk: Uint8Array, from: number): number {
    let index = from;
    while (index < chunk.length) {
      const byte = chunk[index++];
      if (++this.lineLength > MAX_PART_HEADER_BYTES) throw malformed("a boundary line does not end");
      if (this.lineState === "start" && byte === DASH) {
        this.lineState = "dash";
        continue;
      }
      switch (this.lineState) {
        case "start":
        case "padding":
          if (byte === CR) this.lineState = "cr";
          else if (byte === SPACE || byte === TAB) this.lineState = "padding";
          else throw malformed("a boundary is followed by something other than a line end");
          break;
        case "dash":
          if (byte !== DASH) throw malformed("a boundary is followed by something other than a line end");
          this.state = "epilogue";
          return chunk.length;
        case "cr":
          if (byte !== LF) throw malformed("a boundary line does not end with CRLF");
          this.state = "headers";
          // The header block is read as if it began with this CRLF, so it always ends with CRLF CRLF.
          this.header[0] = CR;
          this.header[1] = LF;
          this.headerLength = 2;
          return index;
      }
    }
    return index;
  }

  /** A part's headers, up to the blank line; capped. */
  private scanHeaders(chunk: Uint8Array, from: number): number {
    const header = this.header;
    let index = from;
    while (index < chunk.length) {
      const byte = chunk[index++] as number;
      if (this.headerLength - 2 >= MAX_PART_HEADER_BYTES) {
        throw badRequest(`a multipart part's headers are longer than ${MAX_PART_HEADER_BYTES} bytes`, "invalid_request");
      }
      header[this.headerLength++] = byte;
      const n = this.headerLength;
      if (byte === LF && header[n - 2] === CR && header[n - 3] === LF && header[n - 4] === CR) {
        this.beginPart(header.subarray(2, n - 2), this.offset + index);
        return index;
      }
    }
    return index;
  }

  private beginPart(headers: Uint8Array, start: number): void {
    const name = partName(headers);
    if (name !== undefined && READ_FIELDS.has(name)) {
      if (this.fields.has(name)) throw badRequest(`the multipart body has more than one ${name} field`, "invalid_request", name);
      this.field = { name, start, buffer: new Uint8Array(MAX_FIELD_BYTES), size: 0 };
    }
    this.state = "body";
    this.matched = 0;
  }
}
