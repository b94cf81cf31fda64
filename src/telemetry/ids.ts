/** Trace and span ids. Injected wherever ids are made, so tests can name the ids they expect. */

export interface IdSource {
  /** 32 lowercase hex digits, not all zero. */
  traceId(): string;
  /** 16 lowercase hex digits, not all zero. */
  spanId(): string;
}

function randomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  // All zeros is the invalid id: astronomically rare, but cheap to rule out.
  if (buffer.every((byte) => byte === 0)) buffer[bytes - 1] = 1;
  let hex = "";
  for (const byte of buffer) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

export const randomIds: IdSource = {
  traceId: () => randomHex(16),
  spanId: () => randomHex(8),
};
