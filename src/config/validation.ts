/** Turns zod failures into one 400 whose message names every offending field. */
import type { z } from "zod";
import { GatewayError } from "../http/errors";

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const at = formatPath(issue.path);
      if (issue.code === "unrecognized_keys") {
        const fields = issue.keys.map((key) => (at ? `${at}.${key}` : key));
        return `unknown field${fields.length > 1 ? "s" : ""}: ${fields.join(", ")}`;
      }
      return at ? `${at}: ${issue.message}` : issue.message;
    })
    .join("; ");
}

export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const first = result.error.issues[0];
    const param = first && first.path.length > 0 ? formatPath(first.path) : null;
    throw new GatewayError(400, `invalid ${what}: ${describeIssues(result.error)}`, "invalid_request", { param });
  }
  return result.data;
}
