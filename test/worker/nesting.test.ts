/** Bodies nested deeper than anything real are refused at the door, before an origin runs and before a stringify overflows. */
import { beforeAll, describe, expect, it } from "vitest";
import { configure, errorOf, origin, postJson, received } from "./helpers";

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
});

describe("nesting", () => {
  it("refuses bodies nested deeper than 256 levels before any origin is asked, and takes 256", async () => {
    const nested = (depth: number): unknown => {
      let schema: unknown = { type: "string" };
      for (let level = 1; level < depth; level += 1) schema = { a: schema };
      return schema;
    };
    // The tool's schema sits 5 levels down in the body (body, tools, [0], parameters, then itself).
    const responses = (depth: number, requestId: string) =>
      postJson("/v1/responses", { model: "vllm/meta-llama/Llama-3.2-1B-Instruct", input: "hi", tools: [{ type: "function", name: "f", parameters: nested(depth - 3) }] }, { "x-request-id": requestId });
    for (const depth of [257, 10_000]) {
      const requestId = crypto.randomUUID();
      const refused = await responses(depth, requestId);
      expect(refused.status, String(depth)).toBe(400);
      const error = await errorOf(refused);
      expect(error.code).toBe("invalid_json");
      expect(error.message).toBe("request body nests arrays and objects deeper than 256 levels");
      expect(await received(requestId)).toEqual([]);
    }
    const requestId = crypto.randomUUID();
    const taken = await responses(256, requestId);
    expect(taken.status, await taken.clone().text()).toBe(200);
    expect(await received(requestId)).toHaveLength(1);
  });

  it("counts nesting outside strings only", async () => {
    const { nestsDeeperThan } = await import("../../src/http/body");
    const brackets = "[".repeat(300);
    expect(nestsDeeperThan(JSON.stringify({ text: brackets, quoted: `\\"${brackets}` }), 256)).toBe(false);
    expect(nestsDeeperThan(`${"[".repeat(257)}${"]".repeat(257)}`, 256)).toBe(true);
    expect(nestsDeeperThan(`${"[".repeat(256)}${"]".repeat(256)}`, 256)).toBe(false);
    expect(nestsDeeperThan(`${"[{}],".repeat(1000)}`, 2)).toBe(false);
  });
});
