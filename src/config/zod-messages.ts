/**
 * zod's English messages, for the checks the gateway's schemas use. zod/mini ships no locale, and zod/locales' `en`
 * carries names for two dozen string formats (emails, UUIDs, IP ranges…) that no schema here has; this is its
 * wording for the rest, a kilobyte and a half lighter in the Worker. A format no schema has reads "Invalid <format>".
 */
import type * as z from "zod/mini";

/** zod's name for the type of a value it did not expect (its util.parsedType). */
function parsedType(data: unknown): string {
  if (typeof data === "number") return Number.isNaN(data) ? "nan" : "number";
  if (typeof data !== "object") return typeof data;
  if (data === null) return "null";
  if (Array.isArray(data)) return "array";
  const prototype: unknown = Object.getPrototypeOf(data);
  const constructor: unknown = (data as { constructor?: unknown }).constructor;
  return prototype !== Object.prototype && typeof constructor === "function" && constructor.name ? constructor.name : "object";
}

function primitive(value: unknown): string {
  if (typeof value === "bigint") return `${value.toString()}n`;
  return typeof value === "string" ? `"${value}"` : String(value);
}

const joinValues = (values: readonly unknown[], separator: string): string => values.map(primitive).join(separator);

/** What a length counts, by the kind of value whose length it is. */
const UNITS: Readonly<Record<string, string>> = { string: "characters", file: "bytes", array: "items", set: "items", map: "entries" };

function typeName(type: string, input?: unknown): string {
  if (type === "number" && typeof input === "number" && !Number.isFinite(input)) return String(input);
  return type === "nan" ? "NaN" : type;
}

function bound(kind: "big" | "small", origin: string, limit: number | bigint, inclusive: boolean | undefined, exact: boolean | undefined): string {
  const relation = exact ? "exactly " : (kind === "big" ? "<" : ">") + (inclusive ? "=" : "");
  const unit = UNITS[origin];
  const subject = kind === "big" ? (origin ?? "value") : origin;
  return unit === undefined
    ? `Too ${kind}: expected ${subject} to be ${relation}${limit.toString()}`
    : `Too ${kind}: expected ${subject} to have ${relation}${limit.toString()} ${unit}`;
}

export const issueMessage: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type":
      return `Invalid input: expected ${typeName(issue.expected)}, received ${typeName(parsedType(issue.input), issue.input)}`;
    case "invalid_value":
      return issue.values.length === 1 ? `Invalid input: expected ${primitive(issue.values[0])}` : `Invalid option: expected one of ${joinValues(issue.values, "|")}`;
    case "too_big":
      return bound("big", issue.origin, issue.maximum, issue.inclusive, issue.exact);
    case "too_small":
      return bound("small", issue.origin, issue.minimum, issue.inclusive, issue.exact);
    case "invalid_format":
      return issue.format === "regex" ? `Invalid string: must match pattern ${issue.pattern}` : `Invalid ${issue.format}`;
    case "not_multiple_of":
      return `Invalid number: must be a multiple of ${issue.divisor}`;
    case "unrecognized_keys":
      return `Unrecognized key${issue.keys.length > 1 ? "s" : ""}: ${joinValues(issue.keys, ", ")}`;
    case "invalid_key":
      return `Invalid key in ${issue.origin}`;
    case "invalid_element":
      return `Invalid value in ${issue.origin}`;
    case "invalid_union":
      if (Array.isArray(issue.options) && issue.options.length > 0) return `Invalid discriminator value. Expected ${issue.options.map((option: unknown) => `'${String(option)}'`).join(" | ")}`;
      return issue.inclusive === false ? "Invalid input: more than one option matched" : "Invalid input";
    default:
      return "Invalid input";
  }
};
