/** Shared by the APIs served by translation to chat completions (Responses, Anthropic Messages). */
import { streamedJsonFor } from "../convert/assembly";
import type { JsonObject } from "../http/body";
import type { ChatConversion, InferencePlan } from "../pipeline/plan";
import type { TokenEstimate } from "../governance/admission";
import type { RequestType } from "../config/schema";

/** Choices a chat body asks for (`n`, `best_of` passed through to the origin): each may use the whole limit. */
export function choicesOf(chat: JsonObject): number {
  const count = (value: unknown) => (typeof value === "number" && Number.isInteger(value) && value > 0 ? value : 1);
  return Math.max(count(chat.n), count(chat.best_of));
}

export interface ConvertedChatRequest {
  model: string;
  requestType: RequestType;
  defaultProvider: string | undefined;
  unlistedProvider?: string | undefined;
  estimate: TokenEstimate;
  fallbacks: readonly string[] | undefined;
  /** The chat completions body the request was translated to. */
  chat: JsonObject;
  stream: boolean;
  conversion: ChatConversion;
}

/** The plan for a translated request: the chat body to the origin's chat endpoint, the answer converted back. */
export function convertedChatPlan(request: ConvertedChatRequest): InferencePlan {
  const { chat, stream, conversion, ...routing } = request;
  return {
    ...routing,
    metered: true,
    upstream: {
      kind: "json",
      path: "/v1/chat/completions",
      pathKey: "chat_completion",
      body: chat,
      stream,
      // A non-stream answer may be assembled from the origin's stream, then converted as every chat answer is.
      streamedJson: stream ? undefined : streamedJsonFor(chat, "chat"),
      reply: { kind: "converted", conversion },
    },
  };
}
