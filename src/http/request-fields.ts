/** Request-body fields the gateway owns on every inference API; they never reach an origin. */
import { z } from "zod";

/** `fallbacks`: models to try, in order, when every attempt at the requested one failed. */
export const fallbackModels = z.array(z.string().min(1), { error: "fallbacks must be a list of model names" }).max(10).nullish();

/**
 * Writes the completion limit the request was granted into the body the origin receives, so the origin never
 * generates more than was reserved: into whichever limit field the client used (`max_completion_tokens` when it
 * sent that, even as null), `max_tokens` otherwise. `null` means nothing was reserved: the body goes as sent.
 */
export function writeCompletionLimit(body: Record<string, unknown>, granted: number | null): void {
  if (granted === null) return;
  if (typeof body.max_completion_tokens === "number" || ("max_completion_tokens" in body && typeof body.max_tokens !== "number")) {
    body.max_completion_tokens = granted;
    if (typeof body.max_tokens === "number") body.max_tokens = granted;
  } else {
    body.max_tokens = granted;
  }
}
