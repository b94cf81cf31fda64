/** A rerank answer for the client: results validated against the documents sent, sorted by score. */
import { isJsonObject, type JsonObject } from "../http/body";
import { GatewayError } from "../http/errors";

/** A document as the client sent it: a string, `{text}`, or `{content: [...]}`. */
export type RerankDocument = string | JsonObject;

/** What the client gets back for each result's `document`. */
function documentForClient(original: RerankDocument | undefined): unknown {
  if (original === undefined) return undefined;
  return typeof original === "string" ? { text: original } : original;
}

export function shapeRerankAnswer(body: JsonObject, documents: readonly RerankDocument[], returnDocuments: boolean | undefined, provider: string): JsonObject {
  const { results } = body;
  if (!Array.isArray(results)) {
    throw new GatewayError(502, `origin for provider '${provider}' returned a rerank answer without a results array`, "invalid_upstream_response");
  }
  const seen = new Set<number>();
  const shaped = results.map((result) => {
    const index = isJsonObject(result) ? result.index : undefined;
    if (!isJsonObject(result) || typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= documents.length || seen.has(index)) {
      throw new GatewayError(502, `origin for provider '${provider}' returned a rerank result with an invalid index`, "invalid_upstream_response");
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
