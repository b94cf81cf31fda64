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

const cases: [string, z.ZodMiniType, unknown][] = [
  ["type", z.array(z.string()), null],
  ["type of a class instance", z.string(), new Date(0)],
  ["infinite number", z.number(), Number.POSITIVE_INFINITY],
  ["NaN", z.number(), Number.NaN],
  ["one value", z.literal(1), 2],
  ["enum", z.enum(["a", "b"]), "c"],
  ["too long", z.string().check(z.maxLength(2)), "abc"],
  ["too short", z.array(z.number()).check(z.minLength(2)), [1]],
  ["too large", z.number().check(z.lte(5)), 6],
  ["too small exclusive", z.number().check(z.gt(5)), 5],
  ["regex", z.string().check(z.regex(/^a$/)), "b"],
  ["multiple", z.number().check(z.multipleOf(3)), 4],
  ["unknown keys", z.strictObject({ a: z.string() }), { a: "x", b: 1, c: 2 }],
  ["union", z.union([z.string(), z.number()]), true],
  ["record key", z.record(z.enum(["a"]), z.number()), { b: 1 }],
];

describe("zod messages", () => {
  it.each(cases)("word %s issues as zod's English locale does", (_name, schema, value) => {
    const issues = issuesOf(schema, value);
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) {
      const raw = { ...issue, input: value } as unknown as z.core.$ZodRawIssue;
      expect(issueMessage(raw)).toBe(english(raw));
    }
  });
});
