/**
 * Audio transcriptions and translations: multipart uploads routed by their `model` field and streamed to the
 * origin untouched apart from that field; `stream=true` answers come back as vLLM's SSE.
 */
import { settingsOf } from "../settings";
import { checkDeclaredLength, mebibytes } from "../http/body";
import { sseKeepAliveMs, type AppContext } from "../http/context";
import { GatewayError, badRequest } from "../http/errors";
import { readMultipartHead } from "../http/multipart-head";
import { checkRequestAllowed } from "../routing/resolve";
import { callOrigin, type OriginCall } from "../upstream/origin";
import { relayAnswer } from "../upstream/respond";
import { route, serve } from "./governed";
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
  const routed = await route(c, { model: head.model, requestType: "transcription", defaultProvider, estimate });
  return serve(
    c,
    routed,
    estimate,
    async (target, publicModel) => {
      // `stream` may come anywhere, after the file too. A provider that refuses streamed transcriptions has to know
      // it before the upload starts, so the head reads on for it (held, within the upload limit); for the others
      // the upload starts at once, and a `stream` field found later only shapes the answer's relay.
      const refusesStreams = target.provider.allowedRequests !== null && !target.provider.allowedRequests.has("transcription_stream");
      const stream = head.stream ?? (refusesStreams ? await head.finalStream() : undefined);
      if (stream) checkRequestAllowed(target.provider, "transcription_stream");
      let call: OriginCall;
      try {
        call = await callOrigin(
          {
            target,
            path: `/v1/audio/${task}`,
            pathKey: "transcription",
            method: "POST",
            body: head.body(target.upstreamModel, Number(lengthHeader)),
            contentType,
            stream: stream === true,
            requestId: c.get("requestId"),
            clientSignal: request.signal,
          },
          c.env,
        );
      } catch (error) {
        // The upload broke off because of the client's own body (a second model field after the file): its error.
        throw head.failure ?? error;
      }
      return relayAnswer(call, target, { publicModel, dropUsageOnlyChunk: false, promptEstimate: 0, keepAliveMs: sseKeepAliveMs(c) });
    },
    // The upload streams once: exactly one attempt, at the weighted choice.
    { once: true },
  );
}
