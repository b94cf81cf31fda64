/**
 * A limiter's storage, written once per key per call. One call to a limiter carries a group of operations
 * (limiter-line.ts): admissions and settlements of several requests, each incrementing the same few counters. The
 * runtime commits every write of one call together, before the call's answer leaves the object (the output gate), so
 * only each key's last value in the call matters: writing a counter once instead of once per operation leaves the
 * same durable state for fewer storage writes — what a busy object's commits and a deployment's write units cost.
 * Outside a batch (configuration, token revocation, the alarm) writes go straight through.
 */
import type { LimiterKv } from "./limiter-storage";

const DELETED = Symbol("deleted");

export interface CoalescedKv extends LimiterKv {
  /** Runs `apply`, holding its writes until it returns (or throws), then writes each key's last value once. */
  batch<T>(apply: () => T): T;
}

export function coalescedKv(kv: LimiterKv): CoalescedKv {
  let pending: Map<string, unknown> | null = null;

  const flush = (writes: Map<string, unknown>) => {
    for (const [key, value] of writes) {
      if (value === DELETED) kv.delete(key);
      else kv.put(key, value);
    }
  };

  return {
    get<T>(key: string): T | undefined {
      if (pending?.has(key)) {
        const value = pending.get(key);
        return value === DELETED ? undefined : (value as T);
      }
      return kv.get<T>(key);
    },
    put<T>(key: string, value: T): void {
      if (pending) pending.set(key, value);
      else kv.put(key, value);
    },
    delete(key: string): void {
      if (pending) pending.set(key, DELETED);
      else kv.delete(key);
    },
    list<T>(options: { prefix: string }): Iterable<[string, T]> {
      if (pending && pending.size > 0) throw new Error("listing a limiter's storage while writes are held would miss them");
      return kv.list<T>(options);
    },
    batch<T>(apply: () => T): T {
      // A batch inside a batch joins it: the outer one writes.
      if (pending) return apply();
      const writes = new Map<string, unknown>();
      pending = writes;
      try {
        return apply();
      } finally {
        pending = null;
        flush(writes);
      }
    },
  };
}
