/**
 * Rerank: accepts vLLM's shape and Bifrost's (documents as `{text}` objects, options under `params`), sends vLLM's
 * shape to `/v1/rerank` and falls back to `/rerank` on 404/405/501, and answers with results sorted by score.
 */
import * as z from "zod/mini";
import { modelField } from "../http/request-fields";
import { parseOrThrow } from "../config/validation";
import { readJsonObject, type JsonObject } from "../http/body";
import type { AppContext } from "../http/context";
import { runInference } from "../pipeline/inference";
import { requestBodyLimit } from "./json-inference";
import { inputOnly } from "../governance/admission";
import { estimatePromptTokens } from "../governance/prompt-estimate";

const document = z.union([z.string(), z.looseObject({ text: z.string() }), z.looseObject({ content: z.array(z.unknown()) })], {
  error: "each document must be a string, an object with `text`, or an object with `content` parts",
});

const rerankFields = z.looseObject({
  model: modelField,
  query: z.union([z.string(), z.looseObject({})], { error: "query is required: a string or an object with content" }),
  documents: z.array(document, { error: "documents is required and must be an array" }).check(z.minLength(1, "documents must not be empty")),
  params: z.optional(z.looseObject({ return_documents: z.optional(z.boolean()) })),
  return_documents: z.optional(z.boolean()),
});

export async function handleRerank(c: AppContext, defaultProvider?: string): Promise<Response> {
  const body = await readJsonObject(c.req.raw, requestBodyLimit(c));
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

  return runInference(c, {
    model: fields.model,
    requestType: "rerank",
    defaultProvider,
    estimate: inputOnly(estimatePromptTokens(upstreamBody)),
    fallbacks: undefined,
    metered: true,
    // Older servers and some deployments serve only /rerank.
    upstream: {
      kind: "json",
      path: "/v1/rerank",
      pathKey: "rerank",
      body: upstreamBody,
      stream: false,
      alternatePath: "/rerank",
      reply: { kind: "rerank", documents: fields.documents, returnDocuments },
    },
  });
}
