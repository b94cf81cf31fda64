/**
 * The request shapes of vLLM's own endpoints, as far as the gateway acts on them: `model` to route by and the input
 * the request needs (vllm/entrypoints/serve/tokenize/protocol.py, vllm/entrypoints/pooling/…/protocol.py). Every
 * other field is the origin's business and passes through. A body missing its input is the client's mistake, so it
 * is a 400 here rather than a request the key pays an origin round trip for.
 */
import * as z from "zod/mini";
import type { JsonObject } from "../http/body";
import { modelField } from "../http/request-fields";
import { estimatePromptTokens } from "../governance/prompt-estimate";

/** Fields every one of these endpoints reads: where it goes, and a `stream` none of them can honour. */
const common = { model: modelField, stream: z.nullish(z.boolean({ error: "stream must be a boolean" })) };

const messages = z.optional(z.array(z.unknown(), { error: "messages must be a list of chat messages" }));
const input = z.optional(z.union([z.string(), z.array(z.unknown())], { error: "input must be a string or a list" }));

export const tokenizeFields = z
  .looseObject({ ...common, prompt: z.optional(z.string({ error: "prompt must be a string" })), messages })
  .check(z.refine((body) => body.prompt !== undefined || body.messages !== undefined, "tokenize needs prompt (a string) or messages (a chat)"));

export const detokenizeFields = z.looseObject({
  ...common,
  tokens: z.array(z.int().check(z.gte(0)), { error: "tokens is required: a list of token ids" }),
});

export const classifyFields = z
  .looseObject({ ...common, input, messages })
  .check(z.refine((body) => body.input !== undefined || body.messages !== undefined, "classify needs input (text or a list) or messages (a chat)"));

/** `data` is an IO-processor plugin's input (an image, a file): its shape is the plugin's. */
export const poolingFields = z
  .looseObject({ ...common, input, messages, data: z.optional(z.unknown()) })
  .check(z.refine((body) => body.input !== undefined || body.messages !== undefined || body.data !== undefined, "pooling needs input, messages or data"));

/** The pairs vLLM's /score accepts, newest first; each side is text, a list, or multimodal `{content: […]}`. */
const SCORE_PAIRS = [
  ["queries", "documents"],
  ["queries", "items"],
  ["data_1", "data_2"],
  ["text_1", "text_2"],
] as const;

const scoreSide = z.optional(z.union([z.string(), z.array(z.unknown()), z.looseObject({})], { error: "each side of a score must be text, a list, or an object with content" }));

export const scoreFields = z
  .looseObject({ ...common, text_1: scoreSide, text_2: scoreSide, data_1: scoreSide, data_2: scoreSide, queries: scoreSide, documents: scoreSide, items: scoreSide })
  .check(z.refine((body) => scorePair(body) !== undefined, "score needs text_1 and text_2 (or data_1 and data_2, queries and documents, queries and items)"));

export function scorePair(body: Record<string, unknown>): [unknown, unknown] | undefined {
  for (const [first, second] of SCORE_PAIRS) if (body[first] !== undefined && body[second] !== undefined) return [body[first], body[second]];
  return undefined;
}

function itemCount(side: unknown): number {
  if (Array.isArray(side)) return side.length;
  if (typeof side === "object" && side !== null && Array.isArray((side as { content?: unknown }).content)) return (side as { content: unknown[] }).content.length;
  return 1;
}

/**
 * A score's prompt: every pair the model reads. One item against N is N pairs, so the single side is read N times;
 * two lists are read pair by pair.
 */
export function estimateScoreTokens(body: JsonObject): number {
  const pair = scorePair(body);
  if (!pair) return 0;
  const [first, second] = pair;
  const counts = [itemCount(first), itemCount(second)];
  const pairs = Math.max(...counts);
  const tokens = (side: unknown) => estimatePromptTokens({ input: side });
  return tokens(first) * (counts[0] === 1 ? pairs : 1) + tokens(second) * (counts[1] === 1 ? pairs : 1);
}
