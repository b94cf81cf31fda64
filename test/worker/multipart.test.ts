/**
 * Multipart uploads: the head is read in linear time and within bounds — the parser looks at new bytes only, keeps
 * what it has read once, stops at caps — and `stream` is read wherever it sits in the body.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { GatewayError } from "../../src/http/errors";
import { MAX_FIELD_BYTES, MAX_PART_HEADER_BYTES, dispositionName, readMultipartHead } from "../../src/http/multipart-head";
import { configure, errorOf, gateway, origin, received, sseData } from "./helpers";

const BOUNDARY = "----gatewayBoundary7MA4YWxkTrZu0gW";
const encoder = new TextEncoder();
const MIB = 1024 * 1024;

interface Part {
  name: string;
  value: string | Uint8Array;
  filename?: string;
}

function concat(pieces: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(pieces.reduce((size, piece) => size + piece.byteLength, 0));
  let offset = 0;
  for (const piece of pieces) {
    bytes.set(piece, offset);
    offset += piece.byteLength;
  }
  return bytes;
}

/** A multipart/form-data body, built by hand so every byte is known. */
function multipart(parts: Part[], { boundary = BOUNDARY, preamble = "", epilogue = "" } = {}): Uint8Array {
  const pieces: Uint8Array[] = [encoder.encode(preamble)];
  for (const [index, part] of parts.entries()) {
    const disposition = `form-data; name="${part.name}"${part.filename === undefined ? "" : `; filename="${part.filename}"`}`;
    const type = part.filename === undefined ? "" : "Content-Type: audio/wav\r\n";
    pieces.push(encoder.encode(`${index === 0 && preamble === "" ? "" : "\r\n"}--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`));
    pieces.push(typeof part.value === "string" ? encoder.encode(part.value) : part.value);
  }
  pieces.push(encoder.encode(`\r\n--${boundary}--\r\n${epilogue}`));
  return concat(pieces);
}

/**
 * Audio-like bytes: every byte value, with near-delimiters planted every few KiB — CRLF, dashes and all of the
 * boundary but its last character — so a parser that matched too little or too much would cut the file. With
 * `bareBoundary`, also the whole boundary without the CRLF that would make it a delimiter (a body the fake vLLM's
 * Node parser cannot read, so only for the parser's own tests).
 */
function trickyFile(size: number, { bareBoundary = false } = {}, boundary = BOUNDARY): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = 2463534242;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  const near = [`\r\n--${boundary.slice(0, -1)}Z`, `\r\r\n--${boundary.slice(0, 10)}\r\n`, "\r\n-\r\n--", "\r\n\r\n", ...(bareBoundary ? [`x--${boundary}\r\n`] : [])].map((text) => encoder.encode(text));
  for (let at = 17, i = 0; at + 64 < size; at += 4099, i++) bytes.set(near[i % near.length] as Uint8Array, at);
  return bytes;
}

/** The body as a stream of `size`-byte chunks, counting what the reader pulled. */
function chunked(bytes: Uint8Array, size: number): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let offset = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (offset >= bytes.byteLength) return controller.close();
        controller.enqueue(bytes.slice(offset, offset + size));
        offset += size;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => Math.min(offset, bytes.byteLength) };
}

/** A body that never ends: `prefix`, then `filler` forever, counting what the reader pulled. */
function endless(prefix: string, filler: number, chunkSize = 4096): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  let first = true;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const chunk = first ? encoder.encode(prefix) : new Uint8Array(chunkSize).fill(filler);
        first = false;
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => pulled };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

const LIMIT = { maxBytes: 100 * MIB };

