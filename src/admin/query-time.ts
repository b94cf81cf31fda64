/** Times and counts in admin query strings: an ISO time or integer milliseconds since the epoch; a whole number. */
import * as z from "zod/mini";

/** A whole number written as digits (not `1e2` or `0x10`, which a number coercion would take), within bounds. */
export function wholeNumber(min: number, max: number) {
  return z.pipe(z.string().check(z.regex(/^\d{1,12}$/, "must be a whole number")), z.pipe(z.transform(Number), z.number().check(z.gte(min), z.lte(max))));
}

export const time = z.pipe(
  z.string().check(z.maxLength(64)),
  z.transform((raw: string, ctx) => {
    const value = /^\d{1,15}$/.test(raw) ? Number(raw) : Date.parse(raw);
    if (Number.isFinite(value)) return value;
    ctx.issues.push({ code: "custom", message: "must be an ISO time or milliseconds since the epoch", input: raw });
    return z.NEVER;
  }),
);
