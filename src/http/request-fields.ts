/** Request-body fields the gateway owns on every inference API; they never reach an origin. */
import { z } from "zod";

/** `fallbacks`: models to try, in order, when every attempt at the requested one failed. */
export const fallbackModels = z.array(z.string().min(1), { error: "fallbacks must be a list of model names" }).max(10).nullish();
