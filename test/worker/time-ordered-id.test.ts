import { describe, expect, it } from "vitest";
import { timeOrderedId } from "../../src/http/time-ordered-id";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("time-ordered ids", () => {
  it("are UUID version 7 carrying the millisecond they were made", () => {
    const id = timeOrderedId(Date.UTC(2026, 11, 1, 5, 0, 0, 123));
    expect(id).toMatch(UUID_V7);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(Date.UTC(2026, 11, 1, 5, 0, 0, 123));
  });

  it("sort in the order of their times, whatever their random bits", () => {
    const times = [0, 1, 255, 256, 65_535, 1_700_000_000_000, 1_700_000_000_001, 2 ** 47];
    const ids = times.map((time) => timeOrderedId(time));
    expect([...ids].reverse().sort()).toEqual(ids);
    expect(ids[0]?.slice(0, 13)).toBe("00000000-0000");
    expect(ids[7]?.slice(0, 13)).toBe("80000000-0000");
  });

  it("differ within one millisecond", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => timeOrderedId(1_700_000_000_000)));
    expect(ids.size).toBe(1000);
  });
});
