/**
 * Audio transcriptions and translations: multipart uploads routed by their `model` field and streamed to the
 * origin untouched apart from that field; `stream=true` answers come back as vLLM's SSE.
 */
import { settingsOf } from "../settings";
import { checkDeclaredLength, mebibytes, readAtMost } from "../http/body";
import type { AppContext } from "../http/context";
import { GatewayError, badRequest } from "../http/errors";
import { readMultipartHead } from "../http/multipart-head";
import { runInference } from "../pipeline/inference";
import { inputOnly, type TokenEstimate } from "../governance/admission";

/**
 * Bytes per second of the leanest audio an upload is assumed to hold (32 kbit/s, low-bitrate speech MP3/Opus):
 * the reservation is the longest the file could play, so it over-reserves high-bitrate formats such as WAV until
 * the origin reports the real duration.
 */
export const AUDIO_BYTES_PER_SECOND = 4_000;

export function audioSecondsOf(uploadBytes: number): number {
  return Math.max(1, Math.ceil(uploadBytes / AUDIO_BYTES_PER_SECOND));
}

/**
 * The most of an upload sent without a Content-Length (chunked, as the OpenAI SDK sends a file stream) the gateway
 * holds to learn its size: a file of OpenAI's own 25 MiB limit on audio, with room for the form's other fields and
 * framing. A declared length streams through unheld, up to MAX_UPLOAD_BODY_MB.
 */
export const UNDECLARED_UPLOAD_MAX_BYTES = 26 * 1024 * 1024;

/**
 * The upload and its size, which the reservation is made from before anything is sent: declared, or — for a
 * chunked upload — learnt by reading it whole, up to UNDECLARED_UPLOAD_MAX_BYTES (and MAX_UPLOAD_BODY_MB).
 */
async function sizedUpload(request: Request, body: ReadableStream<Uint8Array>, maxBytes: number): Promise<{ body: ReadableStream<Uint8Array>; length: number }> {
  const declared = request.headers.get("content-length");
  if (declared !== null) return { body, length: Number(declared) };
  const limit = Math.min(maxBytes, UNDECLARED_UPLOAD_MAX_BYTES);
  const bytes = await readAtMost(body, limit);
  if (!bytes) {
    throw new GatewayError(413, `an upload without a Content-Length may be at most ${Math.floor(limit / 1024 / 1024)} MiB; declare the length to send up to ${Math.floor(maxBytes / 1024 / 1024)} MiB`, "request_too_large");
  }
  return { body: new Blob([bytes]).stream(), length: bytes.byteLength };
}

export async function handleAudio(c: AppContext, task: "transcriptions" | "translations", defaultProvider?: string): Promise<Response> {
  const request = c.req.raw;
  const contentType = request.headers.get("content-type") ?? "";
  const boundary = /^multipart\/form-data;.*boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) throw badRequest("audio requests must be multipart/form-data with a boundary", "invalid_request");
  const maxBytes = mebibytes(settingsOf(c.env).MAX_UPLOAD_BODY_MB);
  checkDeclaredLength(request, maxBytes);
  if (!request.body) throw badRequest("the multipart body is empty", "invalid_request");
  const upload = await sizedUpload(request, request.body, maxBytes);

  const head = await readMultipartHead(upload.body, boundary, { maxBytes });
  // Charged from the origin's usage report (seconds, or tokens); reserved up front from the upload's size.
  const estimate: TokenEstimate = { ...inputOnly(0), audioSeconds: audioSecondsOf(upload.length) };
  // The upload streams once: exactly one attempt, at the weighted choice.
  return runInference(c, {
    model: head.model,
    requestType: "transcription",
    defaultProvider,
    estimate,
    fallbacks: undefined,
    metered: true,
    upstream: { kind: "multipart", path: `/v1/audio/${task}`, pathKey: "transcription", head, contentType, contentLength: upload.length },
  });
}
