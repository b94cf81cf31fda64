/**
 * Chat completions, text completions and embeddings: parse the body once, validate only the fields the gateway
 * acts on, route, and forward everything else untouched.
 */
import { z } from "zod";
import { getRoutingTable } from "../config/store";
import type { RequestType } from "../config/schema";
import { parseOrThrow } from "../config/validation";
import { numberSetting } from "../env";
import { mebibytes, readJsonObject, type JsonObject } from "../http/body";
import { waitUntilOf, type AppContext } from "../http/context";
import { badRequest } from "../http/errors";
import { dispatch } from "../routing/dispatch";
import { resolveModel } from "../routing/resolve";
import { callOrigin, type PathKey } from "../upstream/origin";
import { relayAnswer } from "../upstream/respond";
import { withRouteHeaders } from "./route-headers";

export interface JsonEndpoint {
  requestType: RequestType;
  /** The request type when `stream: true`; undefined for endpoints that cannot stream. */
  streamRequestType?: RequestType;
  path: string;
  pathKey: PathKey;
}

export const CHAT: JsonEndpoint = {
  requestType: "chat_completion",
  streamRequestType: "chat_completion_stream",
  path: "/v1/chat/completions",
  pathKey: "chat_completion",
};
export const COMPLETIONS: JsonEndpoint = {
  requestType: "text_completion",
  streamRequestType: "text_completion_stream",
  path: "/v1/completions",
  pathKey: "text_completion",
};
export const EMBEDDINGS: JsonEndpoint = { requestType: "embedding", path: "/v1/embeddings", pathKey: "embedding" };

/** Only the fields the gateway acts on; every other field is the origin's business. */
const gatewayFields = z.looseObject({
  model: z.string({ error: "model is required and must be a string" }).min(1, "model must not be empty"),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
});

export function requestBodyLimit(c: AppContext): number {
  return mebibytes(numberSetting(c.env.MAX_REQUEST_BODY_MB, 32));
}

export async function handleJsonInference(c: AppContext, endpoint: JsonEndpoint, defaultProvider?: string): Promise<Response> {
  const body: JsonObject = await readJsonObject(c.req.raw, requestBodyLimit(c));
  const fields = parseOrThrow(gatewayFields, body, "request");
  const stream = fields.stream === true;
  if (stream && !endpoint.streamRequestType) throw badRequest(`stream is not supported on ${endpoint.path}`, "unsupported_parameter", "stream");
  const requestType = stream && endpoint.streamRequestType ? endpoint.streamRequestType : endpoint.requestType;

  const table = await getRoutingTable(c.env, waitUntilOf(c));
  const { publicModel, targets } = resolveModel(table, fields.model, requestType, defaultProvider);

  // Usage is needed for accounting; ask for it and hide the extra chunk from clients that did not.
  const clientWantsUsage = fields.stream_options?.include_usage === true;
  if (stream && !clientWantsUsage) body.stream_options = { ...(fields.stream_options ?? {}), include_usage: true };

  const clientSignal = c.req.raw.signal;
  const dispatched = await dispatch(
    targets,
    async (target) => {
      body.model = target.upstreamModel;
      const call = await callOrigin(
        {
          target,
          path: endpoint.path,
          pathKey: endpoint.pathKey,
          method: "POST",
          body: JSON.stringify(body),
          contentType: "application/json",
          stream,
          requestId: c.get("requestId"),
          clientSignal,
        },
        c.env,
      );
      return relayAnswer(call, target, { publicModel, dropUsageOnlyChunk: stream && !clientWantsUsage });
    },
    clientSignal,
  );
  return withRouteHeaders(dispatched);
}
