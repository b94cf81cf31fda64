/**
 * The name chat-completions clients read reasoning under. vLLM renamed `reasoning_content` to `reasoning` (which
 * versions send which: convert/chat-types.ts) and clients differ in the one they read, so a provider
 * (`reasoning_field`) or a request (`x-bf-reasoning-field`) may choose. By default the origin's own spelling passes
 * through untouched, at no cost.
 *
 * Renaming is exact: only the member of a choice's `message` or `delta` changes its name — never text that spells
 * it, never a member anywhere else — and a payload that does not name the other field is returned as it came,
 * without being parsed.
 */
import type { ChatChunk } from "../convert/chat-types";
import { isJsonObject, type JsonObject } from "../http/body";
import type { SseEvent, StreamConverter } from "./stream-converter";

export const REASONING_FIELDS = ["reasoning", "reasoning_content"] as const;
export type ReasoningField = (typeof REASONING_FIELDS)[number];

/** What a provider setting or a request may ask for: one of the names, or the origin's own (the default). */
export const REASONING_FIELD_CHOICES = [...REASONING_FIELDS, "passthrough"] as const;
export type ReasoningFieldChoice = (typeof REASONING_FIELD_CHOICES)[number];

export const REASONING_FIELD_HEADER = "x-bf-reasoning-field";

const OTHER: Record<ReasoningField, ReasoningField> = { reasoning: "reasoning_content", reasoning_content: "reasoning" };

/** The field to rename to, or undefined for "as the origin sent it". */
export function reasoningFieldOf(choice: ReasoningFieldChoice | undefined): ReasoningField | undefined {
  return choice === undefined || choice === "passthrough" ? undefined : choice;
}

export function isReasoningFieldChoice(value: string): value is ReasoningFieldChoice {
  return (REASONING_FIELD_CHOICES as readonly string[]).includes(value);
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** A message or delta with `from` named `to`, in its place among the other members. */
function renamed(holder: JsonObject, from: ReasoningField, to: ReasoningField): JsonObject {
  // vLLM 0.11.1 to 0.15 sends both names: the chosen one stays, holding whichever of the two carries text.
  const both = Object.hasOwn(holder, to);
  return Object.fromEntries(
    Object.entries(holder).flatMap(([key, value]): [string, unknown][] => {
      if (key === from) return both ? [] : [[to, value]];
      if (key === to) return [[to, text(value) ?? text(holder[from]) ?? value]];
      return [[key, value]];
    }),
  );
}

/** A chat completion or chunk with its choices' reasoning named `to`, or null when nothing needs renaming. */
export function withReasoningField(payload: unknown, to: ReasoningField): JsonObject | null {
  if (!isJsonObject(payload) || !Array.isArray(payload.choices)) return null;
  const from = OTHER[to];
  let changed = false;
  const choices: unknown[] = payload.choices.map((choice: unknown) => {
    if (!isJsonObject(choice)) return choice;
    let out = choice;
    for (const slot of ["message", "delta"]) {
      const holder = choice[slot];
      if (!isJsonObject(holder) || !Object.hasOwn(holder, from)) continue;
      out = { ...out, [slot]: renamed(holder, from, to) };
      changed = true;
    }
    return out;
  });
  return changed ? { ...payload, choices } : null;
}

/**
 * A chat payload's JSON text with its reasoning named `to`: the same string, never parsed, when it does not contain
 * the other name as a whole JSON string — a member name always does (origins write member names without escapes),
 * and text inside a string cannot, its quotes being escaped. `parse` supplies the parsed text only when it does.
 */
export function renameReasoningInJson(json: string, to: ReasoningField, parse: () => unknown): string {
  if (!json.includes(`"${OTHER[to]}"`)) return json;
  const payload = withReasoningField(parse(), to);
  return payload === null ? json : JSON.stringify(payload);
}
