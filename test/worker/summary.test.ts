/** The Overview's numbers: real time buckets in integer arithmetic, sums that add up, averages that are averages. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin } from "./helpers";

interface Bucket {
  bucket: number;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost: number;
  avg_latency_ms: number;
  avg_ttft_ms: number | null;
  streams: number;
}

async function row(id: string, ts: number, values: { status?: number; errorCode?: string | null; latency: number; ttft?: number | null; cost: number }): Promise<void> {
  await env.DB.prepare(
    "INSERT INTO request_logs (id, request_id, ts, model, endpoint, stream, status, error_code, prompt_tokens, completion_tokens, cost, latency_ms, ttft_ms, attempts, fallback_index) VALUES (?1, ?1, ?2, 'summary-model', 'chat/completions', ?3, ?4, ?5, 10, 5, ?6, ?7, ?8, 1, 0)",
  )
    .bind(id, ts, values.ttft === undefined || values.ttft === null ? 0 : 1, values.status ?? 200, values.errorCode ?? null, values.cost, values.latency, values.ttft ?? null)
    .run();
}

describe("the log summary", () => {
  it("puts requests in the bucket their time starts, and averages per bucket", async () => {
    const start = Date.UTC(2026, 10, 30, 12, 0, 0); // a minute boundary
    await row("s1", start + 1_000, { latency: 10, cost: 0.000012 });
    await row("s2", start + 59_999, { latency: 30, ttft: 4, cost: 0.000003 });
    await row("s3", start + 60_000, { latency: 100, status: 502, cost: 0 });
    await row("s4", start + 61_000, { latency: 50, ttft: 8, errorCode: "stream_truncated", cost: 0.5 });
    const response = await admin("GET", `/api/logs/summary?from=${start}&to=${start + 120_000}&bucket_seconds=60&model=summary-model`);
    expect(response.status).toBe(200);
    const { buckets } = (await response.json()) as { buckets: Bucket[] };
    expect(buckets).toEqual([
      { bucket: start, requests: 2, errors: 0, prompt_tokens: 20, completion_tokens: 10, cost: 0.000015, avg_latency_ms: 20, avg_ttft_ms: 4, streams: 1 },
      { bucket: start + 60_000, requests: 2, errors: 2, prompt_tokens: 20, completion_tokens: 10, cost: 0.5, avg_latency_ms: 75, avg_ttft_ms: 8, streams: 1 },
    ]);
  });

  it("refuses a bucket size that is not a whole number of seconds of at least 10", async () => {
    expect((await admin("GET", "/api/logs/summary?bucket_seconds=2.5")).status).toBe(400);
    expect((await admin("GET", "/api/logs/summary?bucket_seconds=5")).status).toBe(400);
  });
});
