/**
 * Which alerts a limit's new usage calls for, remembered per limit so none is sent twice: thresholds by the window
 * they were crossed in, refusals until the window they happened in ends. The record is written in the same
 * synchronous step as the usage that crossed (the limiter's storage), so neither concurrent requests nor a restart of
 * the object can see a crossing as new twice.
 */

export interface FiredRecord {
  /** The window start the thresholds below were crossed in. */
  start: number;
  fired: number[];
  /** A refusal was reported for a window that ends then: later refusals before it stay quiet. */
  refusedUntil: number;
}

/** Thresholds already reported for the window that began at `start`. */
function firedIn(record: FiredRecord | undefined, start: number): number[] {
  return record?.start === start ? record.fired : [];
}

/**
 * The thresholds (percentages) that `usage` of `max` reaches and that were not reported for the window at `start`
 * yet, ascending, with the record that remembers them.
 */
export function crossings(record: FiredRecord | undefined, usage: number, max: number, start: number, thresholds: readonly number[]): { crossed: number[]; record: FiredRecord } {
  const fired = firedIn(record, start);
  // A zero limit refuses everything up front: there is no share of it to cross.
  const crossed = max > 0 ? thresholds.filter((percent) => usage * 100 >= percent * max && !fired.includes(percent)) : [];
  return { crossed, record: { start, fired: [...fired, ...crossed], refusedUntil: record?.refusedUntil ?? 0 } };
}

/** The record after a refusal at `now`, or null when one was reported for the window it falls in. */
export function refusal(record: FiredRecord | undefined, start: number, resetsAt: number, now: number): FiredRecord | null {
  return (record?.refusedUntil ?? 0) > now ? null : { start, fired: firedIn(record, start), refusedUntil: resetsAt };
}
