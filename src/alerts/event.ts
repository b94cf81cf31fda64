/** What an alert says, as the JSON body receivers get, and as one line of text for Slack-compatible webhooks. */
import type { AlertFormat } from "./config";
import { money, nanos } from "../governance/limiter-denials";

export type EntityKind = "virtual_key" | "team" | "customer";
export type LimitKind = "budget" | "tokens" | "requests";

export interface AlertEvent {
  /** The same on every retry, so a receiver can drop a delivery it already has. */
  id: string;
  type: "threshold_crossed" | "limit_refused";
  occurred_at: string;
  entity: { kind: EntityKind; id: string; name: string };
  limit: {
    kind: LimitKind;
    /** A budget's id (null for request and token windows). */
    id: string | null;
    /** The provider config the limit belongs to (null: the key's, team's or customer's own). */
    provider_config: string | null;
    duration: string;
    /** USD for budgets, tokens or requests for windows. */
    max: number;
  };
  /** In the limit's unit, settled usage of the current window. */
  usage: number;
  /** null for a refusal. */
  threshold: number | null;
  window: { started_at: string; resets_at: string };
  /** The line Slack shows, also handy in logs. */
  text: string;
}

/** "$40.00 of $50.00", "8 of 10 requests". */
function figures(kind: LimitKind, usage: number, max: number): string {
  return kind === "budget" ? `${money(nanos(usage))} of ${money(nanos(max))}` : `${usage} of ${max} ${kind}`;
}

/** "team 'Research' reached 80% of its 1d budget: $40.00 of $50.00 (resets at …)", for people and Slack. */
export function alertText(event: Omit<AlertEvent, "text" | "id">): string {
  const { entity, limit } = event;
  const what = `its ${limit.duration} ${limit.kind === "budget" ? "budget" : `${limit.kind.slice(0, -1)} limit`}${limit.provider_config === null ? "" : ` (provider config ${limit.provider_config})`}`;
  const state = `${figures(limit.kind, event.usage, limit.max)} (resets at ${event.window.resets_at})`;
  return `${entity.kind.replace("_", " ")} '${entity.name}' ${event.type === "limit_refused" ? "was refused a request by" : `reached ${event.threshold}% of`} ${what}: ${state}`;
}

/** The body sent to a webhook of `format`. */
export function alertBody(event: AlertEvent, format: AlertFormat): string {
  return JSON.stringify(format === "slack" ? { text: event.text } : event);
}
