/** Request-body fields the gateway owns on every inference API; they never reach an origin. */
import * as z from "zod/mini";

/** The longest model name accepted: client-chosen strings are echoed in errors and logs, never unbounded. */
export const MAX_MODEL_NAME_LENGTH = 256;

/** `model` on every inference API. */
export const modelField = z
  .string({ error: "model is required and must be a string" })
  .check(z.minLength(1, "model must not be empty"), z.maxLength(MAX_MODEL_NAME_LENGTH, `model must be at most ${MAX_MODEL_NAME_LENGTH} characters`));

/** `fallbacks`: models to try, in order, when every attempt at the requested one failed. */
export const fallbackModels = z.nullish(
  z
    .array(z.string().check(z.minLength(1), z.maxLength(MAX_MODEL_NAME_LENGTH, `each fallback must be at most ${MAX_MODEL_NAME_LENGTH} characters`)), {
      error: "fallbacks must be a list of model names",
    })
    .check(z.maxLength(10, "fallbacks may name at most 10 models")),
);

/**
 * Writes the completion limit the request was granted into the body the origin receives, so the origin never
 * generates more than was reserved: into whichever limit field the client used (`max_completion_tokens` when it
 * sent that, even as null), `max_tokens` otherwise. `null` means nothing was reserved: the body goes as sent.
 */
export function writeCompletionLimit(body: Record<string, unknown>, granted: number | null): void {
  if (granted === null) return;
  if (isLimit(body.max_completion_tokens) || ("max_completion_tokens" in body && !isLimit(body.max_tokens))) {
    body.max_completion_tokens = granted;
    if (typeof body.max_tokens === "number") body.max_tokens = granted;
  } else {
    body.max_tokens = granted;
  }
}

/** vLLM reads `max_completion_tokens or max_tokens`: 0 is no limit at all, like null. */
export function isLimit(value: unknown): value is number {
  return typeof value === "number" && value > 0;
}

/** The completion limit a client set itself, read as vLLM reads it (0 and null are none). */
export function ownCompletionLimit(body: { max_completion_tokens?: number | null | undefined; max_tokens?: number | null | undefined }): number | undefined {
  if (isLimit(body.max_completion_tokens)) return body.max_completion_tokens;
  return isLimit(body.max_tokens) ? body.max_tokens : undefined;
}
