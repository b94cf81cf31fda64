/**
 * One attempt for an API served by translation to chat completions (Responses, Anthropic Messages): send the
 * converted body to the origin's chat endpoint, then convert the answer back — event by event for streams.
 */
import type { ChatCompletion } from "../convert/chat-types";
import type { JsonObject } from "../http/body";
import { sseKeepAliveMs, type AppContext } from "../http/context";
import { jsonResponse } from "../http/errors";
import { writeCompletionLimit } from "../http/request-fields";
import type { TokenEstimate } from "../governance/admission";
import { callOrigin } from "../upstream/origin";
import { isEventStream, relayJson, relayStream } from "../upstream/respond";
import type { StreamConverter } from "../upstream/stream-converter";
import type { Attempt } from "./governed";

export interface ChatConversion {
  streamConverter(publicModel: string): StreamConverter;
  answer(completion: ChatCompletion, publicModel: string): JsonObject;
}

/** Choices a chat body asks for (`n`, `best_of` passed through to the origin): each may use the whole limit. */
export function choicesOf(chat: JsonObject): number {
  const count = (value: unknown) => (typeof value === "number" && Number.isInteger(value) && value > 0 ? value : 1);
  return Math.max(count(chat.n), count(chat.best_of));
}

export function convertedChatAttempt(c: AppContext, chat: JsonObject, stream: boolean, estimate: TokenEstimate, conversion: ChatConversion): Attempt {
  const promptEstimate = estimate.promptTokens;
  return async (target, publicModel, grant) => {
    chat.model = target.upstreamModel;
    writeCompletionLimit(chat, grant.completionTokens);
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
