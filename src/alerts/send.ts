/** One delivery attempt of an alert to one webhook: signed when it has a secret, cut off after a timeout. */
import { resolveSecret } from "../upstream/secrets";
import { SIGNATURE_HEADER, signatureHeader } from "./sign";

export interface Delivery {
  url: string;
  /** As configured: a literal or an `env.NAME` reference, resolved at each attempt so a rotated secret applies. */
  secret?: string | undefined;
  body: string;
  alertId: string;
}

const TIMEOUT_MS = 10_000;

/** Null when the receiver took it (2xx), else why not. */
export async function sendAlert(delivery: Delivery, env: object): Promise<string | null> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  // A timer cleared when the attempt ends (AbortSignal.timeout's would keep the object busy for its whole length).
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    if (delivery.secret !== undefined) headers[SIGNATURE_HEADER] = await signatureHeader(resolveSecret(delivery.secret, env, "an alert webhook's secret"), delivery.body, Math.floor(Date.now() / 1000));
    // Never follow a redirect: the signed body and its figures go to the configured URL only.
    const response = await fetch(delivery.url, { method: "POST", headers, body: delivery.body, redirect: "manual", signal: controller.signal });
    await response.body?.cancel();
    return response.ok ? null : `the receiver answered ${response.status}`;
  } catch (error) {
    return String(error);
  } finally {
    clearTimeout(timer);
  }
}
