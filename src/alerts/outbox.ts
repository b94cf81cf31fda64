/**
 * Alerts waiting to be delivered, kept in the limiter's storage so an admission or a settlement only writes one
 * entry and answers at once; the object's alarm sends them. A failed attempt is tried again after 1s, 4s, 16s and
 * 64s; after the fifth the alert is given up with one log line. Entries survive restarts, so an alert queued before
 * one is still sent after it.
 */
import type { LimiterKv } from "../governance/limiter-storage";
import type { Delivery } from "./send";

interface Entry extends Delivery {
  /** Attempts made so far. */
  attempts: number;
  /** When the next attempt is due (ms). */
  dueAt: number;
}

export type Send = (delivery: Delivery) => Promise<string | null>;

export interface AlertOutbox {
  enqueue(delivery: Delivery, now: number): void;
  /** When the next entry is due (null: nothing waits). */
  nextDue(): number | null;
  /**
   * Sends every entry due by `cutoff` (the time the alarm was set for, or now if later: an alarm run early, as tests
   * do, sends what it was set for), keeps the failures for their next attempt, and asks for the alarm of the next due.
   */
  deliverDue(cutoff: number, send: Send): Promise<void>;
}

const PREFIX = "a:q:";
const MAX_ATTEMPTS = 5;

export function alertOutbox(kv: LimiterKv, requestAlarm: (at: number) => void): AlertOutbox {
  /** By storage key. */
  const entries = new Map(kv.list<Entry>({ prefix: PREFIX }));
  /** Entries an alarm is sending right now: a second alarm run must not send them again. */
  const sending = new Set<string>();
  const store = (key: string, entry: Entry) => {
    entries.set(key, entry);
    kv.put(key, entry);
  };
  const nextDue = () => {
    let next: number | null = null;
    for (const [key, entry] of entries) if (!sending.has(key)) next = Math.min(next ?? entry.dueAt, entry.dueAt);
    return next;
  };
  const attempt = async (key: string, entry: Entry, send: Send) => {
    sending.add(key);
    const failure = await send(entry).finally(() => sending.delete(key));
    const attempts = entry.attempts + 1;
    if (failure !== null && attempts < MAX_ATTEMPTS) return store(key, { ...entry, attempts, dueAt: Date.now() + 1000 * 4 ** (attempts - 1) });
    // The host only: a Slack webhook's path is its credential.
    if (failure !== null) console.error(JSON.stringify({ event: "alert_webhook_gave_up", host: new URL(entry.url).host, alert_id: entry.alertId, attempts, reason: failure }));
    entries.delete(key);
    kv.delete(key);
  };
  return {
    enqueue(delivery, now) {
      store(PREFIX + crypto.randomUUID(), { ...delivery, attempts: 0, dueAt: now });
      requestAlarm(now);
    },
    nextDue,
    async deliverDue(cutoff, send) {
      await Promise.all([...entries].filter(([key, entry]) => entry.dueAt <= cutoff && !sending.has(key)).map(([key, entry]) => attempt(key, entry, send)));
      const next = nextDue();
      if (next !== null) requestAlarm(next);
    },
  };
}
