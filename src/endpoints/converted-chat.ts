/**
 * One attempt for an API served by translation to chat completions (Responses, Anthropic Messages): send the
 * converted body to the origin's chat endpoint, then convert the answer back — event by event for streams.
 */
import type { ChatCompletion } from "../convert/chat-types";
import type { JsonObject } from "../http/body";
import { sseKeepAliveMs, type AppContext } from "../http/context";
import { jsonResponse } from "../http/errors";
import { callOrigin } from "../upstream/origin";
import { isEventStream, relayJson, relayStream } from "../upstream/respond";
import type { StreamConverter } from "../upstream/stream-converter";
import type { Attempt } from "./governed";

export interface ChatConversion {
  streamConverter(publicModel: string): StreamConverter;
  answer(completion: ChatCompletion, publicModel: string): JsonObject;
}

export function convertedChatAttempt(c: AppContext, chat: JsonObject, stream: boolean, promptEstimate: number, conversion: ChatConversion): Attempt {
  return async (target, publicModel) => {
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
      const converter = conversion.streamConverter(publicModel);
      return relayStream(call, target, { publicModel, dropUsageOnlyChunk: false, promptEstimate, keepAliveMs: sseKeepAliveMs(c), converter });
    }
    const answer = await relayJson(call, target, publicModel);
    return { response: jsonResponse(conversion.answer(answer.body as ChatCompletion, publicModel)), usage: answer.usage };
  };
}