describe("the multipart head parser", () => {
  it("reads model and a later stream field fed in 1-byte (and other) chunks, and rebuilds the body with only model replaced", async () => {
    const file = trickyFile(40_000, { bareBoundary: true });
    const parts = (model: string): Part[] => [
      { name: "file", filename: "speech.wav", value: file },
      { name: "language", value: "en\r\n--not-a-boundary" },
      { name: "model", value: model },
      { name: "stream", value: "true" },
      { name: "response_format", value: "json" },
    ];
    const options = { preamble: `preamble\r\n--${BOUNDARY.slice(0, 8)}\r\n`, epilogue: "epilogue" };
    const original = multipart(parts("vllm/openai/whisper-small"), options);
    const expected = multipart(parts("openai/whisper-small"), options);
    for (const size of [1, 2, 3, 7, 41, 4096, original.byteLength]) {
      const { stream } = chunked(original, size);
      const head = await readMultipartHead(stream, BOUNDARY, LIMIT);
      expect(head.model, `chunks of ${size}`).toBe("vllm/openai/whisper-small");
      expect(await head.finalStream(), `chunks of ${size}`).toBe(true);
      expect(head.stream).toBe(true);
      const sent = await readAll(head.body("openai/whisper-small", null));
      expect(sent.byteLength, `chunks of ${size}`).toBe(expected.byteLength);
      expect(await sha256(sent), `chunks of ${size}`).toBe(await sha256(expected));
    }
    // A declared length keeps its Content-Length, adjusted for the new model name.
    const head = await readMultipartHead(chunked(original, 1000).stream, BOUNDARY, LIMIT);
    expect(await sha256(await readAll(head.body("openai/whisper-small", original.byteLength)))).toBe(await sha256(expected));
  });

  it("stops reading as soon as model is read when stream came before it, however much file follows", async () => {
    const before = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="stream"\r\n\r\nfalse\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\nvllm/openai/whisper-small\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n`;
    const upload = endless(before, 7);
    const head = await readMultipartHead(upload.stream, BOUNDARY, LIMIT);
    expect(head.model).toBe("vllm/openai/whisper-small");
    expect(head.stream).toBe(false);
    expect(await head.finalStream()).toBe(false);
    expect(upload.pulled()).toBe(encoder.encode(before).byteLength);
    // Without a stream field it stops at model too; only finalStream() reads on.
    const modelFirst = endless(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\nm\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n`, 7);
    const second = await readMultipartHead(modelFirst.stream, BOUNDARY, LIMIT);
    expect(second.stream).toBeUndefined();
    expect(modelFirst.pulled()).toBeLessThan(300);
  });

  it("answers 400 model for a body without a model field, finite or endless, reading no more than the limit", async () => {
    const finite = multipart([{ name: "file", filename: "a.wav", value: trickyFile(10_000) }, { name: "language", value: "en" }]);
    const missing = await refusal(readMultipartHead(chunked(finite, 1).stream, BOUNDARY, LIMIT));
    expect([missing.status, missing.param]).toEqual([400, "model"]);

    const upload = endless(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n`, 13, 64 * 1024);
    const endlessFile = await refusal(readMultipartHead(upload.stream, BOUNDARY, { maxBytes: 2 * MIB }));
    expect([endlessFile.status, endlessFile.param]).toEqual([400, "model"]);
    expect(upload.pulled()).toBeLessThanOrEqual(2 * MIB + 64 * 1024 + 200);
  });

  it("answers 400 model as soon as a model field outgrows its cap, even one that never ends", async () => {
    const upload = endless(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\n`, 97, 256);
    const error = await refusal(readMultipartHead(upload.stream, BOUNDARY, LIMIT));
    expect([error.status, error.param]).toEqual([400, "model"]);
    expect(error.message).toContain(`longer than ${MAX_FIELD_BYTES} bytes`);
    expect(upload.pulled()).toBeLessThanOrEqual(MAX_FIELD_BYTES + 512);

    const longStream = multipart([{ name: "stream", value: "t".repeat(MAX_FIELD_BYTES + 1) }, { name: "model", value: "m" }]);
    const streamError = await refusal(readMultipartHead(chunked(longStream, 3).stream, BOUNDARY, LIMIT));
    expect([streamError.status, streamError.param]).toEqual([400, "stream"]);
    // Other fields pass through unread, however long.
    const longPrompt = multipart([{ name: "prompt", value: "p".repeat(10_000) }, { name: "model", value: "m" }]);
    expect((await readMultipartHead(chunked(longPrompt, 5).stream, BOUNDARY, LIMIT)).model).toBe("m");
  });

  it("answers 400 when a part's headers never end", async () => {
    const upload = endless(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="`, 120, 1024);
    const error = await refusal(readMultipartHead(upload.stream, BOUNDARY, LIMIT));
    expect(error.status).toBe(400);
    expect(error.message).toContain(`${MAX_PART_HEADER_BYTES} bytes`);
    expect(upload.pulled()).toBeLessThanOrEqual(MAX_PART_HEADER_BYTES + 2048);
  });

  it("refuses a second model field, before the head ends or while the rest streams on", async () => {
    const twice = multipart([{ name: "model", value: "a" }, { name: "model", value: "b" }, { name: "file", filename: "a.wav", value: trickyFile(1000) }]);
    const early = await refusal(readMultipartHead(chunked(twice, 1000).stream, BOUNDARY, LIMIT));
    expect([early.status, early.param]).toEqual([400, "model"]);

    const late = multipart([{ name: "model", value: "a" }, { name: "file", filename: "a.wav", value: trickyFile(50_000) }, { name: "model", value: "b" }]);
    const head = await readMultipartHead(chunked(late, 4096).stream, BOUNDARY, LIMIT);
    expect(head.model).toBe("a");
    await expect(readAll(head.body("served", null))).rejects.toThrow(/more than one model field/);
    expect([head.failure?.status, head.failure?.param]).toEqual([400, "model"]);
  });

  it("reads a Content-Disposition name the way the origin does", () => {
    expect(dispositionName(' form-data; name="model"')).toBe("model");
    expect(dispositionName("form-data; NAME=stream")).toBe("stream");
    expect(dispositionName('form-data; filename="x; name=model"; name="file"')).toBe("file");
    expect(dispositionName('form-data; filename="model.wav"')).toBeUndefined();
  });
});

