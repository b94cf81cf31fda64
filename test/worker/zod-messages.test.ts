/** The gateway's zod messages read exactly as zod's own English locale for every kind of issue its schemas raise. */
import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { en } from "zod/locales";
import { issueMessage } from "../../src/config/zod-messages";

const english = en().localeError;

/** The issues a value raises against a schema (the configured locale words them, but the raw issue is what counts). */
function issuesOf(schema: z.ZodMiniType, value: unknown): z.core.$ZodIssue[] {
  const result = z.safeParse(schema, value);
  return result.success ? [] : result.error.issues;
}

const cases: [string, z.ZodMiniType, unknown, number][] = [
  ["type", z.array(z.string()), null, 1],
  ["type of a class instance", z.string(), new Date(0), 1],
  ["infinite number", z.number(), Number.POSITIVE_INFINITY, 1],
  ["NaN", z.number(), Number.NaN, 1],
  ["one value", z.literal(1), 2, 1],
  ["enum", z.enum(["a", "b"]), "c", 1],
  ["too long", z.string().check(z.maxLength(2)), "abc", 1],
  ["too short", z.array(z.number()).check(z.minLength(2)), [1], 1],
  ["too large", z.number().check(z.lte(5)), 6, 1],
  ["too small exclusive", z.number().check(z.gt(5)), 5, 1],
  ["regex", z.string().check(z.regex(/^a$/)), "b", 1],
  ["multiple", z.number().check(z.multipleOf(3)), 4, 1],
  ["unknown keys", z.strictObject({ a: z.string() }), { a: "x", b: 1, c: 2 }, 1],
  ["union", z.union([z.string(), z.number()]), true, 1],
  // An exhaustive record misses key "a" (invalid type: undefined) and has an unrecognized key "b".
  ["record key", z.record(z.enum(["a"]), z.number()), { b: 1 }, 2],
];

describe("zod messages", () => {
  it.each(cases)("word %s issues as zod's English locale does", (_name, schema, value, count) => {
    const issues = issuesOf(schema, value);
    expect(issues).toHaveLength(count);
    for (const issue of issues) {
      const raw = { ...issue, input: value } as unknown as z.core.$ZodRawIssue;
      expect(issueMessage(raw)).toBe(english(raw));
    }
  });
});
