/** A time in an admin query string: an ISO time or integer milliseconds since the epoch. */
import * as z from "zod/mini";

export const time = z.pipe(
  z.string().check(z.maxLength(64)),
  z.transform((raw: string, ctx) => {
    const value = /^\d{1,15}$/.test(raw) ? Number(raw) : Date.parse(raw);
    if (Number.isFinite(value)) return value;
    ctx.issues.push({ code: "custom", message: "must be an ISO time or milliseconds since the epoch", input: raw });
    return z.NEVER;
  }),
);
