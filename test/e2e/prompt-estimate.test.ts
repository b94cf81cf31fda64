/**
 * The gateway's prompt-token estimate against real token counts (OpenAI's o200k tokenizer, with the chat format's
 * documented 3 tokens per message and 3 for the reply), for a few typical prompts. The estimate only decides
 * admission — settlement uses the origin's count — so it must be close, and never fooled by JSON or base64.
 */
import { Tiktoken } from "js-tiktoken/lite";
import o200k from "js-tiktoken/ranks/o200k_base";
import { describe, expect, it } from "vitest";
import { IMAGE_PART_TOKENS, estimatePromptTokens } from "../../src/governance/prompt-estimate";

const tokenizer = new Tiktoken(o200k);
const count = (text: string) => tokenizer.encode(text).length;

interface Message {
  role: string;
  content: string;
}

/** OpenAI's own rule for chat prompts: every message costs 3 tokens beyond its text, the reply header 3. */
function realChatTokens(messages: Message[]): number {
  return messages.reduce((sum, m) => sum + 3 + count(m.role) + count(m.content), 3);
}

const PROMPTS: Record<string, Message[]> = {
  "short question": [{ role: "user", content: "What is the capital of France?" }],
  "system prompt and conversation": [
    { role: "system", content: "You are a concise assistant for a hardware store. Answer in two sentences at most, and never recommend a competitor." },
    { role: "user", content: "Which drill should I buy to hang shelves on a concrete wall?" },
    { role: "assistant", content: "A hammer drill with masonry bits will do it; the 18V cordless model in aisle 4 is a good choice." },
    { role: "user", content: "And which anchors go with 8 mm holes?" },
  ],
  "code review": [
    {
      role: "user",
      content:
        "Review this function:\n```ts\nexport function chunk<T>(items: T[], size: number): T[][] {\n  const out: T[][] = [];\n  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));\n  return out;\n}\n```\nWhat happens when size is 0?",
    },
  ],
  "JSON-heavy extraction": [
    { role: "system", content: 'Extract fields as JSON: {"name": string, "email": string, "order_id": number}.' },
    { role: "user", content: "Hi, I'm Dana Whitfield (dana.w@example.org), writing about order 448213 which arrived damaged." },
  ],
};

describe("prompt-token estimates", () => {
  for (const [name, messages] of Object.entries(PROMPTS)) {
    it(`stays within 25% of the real count for a ${name}`, () => {
      const real = realChatTokens(messages);
      const estimate = estimatePromptTokens({ model: "m", messages, temperature: 0.2 });
      expect(estimate / real).toBeGreaterThanOrEqual(0.75);
      expect(estimate / real).toBeLessThanOrEqual(1.25);
    });
  }

  it("counts an image part by its fixed estimate, however large its base64", () => {
    const text = "Describe this picture.";
    const huge = `data:image/png;base64,${"iVBORw0KGgo".repeat(100_000)}`;
    const small = "https://example.com/cat.png";
    const body = (url: string) => ({ model: "m", messages: [{ role: "user", content: [{ type: "text", text }, { type: "image_url", image_url: { url } }] }] });
    const withHuge = estimatePromptTokens(body(huge));
    expect(withHuge).toBe(estimatePromptTokens(body(small)));
    // The text (6) + the image (IMAGE_PART_TOKENS) + 4 for the message (its role included) + 3 for the reply header.
    expect(withHuge).toBe(Math.ceil(text.length / 4) + IMAGE_PART_TOKENS + 4 + 3);
  });

  it("counts token-id prompts one token per id, and tool definitions as text", () => {
    expect(estimatePromptTokens({ model: "m", prompt: [1, 2, 3, 4, 5] })).toBe(5);
    const tools = [{ type: "function", function: { name: "get_weather", description: "Current weather for a city", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    const bare = estimatePromptTokens({ model: "m", messages: [{ role: "user", content: "Weather in Oslo?" }] });
    const withTools = estimatePromptTokens({ model: "m", messages: [{ role: "user", content: "Weather in Oslo?" }], tools });
    // The name (11 bytes: 3) + the description (26 bytes: 7); `type` values are structure, not text.
    expect(withTools - bare).toBe(10);
  });

  it("counts reasoning sent under both of vLLM's names once", () => {
    const thought = "Let me think about this."; // 24 bytes: 6 tokens
    const turn = (reasoning: Record<string, string>) => estimatePromptTokens({ model: "m", messages: [{ role: "assistant", content: "Hi.", ...reasoning }] });
    const once = turn({ reasoning: thought });
    expect(turn({ reasoning_content: thought })).toBe(once);
    expect(turn({ reasoning: thought, reasoning_content: thought })).toBe(once);
    // Different texts under the two names are both read.
    expect(turn({ reasoning: thought, reasoning_content: "Other." })).toBe(once + 2);
  });

  it("counts a tool schema nested deeper than it walks as its JSON text, never as nothing", () => {
    const description = "word ".repeat(2_000); // 10,000 bytes: 2,500 tokens as text
    let schema: Record<string, unknown> = { type: "string", description };
    for (let level = 0; level < 40; level += 1) schema = { type: "object", properties: { p: schema } };
    const tools = [{ type: "function", function: { name: "f", parameters: schema } }];
    const message = { model: "m", messages: [{ role: "user", content: "hi" }] };
    const added = estimatePromptTokens({ ...message, tools }) - estimatePromptTokens(message);
    // Below the walked depth the schema counts as its JSON: at least the description's 2,500 tokens, at most the
    // whole tool definition's text (it was counted as nothing before).
    expect(added).toBeGreaterThanOrEqual(2_500);
    expect(added).toBeLessThanOrEqual(Math.ceil(JSON.stringify(tools).length / 4));
  });
});
