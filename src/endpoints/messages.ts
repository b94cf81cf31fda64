/**
 * POST /anthropic/v1/messages (and /v1/messages): the Anthropic Messages API on any chat model, translated to chat
 * completions and back, streaming included, with errors in Anthropic's shape. `x-api-key` carries a virtual key;
 * `anthropic-version` and `anthropic-beta` are accepted and need nothing from the origin.
 * POST …/messages/count_tokens is answered by the origin's /tokenize with the chat template applied.
 */
import * as z from "zod/mini";
import { parseOrThrow } from "../config/validation";
import { readJsonObject } from "../http/body";
import type { AppContext } from "../http/context";
import { chatMessagesOf, messagesFields, messagesToChat, templateFields } from "../convert/messages-request";
import { chatToMessage } from "../convert/messages-response";
import { MessagesStreamConverter } from "../convert/messages-stream";
import { inputOnly, type TokenEstimate } from "../governance/admission";
import { estimatePromptTokens } from "../governance/prompt-estimate";
import { choicesOf, convertedChatPlan } from "./converted-chat";
import { runInference } from "../pipeline/inference";
import { requestBodyLimit } from "./json-inference";

/** Runs a handler and names the request the way Anthropic's API does; failures reach the app's error handler,
 * which answers the Messages routes in Anthropic's shape. */
async function withRequestId(c: AppContext, handler: () => Promise<Response>): Promise<Response> {
  const response = await handler();
  response.headers.set("request-id", c.get("requestId"));
  return response;
}

/** `unlistedProvider`: on Anthropic's base URL (/anthropic), bare names no key lists go to the `anthropic` provider. */
export function handleMessages(c: AppContext, defaultProvider?: string, unlistedProvider?: string): Promise<Response> {
  return withRequestId(c, async () => {
    const body = await readJsonObject(c.req.raw, requestBodyLimit(c));
    const { chat, fields } = messagesToChat(body);
    const stream = fields.stream === true;
    // Anthropic's max_tokens is required; `n` may still reach the chat body as a field the gateway passes through.
    const estimate: TokenEstimate = { promptTokens: estimatePromptTokens(chat), completionTokens: fields.max_tokens, choices: choicesOf(chat), explicit: true };
    return runInference(
      c,
      convertedChatPlan({
        model: fields.model,
        requestType: stream ? "chat_completion_stream" : "chat_completion",
        defaultProvider,
        unlistedProvider,
        estimate,
        fallbacks: fields.fallbacks ?? undefined,
        chat,
        stream,
        conversion: {
          streamConverter: (publicModel) => new MessagesStreamConverter(publicModel, fields.stop_sequences),
          answer: (completion, publicModel) => JSON.stringify(chatToMessage(completion, publicModel, fields.stop_sequences)),
        },
      }),
    );
  });
}

const countFields = z.omit(messagesFields, { max_tokens: true });

export function handleCountTokens(c: AppContext, defaultProvider?: string, unlistedProvider?: string): Promise<Response> {
  return withRequestId(c, async () => {
    const body = await readJsonObject(c.req.raw, requestBodyLimit(c));
    const fields = parseOrThrow(countFields, body, "request");
    // Counting runs no model: the key's request windows and concurrency count it, but it reserves and costs nothing.
    return runInference(c, {
      model: fields.model,
      requestType: "count_tokens",
      defaultProvider,
      unlistedProvider,
      estimate: inputOnly(0),
      fallbacks: undefined,
      metered: false,
      upstream: {
        kind: "json",
        path: "/tokenize",
        pathKey: "count_tokens",
        body: { messages: chatMessagesOf(fields), add_generation_prompt: true, ...templateFields(fields, body) },
        stream: false,
        reply: { kind: "token_count" },
      },
    });
  });
}
