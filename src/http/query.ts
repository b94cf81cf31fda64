/** A request's query string as a record, with empty values left out: `?from=&to=` means "not given", as forms send it. */
import type { Context } from "hono";

export function queryOf(c: Context): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(c.req.query())) if (value !== "") query[name] = value;
  return query;
}
