/**
 * Bifrost's duration syntax for budgets and rate limits: Go durations (`30s`, `5m`, `1h30m`) plus `d` (day),
 * `w` (week), `M` (30-day month) and `Y` (365-day year). Case matters: `1m` is a minute, `1M` a month.
 * Windows are rolling (start at the first use after the last reset) or calendar-aligned in UTC.
 */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  M: 30 * 86_400_000,
  Y: 365 * 86_400_000,
};

/**
 * The longest window: a thousand years. Longer ones (Bifrost takes any) put a window's reset past the last date a
 * JavaScript Date can hold, 275,760 AD; a window that never resets in practice is this one.
 */
export const MAX_DURATION_MS = 1000 * 365 * 86_400_000;

const COMPOUND = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const SINGLE = /^(\d+(?:\.\d+)?)(d|w|M|Y)$/;

/** Milliseconds of a duration string, or undefined when it is not valid, not positive or longer than MAX_DURATION_MS. */
export function parseDuration(text: string): number | undefined {
  let total = 0;
  const single = SINGLE.exec(text);
  if (single) total = Number(single[1]) * (UNIT_MS[single[2] ?? "d"] ?? 0);
  else if (COMPOUND.test(text)) {
    for (const match of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(match[1]) * (UNIT_MS[match[2] ?? "s"] ?? 0);
  } else return undefined;
  return total > 0 && total <= MAX_DURATION_MS ? Math.round(total) : undefined;
}

export type CalendarUnit = "d" | "w" | "M" | "Y";

/** The calendar unit a duration may align to: exactly one day, week, month or year. */
export function calendarUnit(text: string): CalendarUnit | undefined {
  const match = /^1(d|w|M|Y)$/.exec(text);
  return match ? (match[1] as CalendarUnit) : undefined;
}

/** Start of the calendar period (UTC) containing `now`. */
export function calendarPeriodStart(unit: CalendarUnit, now: number): number {
  const date = new Date(now);
  const y = date.getUTCFullYear();
  const m = date.getUTCMonth();
  const d = date.getUTCDate();
  switch (unit) {
    case "d":
      return Date.UTC(y, m, d);
    case "w": {
      const daysSinceMonday = (date.getUTCDay() + 6) % 7;
      return Date.UTC(y, m, d - daysSinceMonday);
    }
    case "M":
      return Date.UTC(y, m, 1);
    case "Y":
      return Date.UTC(y, 0, 1);
  }
}

/** End of the calendar period that starts at `start`. */
export function calendarPeriodEnd(unit: CalendarUnit, start: number): number {
  const date = new Date(start);
  const y = date.getUTCFullYear();
  const m = date.getUTCMonth();
  const d = date.getUTCDate();
  switch (unit) {
    case "d":
      return Date.UTC(y, m, d + 1);
    case "w":
      return Date.UTC(y, m, d + 7);
    case "M":
      return Date.UTC(y, m + 1, 1);
    case "Y":
      return Date.UTC(y + 1, 0, 1);
  }
}

export interface WindowSpec {
  durationMs: number;
  calendar: CalendarUnit | undefined;
}

export function windowSpec(duration: string, calendarAligned: boolean): WindowSpec {
  const durationMs = parseDuration(duration) ?? 0;
  return { durationMs, calendar: calendarAligned ? calendarUnit(duration) : undefined };
}

/**
 * Where the window containing `now` starts, given where the stored one started. Rolling windows reset when
 * `now − start ≥ duration`; calendar windows follow the UTC calendar.
 */
export function currentWindowStart(spec: WindowSpec, storedStart: number, now: number): number {
  if (spec.calendar) return calendarPeriodStart(spec.calendar, now);
  return now - storedStart >= spec.durationMs ? now : storedStart;
}

export function windowEnd(spec: WindowSpec, start: number): number {
  return spec.calendar ? calendarPeriodEnd(spec.calendar, start) : start + spec.durationMs;
}
