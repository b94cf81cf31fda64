/**
 * What the Responses and Anthropic Messages stream converters cost per chunk: the same 200-chunk origin stream
 * fetched through the gateway as plain chat, as a Responses stream and as a Messages stream, interleaved, and the
 * difference in median total time divided by the chunk count.
 */
import { percentile, post } from "./load.mjs";
import { STREAM_CHUNKS as CHUNKS } from "./nginx-origin.mjs";

const REQUESTS = Number(process.env.BENCH_CONVERSION_REQUESTS ?? 300);
const ROUNDS = 10;

const messages = [{ role: "user", content: "hi" }];
const KINDS = [
  { key: "chat", path: "/v1/chat/completions", body: { model: "bench-stream/bench-model", messages, max_tokens: CHUNKS, stream: true } },
  // store: false — this measures the conversion, not the response store's D1 write.
  { key: "responses", path: "/v1/responses", body: { model: "bench-stream/bench-model", input: "hi", max_output_tokens: CHUNKS, stream: true, store: false } },
  { key: "messages", path: "/anthropic/v1/messages", body: { model: "bench-stream/bench-model", messages, max_tokens: CHUNKS, stream: true } },
].map((kind) => ({ ...kind, payload: Buffer.from(JSON.stringify(kind.body)) }));

/**
 * The streams come from a provider of their own, whose origin answers every request with the 200-chunk stream
 * (nginx's /stream/): the main one answers JSON, as compare.sh's origin does.
 */
export async function addStreamProvider(gatewayUrl, originUrl, binding) {
  const answer = await fetch(`${gatewayUrl}/api/providers`, {
    method: "POST",
    headers: { authorization: "Bearer bench-admin", "content-type": "application/json" },
    body: JSON.stringify({
      provider: "bench-stream",
      keys: [{ name: "stream", value: "", models: ["*"], vpc_binding: binding }],
      network_config: { base_url: `${originUrl}/stream` },
      custom_provider_config: { base_provider_type: "openai" },
    }),
  });
  if (!answer.ok) throw new Error(`adding the stream provider answered ${answer.status}: ${await answer.text()}`);
}

export async function measureConversion(gatewayUrl) {
  for (const kind of KINDS) {
    const check = await post(gatewayUrl, kind.path, kind.payload);
    if (check.status !== 200) throw new Error(`${kind.key} stream answered ${check.status}: ${check.body.slice(0, 300)}`);
    for (let i = 0; i < 50; i++) await post(gatewayUrl, kind.path, kind.payload);
  }
  const samples = Object.fromEntries(KINDS.map((kind) => [kind.key, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < KINDS.length; i++) {
      const kind = KINDS[(i + round) % KINDS.length];
      for (let n = 0; n < REQUESTS / ROUNDS; n++) samples[kind.key].push((await post(gatewayUrl, kind.path, kind.payload)).total);
    }
  }
  const p50 = Object.fromEntries(Object.entries(samples).map(([key, values]) => [key, percentile(values, 50)]));
  return {
    chunks: CHUNKS,
    p50Ms: p50,
    perChunkUs: {
      responses: ((p50.responses - p50.chat) * 1000) / CHUNKS,
      messages: ((p50.messages - p50.chat) * 1000) / CHUNKS,
    },
  };
}

export function reportConversion(result) {
  const ms = (n) => `${n.toFixed(3)} ms`;
  const us = (n) => `${n.toFixed(2)} µs`;
  console.log(`
stream conversion, ${result.chunks}-chunk streams through the gateway (direct socket), p50 total time
  plain chat:                                ${ms(result.p50Ms.chat)}
  as a Responses stream:                     ${ms(result.p50Ms.responses)}  (+${us(result.perChunkUs.responses)} per chunk)
  as an Anthropic Messages stream:           ${ms(result.p50Ms.messages)}  (+${us(result.perChunkUs.messages)} per chunk)`);
}
