/** One delivery attempt of an alert to one webhook: signed when it has a secret, cut off after a timeout. */
import { openSecret } from "../config/secret-box";
import { resolveSecret } from "../upstream/secrets";
import { SIGNATURE_HEADER, signatureHeader } from "./sign";

export interface Delivery {
  url: string;
  /**
   * As stored: a literal (sealed with CONFIG_ENCRYPTION_KEY when that is set) or an `env.NAME` reference, opened and
   * resolved at each attempt so a rotated secret applies.
   */
  secret?: string | undefined;
  body: string;
  alertId: string;
}

const TIMEOUT_MS = 10_000;

/** Null when the receiver took it (2xx), else why not. */
export async function sendAlert(delivery: Delivery, env: { CONFIG_ENCRYPTION_KEY?: string | undefined }): Promise<string | null> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  // A timer cleared when the attempt ends (AbortSignal.timeout's would keep the object busy for its whole length).
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    if (delivery.secret !== undefined) {
      // A secret this gateway cannot open (sealed under another CONFIG_ENCRYPTION_KEY) fails the attempt, unsigned body unsent.
      const secret = resolveSecret(await openSecret(delivery.secret, env.CONFIG_ENCRYPTION_KEY), env, "an alert webhook's secret");
      headers[SIGNATURE_HEADER] = await signatureHeader(secret, delivery.body, Math.floor(Date.now() / 1000));
    }
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