describe("audio uploads through the gateway", () => {
  beforeAll(async () => {
    await configure({
      vllm: { keys: [{ name: "whisper", models: ["*"], vllm_key_config: { url: origin("default") } }] },
      nostream: {
        keys: [{ name: "whisper", vllm_key_config: { url: origin("default") } }],
        network_config: { base_url: origin("default") },
        custom_provider_config: { base_provider_type: "openai", allowed_requests: { transcription: true } },
      },
    });
  });

  function post(body: Uint8Array, requestId: string, chunkSize = 16 * 1024): Promise<Response> {
    return gateway("/v1/audio/transcriptions", {
      method: "POST",
      body: chunked(body, chunkSize).stream,
      headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}`, "content-length": String(body.byteLength), "x-request-id": requestId },
    });
  }

  it("routes a 16 MiB file followed by model (curl's order) and sends the origin the same bytes with only model replaced", async () => {
    const file = trickyFile(16 * MIB);
    const parts = (model: string): Part[] => [
      { name: "file", filename: "speech.wav", value: file },
      { name: "model", value: model },
    ];
    const upload = multipart(parts("vllm/openai/whisper-small"));
    const expected = multipart(parts("openai/whisper-small"));
    const response = await post(upload, "multipart-16mib");
    expect(response.status, await response.clone().text()).toBe(200);
    expect(await response.json()).toMatchObject({ text: `transcribed ${file.byteLength} bytes` });
    const [seen] = await received("multipart-16mib");
    const body = latin1Bytes(seen?.body ?? "");
    expect(body.byteLength).toBe(expected.byteLength);
    expect(seen?.headers["content-length"]).toBe(String(expected.byteLength));
    expect(await sha256(body)).toBe(await sha256(expected));
  });

  it("takes an upload without a Content-Length (a file stream, as the OpenAI SDK sends one) with a file of up to 25 MiB", async () => {
    const undeclared = (body: Uint8Array, requestId: string) =>
      gateway("/v1/audio/transcriptions", {
        method: "POST",
        body: chunked(body, 64 * 1024).stream,
        headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}`, "x-request-id": requestId },
      });
    const file = trickyFile(3 * MIB);
    const upload = multipart([{ name: "model", value: "vllm/openai/whisper-small" }, { name: "file", filename: "speech.wav", value: file }]);
    const expected = multipart([{ name: "model", value: "openai/whisper-small" }, { name: "file", filename: "speech.wav", value: file }]);
    const response = await undeclared(upload, "multipart-undeclared");
    expect(response.status, await response.clone().text()).toBe(200);
    expect(await response.json()).toMatchObject({ text: `transcribed ${file.byteLength} bytes` });
    const [seen] = await received("multipart-undeclared");
    expect(seen?.headers["content-length"]).toBe(String(expected.byteLength));
    expect(await sha256(latin1Bytes(seen?.body ?? ""))).toBe(await sha256(expected));

    // A whole 25 MiB file fits, with its form around it; a body past 26 MiB does not.
    const largest = await undeclared(multipart([{ name: "model", value: "vllm/openai/whisper-small" }, { name: "file", filename: "long.wav", value: trickyFile(25 * MIB) }]), "multipart-undeclared-25");
    expect(largest.status, await largest.clone().text()).toBe(200);
    expect(await largest.json()).toMatchObject({ text: `transcribed ${25 * MIB} bytes` });
    const tooLarge = await undeclared(multipart([{ name: "model", value: "vllm/openai/whisper-small" }, { name: "file", filename: "long.wav", value: trickyFile(26 * MIB) }]), "multipart-undeclared-large");
    expect(tooLarge.status).toBe(413);
    expect(await errorOf(tooLarge)).toMatchObject({ code: "request_too_large", message: "an upload without a Content-Length may be at most 26 MiB; declare the length to send up to 100 MiB" });
    expect(await received("multipart-undeclared-large")).toEqual([]);
  });

  it("sees stream=true placed after model: a provider without transcription_stream refuses it before the origin is called", async () => {
    const file = trickyFile(200_000);
    const after = multipart([
      { name: "file", filename: "a.wav", value: file },
      { name: "model", value: "nostream/openai/whisper-small" },
      { name: "stream", value: "true" },
    ]);
    const refused = await post(after, "multipart-stream-after");
    expect(refused.status).toBe(400);
    expect((await errorOf(refused)).code).toBe("unsupported_operation");
    expect(await received("multipart-stream-after")).toEqual([]);

    // Model first, the file, then stream: the same.
    const afterFile = multipart([
      { name: "model", value: "nostream/openai/whisper-small" },
      { name: "file", filename: "a.wav", value: file },
      { name: "stream", value: "1" },
    ]);
    const refusedLate = await post(afterFile, "multipart-stream-after-file");
    expect(refusedLate.status).toBe(400);
    expect((await errorOf(refusedLate)).code).toBe("unsupported_operation");
    expect(await received("multipart-stream-after-file")).toEqual([]);

    // Without stream (or with stream=false after the file) the same provider serves it.
    const plain = multipart([
      { name: "model", value: "nostream/openai/whisper-small" },
      { name: "file", filename: "a.wav", value: file },
      { name: "stream", value: "false" },
    ]);
    const served = await post(plain, "multipart-stream-false");
    expect(served.status, await served.clone().text()).toBe(200);
    expect(await served.json()).toMatchObject({ text: `transcribed ${file.byteLength} bytes` });

    // A provider that allows streams streams it.
    const streamed = await post(multipart([{ name: "file", filename: "a.wav", value: file }, { name: "model", value: "vllm/openai/whisper-small" }, { name: "stream", value: "true" }]), "multipart-stream-ok");
    expect(streamed.headers.get("content-type")).toContain("text/event-stream");
    expect(sseData(await streamed.text()).at(-1)).toBe("[DONE]");
  });

  it("answers 400 model for a missing, endless or repeated model field", async () => {
    const file = trickyFile(100_000);
    const missing = await post(multipart([{ name: "file", filename: "a.wav", value: file }]), "multipart-no-model");
    expect(missing.status).toBe(400);
    expect((await errorOf(missing)).param).toBe("model");

    const long = await post(multipart([{ name: "file", filename: "a.wav", value: file }, { name: "model", value: "m".repeat(100_000) }]), "multipart-long-model");
    expect(long.status).toBe(400);
    expect(await errorOf(long)).toMatchObject({ param: "model", type: "invalid_request_error" });

    // A second model field after the file would reach the origin unrewritten: the upload is cut off, the client told why.
    const repeated = await post(multipart([{ name: "model", value: "vllm/openai/whisper-small" }, { name: "file", filename: "a.wav", value: file }, { name: "model", value: "openai/whisper-large" }]), "multipart-two-models");
    expect(repeated.status).toBe(400);
    expect(await errorOf(repeated)).toMatchObject({ param: "model", message: expect.stringContaining("more than one model field") });
  });
});
