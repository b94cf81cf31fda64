/**
 * GET /v1/responses/{id}, GET /v1/responses/{id}/input_items and DELETE /v1/responses/{id}: the responses the gateway
 * stored, each visible only to the virtual key (or keyless scope) that created it — to anyone else it does not exist.
 */
import { queryOf } from "../http/query";
import * as z from "zod/mini";
import { parseOrThrow } from "../config/validation";
import type { JsonObject } from "../http/body";
import type { AppContext } from "../http/context";
import { GatewayError, jsonResponse } from "../http/errors";
import { authenticate } from "../pipeline/authenticate";
import { deleteResponse, loadResponse, ownerOf, type StoredResponse } from "../state/response-store";

function notFound(id: string): GatewayError {
  return new GatewayError(404, `No response found with id '${id.slice(0, 128)}'.`, "response_not_found", { param: "response_id" });
}

async function stored(c: AppContext, id: string): Promise<{ owner: string; response: StoredResponse }> {
  const owner = ownerOf(await authenticate(c));
  const response = await loadResponse(c.env, owner, id);
  if (!response) throw notFound(id);
  return { owner, response };
}

export async function handleGetResponse(c: AppContext, id: string): Promise<Response> {
  return jsonResponse((await stored(c, id)).response.response);
}

const listQuery = z.object({
  limit: z.optional(z.string().check(z.regex(/^(100|[1-9][0-9]?)$/, "must be an integer from 1 to 100"))),
  order: z.optional(z.enum(["asc", "desc"])),
  after: z.optional(z.string()),
});

/**
 * An input item as OpenAI lists it: with an id, and a message's text as content parts (`input_text`, or
 * `output_text` for an assistant's earlier answer) even when the request gave it as a string.
 */
function listedItem(item: JsonObject, fallbackId: string): JsonObject {
  const listed: JsonObject = { id: typeof item.id === "string" ? item.id : fallbackId, ...item };
  if ((item.type === "message" || item.type === undefined) && typeof item.role === "string") {
    listed.type = "message";
    listed.status ??= "completed";
    if (typeof item.content === "string") listed.content = [{ type: item.role === "assistant" ? "output_text" : "input_text", text: item.content, ...(item.role === "assistant" ? { annotations: [] } : {}) }];
  }
  return listed;
}

/** The conversation's input items as OpenAI lists them: newest first by default, paged with `after`. */
export async function handleInputItems(c: AppContext, id: string): Promise<Response> {
  const query = parseOrThrow(listQuery, queryOf(c), "query");
  const { response } = await stored(c, id);
  const items = response.inputItems.map((item, index) => listedItem(item, `item_${id}_${index}`));
  const limit = Number(query.limit ?? 20);
  const ordered = query.order === "asc" ? items : [...items].reverse();
  const start = query.after === undefined ? 0 : ordered.findIndex((item) => item.id === query.after) + 1;
  const page = ordered.slice(start, start + limit);
  return jsonResponse({ object: "list", data: page, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null, has_more: start + limit < ordered.length });
}

export async function handleDeleteResponse(c: AppContext, id: string): Promise<Response> {
  const owner = ownerOf(await authenticate(c));
  if (!(await deleteResponse(c.env, owner, id))) throw notFound(id);
  return jsonResponse({ id, object: "response", deleted: true });
}
