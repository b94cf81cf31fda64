/**
 * The limiter's alerts: it tells this sink of every change to a counter and of every refusal, in the same synchronous
 * step; the sink decides which alerts that calls for (alerts/crossings.ts), remembers them in the object's storage and
 * queues their deliveries (alerts/outbox.ts) — so the admission or settlement that crossed answers without waiting
 * for any webhook.
 */
import { effectiveAlerts, formatOf, type AlertDefaults } from "../alerts/config";
import { crossings, refusal, type FiredRecord } from "../alerts/crossings";
import { alertBody, alertText, type AlertEvent } from "../alerts/event";
import type { AlertOutbox } from "../alerts/outbox";
import { windowEnd, type WindowSpec } from "./duration";
import type { LimiterKv } from "./limiter-storage";
import type { Counter } from "./limiter-quota";
import { KEY_SCOPE, type LimiterConfig } from "./limits";
import { dollars, iso, nanos } from "./limiter-denials";

export interface LimiterAlertSink {
  /** A counter of the current window now holds `counter`. */
  usage(config: LimiterConfig | null, name: string, spec: WindowSpec, counter: Counter, now: number): void;
  /** A request was refused by the limit the counter `name` measures. */
  refused(config: LimiterConfig, name: string, spec: WindowSpec, counter: Counter, now: number): void;
}

/** The limit a counter measures, by the counter's name (`budget:<id>`, `tokens:<scope>`, `requests:<scope>`), with its capacity in the counter's unit. */
function limitOf(config: LimiterConfig, name: string): { limit: AlertEvent["limit"]; capacity: number } | undefined {
  const colon = name.indexOf(":");
  const key = name.slice(colon + 1);
  // Ephemeral tokens' own counters (`token-budget:`, `token-requests:`) send no alerts.
  const kind = (["budget", "tokens", "requests"] as const).find((known) => known === name.slice(0, colon));
  if (!kind) return undefined;
  const budget = kind === "budget" ? config.budgets.find((b) => b.id === key) : undefined;
  const rate = kind === "budget" ? undefined : config.rateLimits.find((r) => r.scope === key);
  const tokens = kind === "tokens";
  const max = budget ? budget.max_limit : tokens ? rate?.token_max_limit : rate?.request_max_limit;
  const duration = budget ? budget.reset_duration : tokens ? rate?.token_reset_duration : rate?.request_reset_duration;
  if (max == null || !duration) return undefined;
  const scope = budget ? budget.scope : key;
  const limit = { kind, id: budget ? budget.id : null, provider_config: scope === KEY_SCOPE ? null : scope, duration, max };
  return { limit, capacity: budget ? nanos(max) : max };
}

const RECORD_PREFIX = "a:f:";

export function limiterAlerts(kv: LimiterKv, outbox: AlertOutbox, defaults: () => AlertDefaults): LimiterAlertSink {
  /** What `config` asks for (null: no alerts). A few property reads: cheaper than anything cached. */
  const alertsOf = (config: LimiterConfig | null) => {
    const alerts = config?.entity ? effectiveAlerts(config.alerts, defaults()) : null;
    return alerts && alerts.webhooks.length > 0 ? alerts : null;
  };
  const recordOf = (name: string) => kv.get<FiredRecord>(RECORD_PREFIX + name);
  const save = (name: string, record: FiredRecord) => kv.put(RECORD_PREFIX + name, record);
  const queue = (config: LimiterConfig, limit: AlertEvent["limit"], threshold: number | null, spec: WindowSpec, counter: Counter, now: number) => {
    const entity = config.entity;
    const webhooks = alertsOf(config)?.webhooks;
    if (!entity || !webhooks) return;
    const facts = {
      type: threshold === null ? ("limit_refused" as const) : ("threshold_crossed" as const),
      occurred_at: iso(now),
      entity: { kind: entity.kind, id: entity.id, name: config.name },
      limit,
      usage: limit.kind === "budget" ? dollars(counter.usage) : counter.usage,
      threshold,
      window: { started_at: iso(counter.start), resets_at: iso(windowEnd(spec, counter.start)) },
    };
    const event: AlertEvent = { id: crypto.randomUUID(), ...facts, text: alertText(facts) };
    for (const webhook of webhooks) outbox.enqueue({ url: webhook.url, secret: webhook.secret, body: alertBody(event, formatOf(webhook)), alertId: event.id }, now);
  };
  return {
    usage(config, name, spec, counter, now) {
      const alerts = alertsOf(config);
      const limit = config && alerts && limitOf(config, name);
      if (!config || !alerts || !limit) return;
      const { crossed, record } = crossings(recordOf(name), counter.usage, limit.capacity, counter.start, alerts.thresholds);
      if (crossed.length === 0) return;
      save(name, record);
      for (const threshold of crossed) queue(config, limit.limit, threshold, spec, counter, now);
    },
    refused(config, name, spec, counter, now) {
      const limit = alertsOf(config) && limitOf(config, name);
      const record = limit && refusal(recordOf(name), counter.start, windowEnd(spec, counter.start), now);
      if (!limit || !record) return;
      save(name, record);
      queue(config, limit.limit, null, spec, counter, now);
    },
  };
}
