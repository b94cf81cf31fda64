/**
 * Puts the client's model name back into origin payloads. Origins echo the name they serve; clients must see the
 * name they asked for. A string splice of the compact `"model":"…"` member avoids re-serialising large bodies
 * (JSON-escaped content can never contain that needle, so only a real member matches); payloads formatted with
 * whitespace fall back to parse and re-serialise.
 */
import { isJsonObject } from "../http/body";

export interface ModelRewrite {
  servedModel: string;
  publicModel: string;
  needle: string;
}

export function modelRewrite(servedModel: string, publicModel: string): ModelRewrite | null {
  if (servedModel === publicModel) return null;
  return { servedModel, publicModel, needle: `"model":${JSON.stringify(servedModel)}` };
}

/** Rewrites the top-level model of a JSON text; `parse` supplies the parsed value only if the fast path misses. */
export function rewriteModelInJson(json: string, rewrite: ModelRewrite, parse: () => unknown): string {
  const at = json.indexOf(rewrite.needle);
  if (at !== -1) return `${json.slice(0, at)}"model":${JSON.stringify(rewrite.publicModel)}${json.slice(at + rewrite.needle.length)}`;
  if (!json.includes('"model"')) return json;
  const value = parse();
  if (isJsonObject(value) && value.model === rewrite.servedModel) return JSON.stringify({ ...value, model: rewrite.publicModel });
  return json;
}
