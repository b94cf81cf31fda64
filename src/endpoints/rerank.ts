/**
 * Rerank: accepts vLLM's shape and Bifrost's (documents as `{text}` objects, options under `params`), sends vLLM's
 * shape to `/v1/rerank` and falls back to `/rerank` on 404/405/501, and answers with results sorted by score.
 */
import { z } from "zod";
import { modelField } from "../http/request-fields";
import { parseOrThrow } from "../config/validation";
import { isJsonObject, readJsonRequest, type JsonObject } from "../http/body";
import type { AppContext } from "../http/context";
import { GatewayError, jsonResponse } from "../http/errors";
import type { Target } from "../routing/resolve";
import { callOrigin, type OriginCall } from "../upstream/origin";
import { relayJson } from "../upstream/respond";
import { route, serve } from "./governed";
import { requestBodyLimit } from "./json-inference";
import { inputOnly } from "../governance/admission";
import { estimatePromptTokens } from "../governance/prompt-estimate";

const document = z.union([z.string(), z.looseObject({ text: z.string() }), z.looseObject({ content: z.array(z.unknown()) })], {
  error: "each document must be a string, an object with `text`, or an object with `content` parts",
});

const rerankFields = z.looseObject({
  model: modelField,
  query: z.union([z.string(), z.looseObject({})], { error: "query is required: a string or an object with content" }),
  documents: z.array(document, { error: "documents is required and must be an array" }).min(1, "documents must not be empty"),
  params: z.looseObject({ return_documents: z.boolean().optional() }).optional(),
  return_documents: z.boolean().optional(),
});

type RerankDocument = z.infer<typeof document>;

/** What the client gets back for each result's `document`. */
function documentForClient(original: RerankDocument | undefined): unknown {
  if (original === undefined) return undefined;
  return typeof original === "string" ? { text: original } : original;
}

function shapeResults(body: JsonObject, documents: RerankDocument[], returnDocuments: boolean | undefined, target: Target): JsonObject {
  const { results } = body;
  if (!Array.isArray(results)) {
    throw new GatewayError(502, `origin for provider '${target.provider.name}' returned a rerank answer without a results array`, "invalid_upstream_response");
  }
  const seen = new Set<number>();
  const shaped = results.map((result) => {
    const index = isJsonObject(result) ? result.index : undefined;
    if (!isJsonObject(result) || typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= documents.length || seen.has(index)) {
      throw new GatewayError(502, `origin for provider '${target.provider.name}' returned a rerank result with an invalid index`, "invalid_upstream_response");
    }
    seen.add(index);
    const score = typeof result.relevance_score === "number" ? result.relevance_score : typeof result.score === "number" ? result.score : 0;
    const out: JsonObject = { ...result, relevance_score: score };
    if (returnDocuments === true) out.document = documentForClient(documents[index]);
    else if (returnDocuments === false) delete out.document;
    return out;
  });
  shaped.sort((a, b) => (b.relevance_score as number) - (a.relevance_score as number) || (a.index as number) - (b.index as number));
  return { ...body, results: shaped };
}

export async function handleRerank(c: AppContext, defaultProvider?: string): Promise<Response> {
  const { body } = await readJsonRequest(c.req.raw, requestBodyLimit(c));
  const fields = parseOrThrow(rerankFields, body, "rerank request");
  const { params: _params, return_documents: _returnDocuments, ...rest } = body;
  // Bifrost puts options under `params`; vLLM wants them at the top level. Fields already at the top level win.
  const { return_documents: paramsReturn, ...paramOptions } = fields.params ?? {};
  const returnDocuments = fields.return_documents ?? (paramsReturn as boolean | undefined);
  const upstreamBody: JsonObject = {
    ...paramOptions,
    ...rest,
    documents: fields.documents.map((doc) => (typeof doc === "object" && "text" in doc && typeof doc.text === "string" && !("content" in doc) ? doc.text : doc)),
  };

  const estimate = inputOnly(estimatePromptTokens(upstreamBody));
  const routed = await route(c, { model: fields.model, requestType: "rerank", defaultProvider, estimate });
  return serve(c, routed, estimate, async (target, publicModel) => {
    upstreamBody.model = target.upstreamModel;
    const payload = JSON.stringify(upstreamBody);
    const send = (path: string): Promise<OriginCall> =>
      callOrigin({ target, path, pathKey: "rerank", method: "POST", body: payload, contentType: "application/json", requestId: c.get("requestId"), clientSignal: c.req.raw.signal }, c.env);
    let call = await send("/v1/rerank");
    // Older servers and some deployments serve only /rerank.
    if ([404, 405, 501].includes(call.response.status) && target.provider.pathOverrides.rerank === undefined) {
      call.abort("falling back to /rerank");
      call = await send("/rerank");
    }
    const { body: answer, usage } = await relayJson(call, target, publicModel);
    return { response: jsonResponse({ ...shapeResults(answer, fields.documents, returnDocuments, target), model: publicModel }), usage };
  });
}
