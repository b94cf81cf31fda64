/**
 * Where a virtual key's, team's or customer's alerts go and at which shares of a limit: the `alerts` field of their
 * admin bodies, and the gateway-wide default (ALERT_WEBHOOK_URL, ALERT_WEBHOOK_SECRET, ALERT_THRESHOLDS) that applies
 * to every one that sets no webhooks of its own.
 */
import * as z from "zod/mini";
import { maskSecret } from "../admin/present";
import { sealSecret } from "../config/secret-box";
import { envReferenceProblem } from "../upstream/secrets";

export type AlertFormat = "json" | "slack";

export interface AlertWebhook {
  url: string;
  /** HMAC key, literal or an `env.NAME` reference to a Worker secret; no signature without one. */
  secret?: string | undefined;
  /** Absent: Slack's body for hooks.slack.com, JSON for any other URL. */
  format?: AlertFormat | undefined;
}

export interface AlertSettings {
  /** Absent: the gateway's ALERT_WEBHOOK_URL. An empty list turns alerts off for this key, team or customer. */
  webhooks?: AlertWebhook[] | undefined;
  /** Percentages of each limit; absent: ALERT_THRESHOLDS. Empty: refusals only. */
  thresholds?: number[] | undefined;
}

/** The gateway's settings that every key, team and customer without webhooks of its own uses. */
export interface AlertDefaults {
  ALERT_WEBHOOK_URL?: string | undefined;
  ALERT_WEBHOOK_SECRET?: string | undefined;
  ALERT_THRESHOLDS: number[];
}

const LOCAL_HOST = /^(localhost|127\.0\.0\.1|\[::1\])$/;

/** https anywhere; plain http only to this machine, for local development (alerts carry spend figures). */
export function isAlertUrl(raw: string): boolean {
  if (!URL.canParse(raw)) return false;
  const url = new URL(raw);
  return url.protocol === "https:" || (url.protocol === "http:" && LOCAL_HOST.test(url.hostname));
}

export function formatOf(webhook: AlertWebhook): AlertFormat {
  return webhook.format ?? (new URL(webhook.url).hostname === "hooks.slack.com" ? "slack" : "json");
}

/** Threshold percentages, ascending and without repeats. */
export function normaliseThresholds(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

export const ALERT_URL_RULE = "an https URL (http only to localhost)";

const webhookSchema = z.strictObject({
  url: z.string().check(z.maxLength(2048), z.refine(isAlertUrl, `must be ${ALERT_URL_RULE}`)),
  secret: z.optional(z.string().check(z.minLength(1), z.maxLength(1024), z.refine((value) => envReferenceProblem(value) === undefined, "may not reference the gateway's own settings"))),
  format: z.optional(z.enum(["json", "slack"])),
});

export const alertsSchema = z.strictObject({
  webhooks: z.optional(z.array(webhookSchema).check(z.maxLength(5))),
  thresholds: z.optional(z.array(z.number().check(z.gt(0), z.lte(100))).check(z.maxLength(10))),
});

export type AlertsInput = z.infer<typeof alertsSchema>;

/**
 * What is stored after an update that sent `input` (absent: unchanged; null: back to the gateway's default). A secret
 * sent back in its masked form, as admin answers show it, keeps the secret stored for the same URL.
 */
export function alertSettingsOf(input: AlertsInput | null | undefined, previous: AlertSettings | null | undefined): AlertSettings | null {
  if (input === undefined) return previous ?? null;
  return (
    input && {
      webhooks: input.webhooks?.map(({ url, secret, format }) => {
        const stored = previous?.webhooks?.find((old) => old.url === url)?.secret;
        return { url, secret: stored !== undefined && secret === maskSecret(stored) ? stored : secret, format };
      }),
      thresholds: input.thresholds && normaliseThresholds(input.thresholds),
    }
  );
}

/**
 * As stored: with CONFIG_ENCRYPTION_KEY set, literal webhook secrets sealed (as provider secrets are); the alerting
 * Durable Object opens them when it signs a delivery.
 */
export async function sealAlertSecrets(settings: AlertSettings | null | undefined, encryptionKey: string | undefined): Promise<AlertSettings | null | undefined> {
  const webhooks = settings?.webhooks;
  if (!settings || !webhooks || !encryptionKey) return settings;
  const sealed = await Promise.all(webhooks.map(async (webhook) => (webhook.secret === undefined ? webhook : { ...webhook, secret: await sealSecret(webhook.secret, encryptionKey) })));
  return { ...settings, webhooks: sealed };
}

/** As admin answers show it: literal secrets masked. */
export function presentAlerts(settings: AlertSettings | null | undefined): AlertSettings | null {
  return settings ? { ...settings, webhooks: settings.webhooks?.map((webhook) => ({ ...webhook, secret: webhook.secret && maskSecret(webhook.secret) })) } : null;
}

/** The webhooks and thresholds in force for one key, team or customer. */
export function effectiveAlerts(settings: AlertSettings | null | undefined, defaults: AlertDefaults): { webhooks: AlertWebhook[]; thresholds: number[] } {
  const url = defaults.ALERT_WEBHOOK_URL;
  return { webhooks: settings?.webhooks ?? (url ? [{ url, secret: defaults.ALERT_WEBHOOK_SECRET }] : []), thresholds: settings?.thresholds ?? defaults.ALERT_THRESHOLDS };
}
