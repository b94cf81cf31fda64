/** The pure parts of accounting: how a request fits a limit, which price applies, what limit reaches the origin. */
import { describe, expect, it } from "vitest";
import { fitAllowance } from "../../src/governance/allowance";
import { money } from "../../src/governance/limiter-denials";
import { costNanos, priceFor, type PriceQuery } from "../../src/governance/pricing";
import type { PricingOverride } from "../../src/governance/schema";
import { writeCompletionLimit } from "../../src/http/request-fields";

describe("fitting a request into a limit", () => {
  const window = { capacity: 1000, used: 0, pending: 0, fixed: 100, perToken: 1 };

  it("grants what remains after the prompt", () => {
    expect(fitAllowance({ ...window, used: 300, pending: 200 }, 16)).toEqual({ kind: "fits", maxCompletion: 400 });
  });

  it("says never when even an empty window cannot hold the smallest form", () => {
    expect(fitAllowance({ ...window, fixed: 990 }, 16)).toEqual({ kind: "never" });
    expect(fitAllowance({ ...window, fixed: 984 }, 16)).toEqual({ kind: "fits", maxCompletion: 16 });
  });

  it("tells in-flight reservations apart from settled usage", () => {
    expect(fitAllowance({ ...window, used: 100, pending: 790 }, 16)).toEqual({ kind: "short", onlyInFlight: true });
    expect(fitAllowance({ ...window, used: 890, pending: 0 }, 16)).toEqual({ kind: "short", onlyInFlight: false });
  });

  it("prices completion tokens in a budget's unit", () => {
    // $0.01 budget in nano-dollars, a prompt costing 1,000,000 nanos, 2,500 nanos per completion token.
    expect(fitAllowance({ capacity: 10_000_000, used: 4_000_000, pending: 0, fixed: 1_000_000, perToken: 2_500 }, 16)).toEqual({ kind: "fits", maxCompletion: 2_000 });
  });

  it("lets a free request through a budget with room to spare and holds an overspent one", () => {
    expect(fitAllowance({ capacity: 0, used: 0, pending: 0, fixed: 0, perToken: 0 }, 16)).toEqual({ kind: "fits", maxCompletion: Number.POSITIVE_INFINITY });
    expect(fitAllowance({ capacity: 10, used: 11, pending: 0, fixed: 0, perToken: 0 }, 16)).toEqual({ kind: "short", onlyInFlight: false });
  });
});

describe("prices", () => {
  const rule = (extra: Partial<PricingOverride>): PricingOverride => ({
    id: extra.pattern ?? "r",
    name: extra.pattern ?? "r",
    scope_kind: "provider",
    provider: "vllm",
    provider_key_name: null,
    virtual_key_id: null,
    match_type: "exact",
    pattern: "x",
    input_price_per_million: 1,
    output_price_per_million: 2,
    ...extra,
  });
  const query: PriceQuery = { provider: "vllm", keyName: "gpu-a", virtualKeyId: "vk-1", servedModel: "meta-llama/Llama-3.1-8B-Instruct", clientModel: "LLAMA" };

  it("prices the served model whatever the client called it, in lower case", () => {
    const price = priceFor([rule({ pattern: "META-LLAMA/llama-3.1-8b-instruct", output_price_per_million: 7 })], query);
    expect(price?.output).toBe(7);
    expect(price?.source).toMatchObject({ kind: "override", matched: "served_model" });
  });

  it("lets a rule naming the served model beat one naming the client's alias at the same scope", () => {
    const price = priceFor([rule({ pattern: "llama", output_price_per_million: 1 }), rule({ pattern: "meta-llama/*", match_type: "wildcard", output_price_per_million: 5 })], query);
    expect(price?.output).toBe(5);
  });

  it("lets a more specific scope win even when it names the client's alias", () => {
    const price = priceFor([rule({ pattern: "meta-llama/llama-3.1-8b-instruct", output_price_per_million: 5 }), rule({ scope_kind: "virtual_key", virtual_key_id: "vk-1", provider: null, pattern: "llama", output_price_per_million: 9 })], query);
    expect(price?.output).toBe(9);
    expect(price?.source).toMatchObject({ matched: "client_model", scope_kind: "virtual_key" });
  });

  it("has no price for a self-hosted model nobody priced, and the catalog's for a hosted one", () => {
    expect(priceFor([], query)).toBeNull();
    const hosted = priceFor([], { ...query, provider: "openai", servedModel: "GPT-4o-mini", clientModel: "gpt-4o-mini" });
    expect(hosted?.source).toMatchObject({ kind: "catalog", model: "gpt-4o-mini" });
    expect(hosted?.input).toBe(0.15);
    expect(hosted?.output).toBe(0.6);
  });

  it("counts cost in integer nano-dollars, audio seconds included", () => {
    const price = priceFor([rule({ pattern: "whisper", input_price_per_million: 0, output_price_per_million: 0, price_per_second: 0.0001 })], { ...query, servedModel: "whisper" });
    expect(costNanos(price, { promptTokens: 0, completionTokens: 0, audioSeconds: 61 })).toBe(6_100_000);
    expect(costNanos(priceFor([rule({ pattern: "x" })], { ...query, servedModel: "x" }), { promptTokens: 1_000, completionTokens: 500 })).toBe(2_000_000);
    expect(money(6_100_000)).toBe("$0.0061");
    expect(money(12)).toBe("$0.000000012");
    expect(money(2_000_000_000)).toBe("$2.00");
  });
});

describe("the completion limit the origin receives", () => {
  it("writes the grant into the field the client used, max_tokens otherwise", () => {
    const none: Record<string, unknown> = {};
    writeCompletionLimit(none, 300);
    expect(none).toEqual({ max_tokens: 300 });
    const nulled: Record<string, unknown> = { max_completion_tokens: null };
    writeCompletionLimit(nulled, 300);
    expect(nulled).toEqual({ max_completion_tokens: 300 });
    const both: Record<string, unknown> = { max_tokens: 900, max_completion_tokens: 800 };
    writeCompletionLimit(both, 500);
    expect(both).toEqual({ max_tokens: 500, max_completion_tokens: 500 });
    const untouched: Record<string, unknown> = { max_tokens: null };
    writeCompletionLimit(untouched, null);
    expect(untouched).toEqual({ max_tokens: null });
  });
});
