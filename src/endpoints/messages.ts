/**
 * POST /anthropic/v1/messages (and /v1/messages): the Anthropic Messages API on any chat model, translated to chat
 * completions and back, streaming included, with errors in Anthropic's shape. `x-api-key` carries a virtual key;
 * `anthropic-version` and `anthropic-beta` are accepted and need nothing from the origin.
 * POST …/messages/count_tokens is answered by the origin's /tokenize with the chat template applied.
 */
import { z } from "zod";
import { parseOrThrow } from "../config/validation";
import { isJsonObject, readJsonRequest } from "../http/body";
import type { AppContext } from "../http/context";
import { GatewayError, jsonResponse } from "../http/errors";
import { chatMessagesOf, messagesFields, messagesToChat } from "../convert/messages-request";
import { chatToMessage } from "../convert/messages-response";
import { MessagesStreamConverter } from "../convert/messages-stream";
import { callOrigin } from "../upstream/origin";
import { NO_USAGE, relayJson } from "../upstream/respond";
import { inputOnly, type TokenEstimate } from "../governance/admission";
import { estimatePromptTokens } from "../governance/prompt-estimate";
import { choicesOf, convertedChatAttempt } from "./converted-chat";
import { route, serve } from "./governed";
import { requestBodyLimit } from "./json-inference";

/** Runs a handler and names the request the way Anthropic's API does; failures reach the app's error handler,
 * which answers the Messages routes in Anthropic's shape. */
async function withRequestId(c: AppContext, handler: () => Promise<Response>): Promise<Response> {
  const response = await handler();
  response.headers.set("request-id", c.get("requestId"));
  return response;
}

export function handleMessages(c: AppContext, defaultProvider?: string): Promise<Response> {
  return withRequestId(c, async () => {
    const { body } = await readJsonRequest(c.req.raw, requestBodyLimit(c));
    const { chat, fields } = messagesToChat(body);
    const stream = fields.stream === true;
    // Anthropic's max_tokens is required; `n` may still reach the chat body as a field the gateway passes through.
    const estimate: TokenEstimate = { promptTokens: estimatePromptTokens(chat), completionTokens: fields.max_tokens, choices: choicesOf(chat), explicit: true };
    const routed = await route(c, { model: fields.model, requestType: stream ? "chat_completion_stream" : "chat_completion", defaultProvider, estimate, fallbacks: fields.fallbacks ?? undefined });
    return serve(
      c,
      routed,
      estimate,
      convertedChatAttempt(c, chat, stream, estimate, {
        streamConverter: (publicModel) => new MessagesStreamConverter(publicModel, fields.stop_sequences),
        answer: (completion, publicModel) => chatToMessage(completion, publicModel, fields.stop_sequences),
      }),
    );
  });
}

const countFields = messagesFields.omit({ max_tokens: true });

export function handleCountTokens(c: AppContext, defaultProvider?: string): Promise<Response> {
  return withRequestId(c, async () => {
    const { body } = await readJsonRequest(c.req.raw, requestBodyLimit(c));
    const fields = parseOrThrow(countFields, body, "request");
    const estimate = inputOnly(0);
    const routed = await route(c, { model: fields.model, requestType: "count_tokens", defaultProvider, estimate });
    const tokenizeBody = (model: string) => JSON.stringify({ model, messages: chatMessagesOf(fields), add_generation_prompt: true });
    // Counting generates nothing, so it is not admitted against the key's limits; routing still checks permission.
    return serve(c, { ...routed, vk: null, scope: null }, estimate, async (target, publicModel) => {
      const call = await callOrigin(
        { target, path: "/tokenize", pathKey: "count_tokens", method: "POST", body: tokenizeBody(target.upstreamModel), contentType: "application/json", requestId: c.get("requestId"), clientSignal: c.req.raw.signal },
        c.env,
      );
      const { body: answer } = await relayJson(call, target, publicModel);
      const count = isJsonObject(answer) ? z.number().int().safeParse(answer.count) : undefined;
      if (!count?.success) throw new GatewayError(502, "the origin's /tokenize answer has no token count", "invalid_upstream_response");
      return { response: jsonResponse({ input_tokens: count.data }), usage: Promise.resolve(NO_USAGE) };
    });
  });
}
