/**
 * POST /v1/responses: the OpenAI Responses API on any chat model, translated to chat completions and back —
 * streaming included — through the same routing, admission and settlement as every other endpoint.
 */
import { readJsonRequest } from "../http/body";
import { responsesToChat } from "../convert/responses-request";
import { chatToResponse } from "../convert/responses-response";
import { ResponsesStreamConverter } from "../convert/responses-stream";
import type { AppContext } from "../http/context";
import type { TokenEstimate } from "../governance/admission";
import { estimatePromptTokens } from "../governance/prompt-estimate";
import { choicesOf, convertedChatPlan } from "./converted-chat";
import { runInference } from "../pipeline/inference";
import { defaultCompletionTokens, requestBodyLimit } from "./json-inference";

export async function handleResponses(c: AppContext, defaultProvider?: string): Promise<Response> {
  const { body } = await readJsonRequest(c.req.raw, requestBodyLimit(c));
  const { chat, fields } = responsesToChat(body);
  const stream = fields.stream === true;
  const estimate: TokenEstimate = {
    promptTokens: estimatePromptTokens(chat),
    completionTokens: fields.max_output_tokens ?? defaultCompletionTokens(c),
    choices: choicesOf(chat),
    explicit: fields.max_output_tokens != null,
  };
  return runInference(
    c,
    convertedChatPlan({
      model: fields.model,
      requestType: stream ? "responses_stream" : "responses",
      defaultProvider,
      estimate,
      fallbacks: fields.fallbacks ?? undefined,
      chat,
      stream,
      conversion: {
        streamConverter: (publicModel) => new ResponsesStreamConverter(publicModel, fields),
        answer: (completion, publicModel) => chatToResponse(completion, publicModel, fields),
      },
    }),
  );
}
