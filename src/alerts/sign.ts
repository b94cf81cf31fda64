/**
 * The alert signature: `x-gateway-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, Stripe's
 * scheme. The timestamp inside the signed text lets a receiver refuse replays of an old delivery.
 */
export const SIGNATURE_HEADER = "x-gateway-signature";

const encoder = new TextEncoder();

export async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(text)));
  let hex = "";
  for (const byte of mac) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

export async function signatureHeader(secret: string, body: string, unixSeconds: number): Promise<string> {
  return `t=${unixSeconds},v1=${await hmacHex(secret, `${unixSeconds}.${body}`)}`;
}
