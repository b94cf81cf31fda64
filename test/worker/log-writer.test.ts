/**
 * The request log's writer: rows wait for the flush interval, but a full batch is written at once, so no single
 * write grows with the traffic of a whole second.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { LogRow } from "../../src/observability/log-row";
import { PAYLOAD_CHARS_PER_FLUSH, ROWS_PER_FLUSH, enqueueLogRow } from "../../src/observability/log-writer";

function row(requestId: string): LogRow {
  return {
    id: crypto.randomUUID(), request_id: requestId, ts: Date.now(), virtual_key_id: null, virtual_key_name: null, provider: "vllm", provider_key: "local",
    origin: "127.0.0.1", model: "vllm/m", endpoint: "chat/completions", stream: false, status: 200, error_code: null, prompt_tokens: 8, completion_tokens: 3,
    cost: 0, latency_ms: 1, ttft_ms: null, attempts: 1, fallback_index: 0, cache_hit: false, request_body: null, response_body: null, metric_model: "vllm/m",
  };
}

async function written(prefix: string): Promise<number> {
  return (await env.DB.prepare("SELECT COUNT(*) AS n FROM request_logs WHERE request_id LIKE ?1").bind(`${prefix}%`).first<number>("n")) ?? 0;
}

describe("the request log writer", () => {
  it("writes a full batch of waiting rows at once and leaves the next for the interval", async () => {
    expect(ROWS_PER_FLUSH).toBe(2000);
    const prefix = `writer-${crypto.randomUUID()}-`;
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i <= ROWS_PER_FLUSH; i += 1) enqueueLogRow(env, row(`${prefix}${i}`), (promise) => pending.push(promise));
    // The first row started the interval's timer; the last of a full batch wrote it.
    expect(pending).toHaveLength(2);
    await pending[1];
    expect(await written(prefix)).toBe(ROWS_PER_FLUSH);
    await pending[0];
    expect(await written(prefix)).toBe(ROWS_PER_FLUSH + 1);
  });

  it("writes at once when the waiting rows' payloads reach the bound, however few the rows", async () => {
    const prefix = `payload-${crypto.randomUUID()}-`;
    const pending: Promise<unknown>[] = [];
    // LOG_PAYLOADS=true rows of 64 KiB a body: 2,000 of them would hold 256 MB in the isolate.
    const body = "x".repeat(64 * 1024);
    const rowsToBound = Math.ceil(PAYLOAD_CHARS_PER_FLUSH / (2 * body.length));
    expect(rowsToBound).toBe(31);
    for (let i = 0; i < rowsToBound; i += 1) enqueueLogRow(env, { ...row(`${prefix}${i}`), request_body: body, response_body: body }, (promise) => pending.push(promise));
    expect(pending).toHaveLength(2);
    await pending[1];
    expect(await written(prefix)).toBe(rowsToBound);
    await pending[0];
  });
});
