/**
 * Ids that sort by creation time: UUID version 7 (RFC 9562) — 48 bits of Unix milliseconds, then 74 random bits.
 * Request-log rows are keyed by these (and requests the gateway names itself carry them), so each insert lands at
 * the right edge of the table's B-tree indexes instead of on a random page: a random UUID key made every log batch
 * touch pages all over an ever larger index, the single largest cost of writing the request log.
 */
export function timeOrderedId(now: number = Date.now()): string {
  // The random bits come from crypto.randomUUID (one call, the platform's CSPRNG); its version nibble (index 14) is
  // replaced, its variant (index 19) kept.
  const random = crypto.randomUUID();
  const millis = Math.max(0, Math.floor(now)).toString(16).padStart(12, "0").slice(-12);
  return `${millis.slice(0, 8)}-${millis.slice(8)}-7${random.slice(15)}`;
}
