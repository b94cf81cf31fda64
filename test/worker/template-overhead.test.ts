/** Reservations learn what a model's chat template adds to prompts, so short prompts stop exceeding limits. */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { forgetTemplateOverheads, learnTemplateOverhead, templateOverhead } from "../../src/governance/template-overhead";
import { configure, origin, postJson, quota, virtualKey } from "./helpers";

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
});

beforeEach(() => forgetTemplateOverheads());

describe("chat template overhead", () => {
  it("is learned from the origin's prompt counts on short prompts, bounded, and only upwards", () => {
    learnTemplateOverhead("vllm/a", 8, 38);
    learnTemplateOverhead("vllm/a", 8, 20);
    expect(templateOverhead("vllm/a")).toBe(30);
    learnTemplateOverhead("vllm/b", 600, 900); // a long prompt: its shortfall is the text's, not the template's
    learnTemplateOverhead("vllm/c", 8, 5000); // an image counted low, say: capped
    learnTemplateOverhead("vllm/d", 8, 8);
    expect([templateOverhead("vllm/b"), templateOverhead("vllm/c"), templateOverhead("vllm/d")]).toEqual([0, 256, 0]);
  });

  it("is reserved for later requests to the model, so they cannot exceed a token window by it", async () => {
    const key = await virtualKey("templated-window", { provider_configs: [{ provider: "vllm" }], lease_share: 0, rate_limit: { token_max_limit: 100, token_reset_duration: "1h" } });
    const send = () => postJson("/v1/chat/completions", { model: "vllm/templated", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }, { "x-bf-vk": key });
    // The estimate for "hi" is 8 tokens and the origin counts 38 (+3 completion): each request uses 41. Reserving 18
    // (8 + 10) would admit a third at 82 used and end at 123; reserving 48 once the 30 are learned refuses it.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await send()).status);
    expect(statuses).toEqual([200, 200, 429]);
    expect((await quota(key)).rate_limits[0]?.tokens?.current_usage).toBe(82);
  });
});
