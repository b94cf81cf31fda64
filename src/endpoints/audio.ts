/**
 * Audio transcriptions and translations: multipart uploads routed by their `model` field and streamed to the
 * origin untouched apart from that field; `stream=true` answers come back as vLLM's SSE.
 */
import { settingsOf } from "../settings";
import { checkDeclaredLength, mebibytes } from "../http/body";
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

export async function handleAudio(c: AppContext, task: "transcriptions" | "translations", defaultProvider?: string): Promise<Response> {
  const request = c.req.raw;
  const contentType = request.headers.get("content-type") ?? "";
  const boundary = /^multipart\/form-data;.*boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) throw badRequest("audio requests must be multipart/form-data with a boundary", "invalid_request");
  const lengthHeader = request.headers.get("content-length");
  if (lengthHeader === null) throw new GatewayError(411, "audio uploads need a Content-Length header", "length_required");
  const maxBytes = mebibytes(settingsOf(c.env).MAX_UPLOAD_BODY_MB);
  checkDeclaredLength(request, maxBytes);
  if (!request.body) throw badRequest("the multipart body is empty", "invalid_request");

  const head = await readMultipartHead(request.body, boundary, { maxBytes });
  // Charged from the origin's usage report (seconds, or tokens); reserved up front from the upload's size.
  const estimate: TokenEstimate = { ...inputOnly(0), audioSeconds: audioSecondsOf(Number(lengthHeader)) };
  // The upload streams once: exactly one attempt, at the weighted choice.
  return runInference(c, {
    model: head.model,
    requestType: "transcription",
    defaultProvider,
    estimate,
    fallbacks: undefined,
    metered: true,
    upstream: { kind: "multipart", path: `/v1/audio/${task}`, pathKey: "transcription", head, contentType, contentLength: Number(lengthHeader) },
  });
}
