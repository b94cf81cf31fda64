/** A client that gives up — before the first byte or mid-stream — says nothing about the origin's health. */
import { beforeAll, describe, expect, it } from "vitest";
import { abandonBeforeFirstByte, configure, origin, postJson, received } from "./helpers";

beforeAll(async () => {
  await configure({
    // "primary" takes the traffic while its circuit is closed; the standby (weight 0) only when it is open.
    patient: {
      keys: [
        { name: "primary", models: ["*"], weight: 1, vllm_key_config: { url: origin("patient-primary") } },
        { name: "standby", models: ["*"], weight: 0, vllm_key_config: { url: origin("patient-standby") } },
      ],
      network_config: { base_url: origin("patient-primary") },
      custom_provider_config: { base_provider_type: "openai" },
    },
  });
});

async function leaveBeforeFirstByte(): Promise<void> {
  await abandonBeforeFirstByte({ model: "patient/slow-headers", messages: [{ role: "user", content: "hi" }] });
}

/** Several streams started (each a success for the origin) and then all abandoned, so nothing succeeds in between. */
async function leaveMidStream(count: number): Promise<void> {
  const readers = await Promise.all(
    Array.from({ length: count }, async () => {
      const response = await postJson("/v1/chat/completions", { model: "patient/slow-stream", stream: true, messages: [{ role: "user", content: "hi" }] });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      return reader;
    }),
  );
  await Promise.all(readers.map((reader) => reader.cancel()));
}

describe("the circuit breaker and clients that leave", () => {
  it("keeps the origin's circuit closed however many clients leave early", async () => {
    // More than the three consecutive failures that would open it.
    await Promise.all([leaveBeforeFirstByte(), leaveBeforeFirstByte(), leaveBeforeFirstByte(), leaveBeforeFirstByte()]);
    await leaveMidStream(4);
    const requestId = crypto.randomUUID();
    const response = await postJson("/v1/chat/completions", { model: "patient/meta-llama/Llama-3.2-1B-Instruct", messages: [{ role: "user", content: "hi" }] }, { "x-request-id": requestId });
    expect(response.status).toBe(200);
    expect((await received(requestId)).map((r) => r.origin)).toEqual(["patient-primary"]);
  });
});
