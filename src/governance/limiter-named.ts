/** A limiter's Durable Object stub by name: a virtual key's id, `team:<id>` or `customer:<id>`. */
import type { Env } from "../env";

/** Object ids by limiter name: deriving one hashes the name, and an id is plain data any request may reuse. */
const objectIds = new Map<string, DurableObjectId>();

/** The limiter named `name`: a virtual key's id, `team:<id>` or `customer:<id>`. */
export function limiterNamed(env: Env, name: string) {
  let id = objectIds.get(name);
  if (!id) {
    id = env.VK_LIMITER.idFromName(name);
    if (objectIds.size >= 10_000) objectIds.clear();
    objectIds.set(name, id);
  }
  return env.VK_LIMITER.get(id);
}

