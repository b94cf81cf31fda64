/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` a caller sends is continued, and each
 * origin call carries one naming the span that made it, so vLLM's own spans join the same trace.
 */

export interface SpanContext {
  traceId: string;
  spanId: string;
  /** The trace-flags byte as two hex digits; "01" means sampled. */
  flags: string;
  /** The caller's vendor state, passed on as it came. */
  traceState: string | undefined;
}

/** Version 00 has exactly these four fields; a later version may append more, which a version-00 reader ignores. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
/** The specification lets a participant drop a tracestate longer than this rather than parse it. */
const MAX_TRACESTATE = 512;

/** The caller's span, or null when the header is absent or invalid (then a new trace starts). */
export function parseTraceparent(traceparent: string | null, tracestate: string | null): SpanContext | null {
  const match = traceparent === null ? null : TRACEPARENT.exec(traceparent.trim());
  if (!match) return null;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === undefined || traceId === undefined || spanId === undefined || flags === undefined) return null;
  if (version === "ff" || (version === "00" && rest !== undefined)) return null;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  const state = tracestate?.trim();
  return { traceId, spanId, flags, traceState: state && state.length <= MAX_TRACESTATE ? state : undefined };
}

export function isSampled(context: SpanContext): boolean {
  return (Number.parseInt(context.flags, 16) & 1) === 1;
}

export function formatTraceparent(traceId: string, spanId: string, flags: string): string {
  return `00-${traceId}-${spanId}-${flags}`;
}
