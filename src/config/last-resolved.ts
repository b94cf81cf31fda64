/**
 * Remembers the value computed for the last input, once it has resolved. Requests share resolved values only, never
 * a pending promise: the platform may cancel one request's I/O when that request ends, and another request awaiting
 * it would hang. Concurrent first calls each compute; the last to finish is kept.
 */
export function lastResolved<V>(compute: (input: string) => Promise<V>): (input: string) => Promise<V> {
  let last: { input: string; value: V } | null = null;
  return async (input) => {
    if (last?.input === input) return last.value;
    const value = await compute(input);
    last = { input, value };
    return value;
  };
}
