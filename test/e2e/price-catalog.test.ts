/**
 * The bundled price catalog is exactly what the installed @pydantic/genai-prices gives, and the gateway's lookups
 * price hosted models as genai-prices itself does.
 */
import { execFileSync } from "node:child_process";
import { calcPrice } from "@pydantic/genai-prices";
import { describe, expect, it } from "vitest";
import { catalogEntry, rateAt } from "../../src/governance/price-catalog";

describe("hosted-model price catalog", () => {
  it("matches the installed genai-prices package (regenerate with node scripts/price-catalog.mjs)", () => {
    expect(() => execFileSync(process.execPath, ["scripts/price-catalog.mjs", "--check"], { stdio: "pipe" })).not.toThrow();
  });

  const cases: [provider: string, catalogProvider: string, model: string][] = [
    ["openai", "openai", "gpt-4o-mini"],
    ["openai", "openai", "gpt-4o-2024-08-06"],
    ["anthropic", "anthropic", "claude-3-5-haiku-20241022"],
    ["groq", "groq", "llama-3.1-8b-instant"],
    ["mistral", "mistral", "mistral-small-latest"],
  ];
  for (const [provider, catalogProvider, model] of cases) {
    it(`prices ${provider}/${model} as genai-prices does`, () => {
      const entry = catalogEntry(provider, model);
      expect(entry).not.toBeNull();
      const usage = { input_tokens: 1_000, output_tokens: 500 };
      const expected = calcPrice(usage, model, { providerId: catalogProvider });
      expect(expected).not.toBeNull();
      const ours = (rateAt(entry?.input ?? 0, 1_000) * 1_000 + rateAt(entry?.output ?? 0, 1_000) * 500) / 1e6;
      expect(ours).toBeCloseTo(expected?.total_price ?? -1, 12);
    });
  }

  it("has no price for an unknown model or a self-hosted provider, and strips an organisation prefix", () => {
    expect(catalogEntry("openai", "my-finetune-xyz")).toBeNull();
    expect(catalogEntry("vllm", "gpt-4o")).toBeNull();
    expect(catalogEntry("openai", "openai/gpt-4o-mini")?.id).toBe(catalogEntry("openai", "gpt-4o-mini")?.id);
  });
});
