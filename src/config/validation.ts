/** Turns zod failures into one 400 whose message names every offending field. */
import * as z from "zod/mini";
import { GatewayError } from "../http/errors";
import { issueMessage } from "./zod-messages";

// zod/mini ships no locale: without this every issue a schema gives no message of its own reads "Invalid input".
// English, as the classic build installs it, so messages read the same whichever build made a schema.
z.config({ localeError: issueMessage });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A name people give a key, team or customer: 1–128 characters of well-formed Unicode. A lone surrogate (valid in
 * JSON, not in UTF-8) would come back as U+FFFD from one store and as itself from another.
 */
export const displayName = z
  .string()
  .check(z.minLength(1), z.maxLength(128), z.refine((value) => !LONE_SURROGATE.test(value), "must be well-formed Unicode text (it holds a lone surrogate)"));

/** Issues and field names a message names at most: a hostile body must not become a megabyte-long error. */
const MAX_ISSUES = 10;
const MAX_NAME = 64;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? clip(String(segment), MAX_NAME) : `.${clip(String(segment), MAX_NAME)}`;
  }
  return clip(out, 4 * MAX_NAME);
}

/** Takes the error of any zod 4 schema, classic or mini. */
export function describeIssues(error: z.core.$ZodError): string {
  const described = error.issues.slice(0, MAX_ISSUES).map((issue) => {
    const at = formatPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      const fields = issue.keys.slice(0, MAX_ISSUES).map((key) => clip(at ? `${at}.${key}` : key, 2 * MAX_NAME));
      const more = issue.keys.length > MAX_ISSUES ? ` and ${issue.keys.length - MAX_ISSUES} more` : "";
      return `unknown field${issue.keys.length > 1 ? "s" : ""}: ${fields.join(", ")}${more}`;
    }
    return at ? `${at}: ${issue.message}` : issue.message;
  });
  if (error.issues.length > MAX_ISSUES) described.push(`and ${error.issues.length - MAX_ISSUES} more problems`);
  return described.join("; ");
}

/** Parses with any zod 4 schema, classic or mini; a failure is a 400 naming the first offending field. */
export function parseOrThrow<T extends z.core.$ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  let result: ReturnType<typeof z.safeParse<T>>;
  try {
    result = z.safeParse(schema, input);
  } catch (error) {
    // Hundreds of thousands of problems in one body exhaust the stack while zod collects them: still the client's input.
    if (error instanceof RangeError) throw new GatewayError(400, `invalid ${what}: too many problems to list; fix the first entries and send it again`, "invalid_request");
    throw error;
  }
  if (!result.success) {
    const first = result.error.issues[0];
    const param = first && first.path.length > 0 ? formatPath(first.path) : null;
    throw new GatewayError(400, `invalid ${what}: ${describeIssues(result.error)}`, "invalid_request", { param });
  }
  return result.data;
}
