/**
 * POST /v1/responses: the OpenAI Responses API on any chat model, translated to chat completions and back —
 * streaming included — through the same routing, admission and settlement as every other endpoint. With `store`
 * (the default) the answer is kept by the gateway, and `previous_response_id` continues a conversation on whichever
 * origin the router picks: the stored input items and output come first in the new turn's input.
 */
import { isJsonObject, readJsonObject, type JsonObject } from "../http/body";
import { responsesToChat } from "../convert/responses-request";
import { chatToResponse } from "../convert/responses-response";
import { ResponsesStreamConverter } from "../convert/responses-stream";
import { waitUntilOf, type AppContext } from "../http/context";
import { GatewayError, badRequest } from "../http/errors";
import type { TokenEstimate } from "../governance/admission";
import { estimatePromptTokens } from "../governance/prompt-estimate";
import { authenticate } from "../pipeline/authenticate";
import { runInference } from "../pipeline/inference";
import { settingsOf } from "../settings";
import { loadResponse, outputAsInput, ownerOf, saveResponse } from "../state/response-store";
import { choicesOf, convertedChatPlan } from "./converted-chat";
import { defaultCompletionTokens, requestBodyLimit } from "./json-inference";

/** A turn's `input` as a list of items: a bare string is one user message. */
function inputItems(input: unknown): JsonObject[] {
  if (typeof input === "string") return [{ type: "message", role: "user", content: input }];
  return Array.isArray(input) ? input.filter(isJsonObject) : [];
}

export async function handleResponses(c: AppContext, defaultProvider?: string): Promise<Response> {
  const known = c.get("principal");
  const owner = ownerOf(known !== undefined ? known : await authenticate(c));
  const body = await readJsonObject(c.req.raw, requestBodyLimit(c));
  const previousId = body.previous_response_id;
  // Checked here, as it is taken out of the body before the rest is: the schema never sees it.
  if (previousId != null && typeof previousId !== "string") throw badRequest("previous_response_id must be a string", "invalid_request", "previous_response_id");
  let history: JsonObject[] = [];
  if (typeof previousId === "string" && previousId !== "") {
    const previous = await loadResponse(c.env, owner, previousId);
    if (!previous) throw new GatewayError(404, `Previous response with id '${previousId.slice(0, 128)}' not found.`, "previous_response_not_found", { param: "previous_response_id" });
    history = [...previous.inputItems, ...outputAsInput(previous.response)];
  }
  delete body.previous_response_id;
  // The whole conversation goes to the origin (and into the store), this turn's input last.
  const conversation = [...history, ...(Array.isArray(body.input) || typeof body.input === "string" ? inputItems(body.input) : [])];
  if (history.length > 0) body.input = conversation;
  const { chat, fields } = responsesToChat(body);
  if (typeof previousId === "string" && previousId !== "") fields.previous_response_id = previousId;
  const stream = fields.stream === true;
  const estimate: TokenEstimate = {
    promptTokens: estimatePromptTokens(chat),
    completionTokens: fields.max_output_tokens ?? defaultCompletionTokens(c),
    choices: choicesOf(chat),
    explicit: fields.max_output_tokens != null,
  };
  const waitUntil = waitUntilOf(c);
  const retentionDays = settingsOf(c.env).RESPONSE_RETENTION_DAYS;
  const keep = (responseJson: string | null) => {
    if (body.store === false || responseJson === null) return;
    // The Response object's id comes first in its JSON (responseEnvelope): no need to parse a long answer for it.
    const id = /^\{"id":"([^"]+)"/.exec(responseJson)?.[1];
    if (id === undefined) return;
    waitUntil(saveResponse(c.env, owner, id, conversation, responseJson, retentionDays).catch((error: unknown) => console.error(`storing response ${id} failed:`, error)));
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
        streamConverter: (publicModel) => new ResponsesStreamConverter(publicModel, fields, keep),
        answer: (completion, publicModel) => {
          const text = JSON.stringify(chatToResponse(completion, publicModel, fields));
          keep(text);
          return text;
        },
      },
    }),
  );
}
