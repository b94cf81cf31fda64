/**
 * Step 5 of an inference request, one attempt: the plan's body with this target's model name and the granted
 * completion limit written in, sent to the target's origin, and its answer shaped (step 6). Around it, the origin's
 * health bookkeeping: in-flight counts, and failures that are the origin's fault.
 */
import { asGatewayError } from "../http/errors";
import { writeCompletionLimit } from "../http/request-fields";
import { beginAttempt, endAttempt, recordAnswerStarted, recordFailure, recordSuccess, releaseTrial, type HealthSettings } from "../routing/health";
import { checkRequestAllowed, type Target } from "../routing/resolve";
import { callOrigin, type OriginCall } from "../upstream/origin";
import { relayAnswer, type Answer } from "../upstream/respond";
import type { StreamedJson } from "../convert/assembly";
import type { OriginTrace } from "../telemetry/spans";
import type { JsonUpstream, MultipartUpstream, UpstreamPlan } from "./plan";
import { replyFrom } from "./reply";
import type { RequestScope } from "./scope";

/** What an attempt may ask of the origin: the completion limit per choice that was reserved (null: none was). */
export interface Grant {
  completionTokens: number | null;
}

/** Statuses that mean "this origin has no such path", for endpoints with an alternate path. */
const NO_SUCH_PATH = new Set([404, 405, 501]);

/**
 * Failures that are not the origin's: the gateway's own configuration or defects, the client leaving, and an origin
 * refusing the gateway's credentials or redirecting to a login page (a key or Access setup to fix, not a sick GPU).
 */
const NOT_THE_ORIGIN = new Set(["provider_config_unresolved", "client_closed_request", "internal_error", "upstream_auth_failed", "upstream_redirect"]);

/** Failures that say something about the origin's health: it broke, timed out or answered 5xx. */
export function isOriginFailure(error: unknown): boolean {
  const failure = asGatewayError(error);
  return failure.status >= 500 && !NOT_THE_ORIGIN.has(failure.code ?? "");
}

export async function attemptTarget(scope: RequestScope, upstream: UpstreamPlan, target: Target, publicModel: string, grant: Grant, promptEstimate: number, health: HealthSettings): Promise<Answer> {
  beginAttempt(target);
  const span = scope.tracing.attempt(target, upstream);
  try {
    const answer = upstream.kind === "json" ? await sendJson(scope, upstream, target, publicModel, grant, promptEstimate, span) : await sendMultipart(scope, upstream, target, publicModel, span);
    recordAnswerStarted(target);
    void answer.usage.then((usage) => {
      endAttempt(target);
      span.succeeded(usage);
      if (usage.originFailed) recordFailure(target, health, scope.waitUntil);
      else recordSuccess(target);
    });
    return answer;
  } catch (error) {
    endAttempt(target);
    span.failed(error);
    if (isOriginFailure(error)) recordFailure(target, health, scope.waitUntil);
    else releaseTrial(target);
    throw error;
  }
}

async function sendJson(scope: RequestScope, upstream: JsonUpstream, target: Target, publicModel: string, grant: Grant, promptEstimate: number, trace: OriginTrace): Promise<Answer> {
  // The plan's body is this request's own object: each attempt writes its target's values over the last one's.
  upstream.body.model = target.upstreamModel;
  writeCompletionLimit(upstream.body, grant.completionTokens);
  const assemble = streamsForJson(upstream.streamedJson, target) ? upstream.streamedJson : undefined;
  // Streamed for a JSON client: a shallow copy, so the next target (whose provider may not stream) gets the original.
  const body = JSON.stringify(assemble ? { ...upstream.body, stream: true, stream_options: { include_usage: true } } : upstream.body);
  const stream = upstream.stream || assemble !== undefined;
  const send = (path: string): Promise<OriginCall> =>
    callOrigin(
      { target, path, pathKey: upstream.pathKey, method: "POST", body, contentType: "application/json", stream, requestId: scope.requestId, clientSignal: scope.signal, trace },
      scope.env,
    );
  let call = await send(upstream.path);
  if (upstream.alternatePath !== undefined && NO_SUCH_PATH.has(call.response.status) && target.provider.pathOverrides[upstream.pathKey] === undefined) {
    call.abort(`falling back to ${upstream.alternatePath}`);
    call = await send(upstream.alternatePath);
  }
  return replyFrom(upstream.reply, call, target, { publicModel, stream: upstream.stream, assemble, promptEstimate, keepAliveMs: scope.settings.SSE_KEEPALIVE_SECONDS * 1000 });
}

/**
 * Whether this target's origin is asked for a stream the client's JSON answer is assembled from: the provider's
 * network_config.stream_for_json, and a custom provider must allow the streamed request type it then receives.
 */
function streamsForJson(streamedJson: StreamedJson | undefined, target: Target): boolean {
  if (streamedJson === undefined || !target.provider.streamForJson) return false;
  const allowed = target.provider.allowedRequests;
  return allowed === null || allowed.has(streamedJson.shape === "chat" ? "chat_completion_stream" : "text_completion_stream");
}

async function sendMultipart(scope: RequestScope, upstream: MultipartUpstream, target: Target, publicModel: string, trace: OriginTrace): Promise<Answer> {
  const { head } = upstream;
  // `stream` may come anywhere, after the file too. A provider that refuses streamed transcriptions has to know it
  // before the upload starts, so the head reads on for it (held, within the upload limit); for the others the upload
  // starts at once, and a `stream` field found later only shapes the answer's relay.
  const refusesStreams = target.provider.allowedRequests !== null && !target.provider.allowedRequests.has("transcription_stream");
  const stream = head.stream ?? (refusesStreams ? await head.finalStream() : undefined);
  if (stream) checkRequestAllowed(target.provider, "transcription_stream");
  let call: OriginCall;
  try {
    call = await callOrigin(
      {
        target,
        path: upstream.path,
        pathKey: upstream.pathKey,
        method: "POST",
        body: head.body(target.upstreamModel, upstream.contentLength),
        contentType: upstream.contentType,
        stream: stream === true,
        requestId: scope.requestId,
        clientSignal: scope.signal,
        trace,
      },
      scope.env,
    );
  } catch (error) {
    // The upload broke off because of the client's own body (a second model field after the file): its error.
    throw head.failure ?? error;
  }
  return relayAnswer(call, target, { publicModel, dropUsageOnlyChunk: false, promptEstimate: 0, keepAliveMs: scope.settings.SSE_KEEPALIVE_SECONDS * 1000 });
}
