/**
 * POST /v1/responses: the OpenAI Responses API on any chat model, translated to chat completions and back —
 * streaming included — through the same routing, admission and settlement as every other endpoint.
 */
import { numberSetting } from "../env";
import { readJsonRequest } from "../http/body";
import { sseKeepAliveMs, type AppContext } from "../http/context";
import { jsonResponse } from "../http/errors";
import { responsesToChat } from "../convert/responses-request";
import { chatToResponse } from "../convert/responses-response";
import { ResponsesStreamConverter } from "../convert/responses-stream";
import type { ChatCompletion } from "../convert/chat-types";
import { callOrigin } from "../upstream/origin";
import { isEventStream, relayJson, relayStream } from "../upstream/respond";
import { route, serve } from "./governed";
import { promptTokensFromBytes, requestBodyLimit } from "./json-inference";

export async function handleResponses(c: AppContext, defaultProvider?: string): Promise<Response> {
  const { body, byteLength } = await readJsonRequest(c.req.raw, requestBodyLimit(c));
  const { chat, fields } = responsesToChat(body);
  const stream = fields.stream === true;
  const estimate = {
    promptTokens: promptTokensFromBytes(byteLength),
    maxCompletionTokens: fields.max_output_tokens ?? numberSetting(c.env.DEFAULT_MAX_TOKENS_ESTIMATE, 4096),
  };
  const routed = await route(c, { model: fields.model, requestType: stream ? "responses_stream" : "responses", defaultProvider, estimate, fallbacks: fields.fallbacks ?? undefined });
  return serve(c, routed, estimate, async (target, publicModel) => {
    chat.model = target.upstreamModel;
    const call = await callOrigin(
      {
        target,
        path: "/v1/chat/completions",
        pathKey: "chat_completion",
        method: "POST",
        body: JSON.stringify(chat),
        contentType: "application/json",
        stream,
        requestId: c.get("requestId"),
        clientSignal: c.req.raw.signal,
      },
      c.env,
    );
    if (stream && call.response.ok && isEventStream(call.response)) {
      const converter = new ResponsesStreamConverter(publicModel, fields);
      return relayStream(call, target, { publicModel, dropUsageOnlyChunk: false, promptEstimate: estimate.promptTokens, keepAliveMs: sseKeepAliveMs(c), converter });
    }
    const answer = await relayJson(call, target, publicModel);
    return { response: jsonResponse(chatToResponse(answer.body as ChatCompletion, publicModel, fields)), usage: answer.usage };
  });
}
