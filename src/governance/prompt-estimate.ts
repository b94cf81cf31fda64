/**
 * Prompt-token estimates for reservations, from the text the model will read — never from the request's JSON
 * syntax or from base64 payloads. Settlement always uses the origin's own count; this only decides admission.
 *
 * The rule (documented in the README):
 * - text: one token per 4 bytes of UTF-8, rounded up per string (≈ 4 characters of English, ≈ 0.75 per CJK character);
 * - token-id prompts: one token per id;
 * - each chat message: 4 tokens of chat-template overhead, plus 3 for the assistant's reply header;
 * - tool definitions: their names, descriptions and parameter schemas as text;
 * - an image part: IMAGE_PART_TOKENS; an audio part: AUDIO_PART_TOKENS; a video part: VIDEO_PART_TOKENS —
 *   whatever the size of the data URL or the link.
 */

export const IMAGE_PART_TOKENS = 1_024;
export const AUDIO_PART_TOKENS = 750;
export const VIDEO_PART_TOKENS = 4_096;
const MESSAGE_OVERHEAD_TOKENS = 4;
/** Nesting walked value by value; below it, a value counts as its JSON text. */
const MAX_WALK_DEPTH = 32;
const REPLY_PRIMER_TOKENS = 3;

/** Request fields whose content the model reads, across chat, completions, embeddings, rerank and score. */
const READ_FIELDS = ["messages", "prompt", "input", "tools", "functions", "query", "documents", "text_1", "text_2", "system"] as const;

/** Keys that are structure, not content: their values are never read as text. */
const STRUCTURAL_KEYS = new Set(["type", "role", "id", "tool_call_id", "cache_control", "detail", "format", "mime_type", "media_type", "strict"]);

const IMAGE_TYPES = new Set(["image_url", "input_image", "image"]);
const AUDIO_TYPES = new Set(["input_audio", "audio_url", "audio"]);
const VIDEO_TYPES = new Set(["video_url", "video"]);

/** UTF-8 length of a string without encoding it. */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      i += 1; // the surrogate pair is one code point
    } else bytes += 3;
  }
  return bytes;
}

function textTokens(text: string): number {
  return Math.ceil(utf8Length(text) / 4);
}

/** Tokens of one value the model reads: text, token ids, content parts, nested structures. */
function tokensOf(value: unknown, depth = 0): number {
  if (typeof value === "string") return textTokens(value);
  if (typeof value === "number") return 1;
  if (value === null || typeof value !== "object") return 0;
  // Deeper than any message needs (a tool's nested parameter schema): counted as its JSON text, syntax and all, which
  // the chat template renders anyway. Bodies nest at most 256 levels (http/body.ts), so this never runs out of stack.
  if (depth > MAX_WALK_DEPTH) return textTokens(JSON.stringify(value));
  if (Array.isArray(value)) {
    let sum = 0;
    for (const item of value) sum += tokensOf(item, depth + 1);
    return sum;
  }
  const record = value as Record<string, unknown>;
  const type = typeof record.type === "string" ? record.type : undefined;
  if (type !== undefined) {
    if (IMAGE_TYPES.has(type)) return IMAGE_PART_TOKENS;
    if (AUDIO_TYPES.has(type)) return AUDIO_PART_TOKENS;
    if (VIDEO_TYPES.has(type)) return VIDEO_PART_TOKENS;
  }
  // A message carrying its reasoning under both of vLLM's names (as vLLM 0.11.1–0.15 sends it) holds it once.
  const duplicateReasoning = typeof record.reasoning === "string" && record.reasoning !== "" && record.reasoning === record.reasoning_content;
  let sum = 0;
  for (const key in record) if (!STRUCTURAL_KEYS.has(key) && !(duplicateReasoning && key === "reasoning_content")) sum += tokensOf(record[key], depth + 1);
  return sum;
}

/** Estimated prompt tokens of a request body (OpenAI chat, completions, embeddings; rerank and score). */
export function estimatePromptTokens(body: Record<string, unknown>): number {
  let tokens = 0;
  for (const field of READ_FIELDS) if (field in body) tokens += tokensOf(body[field]);
  if (Array.isArray(body.messages)) tokens += body.messages.length * MESSAGE_OVERHEAD_TOKENS + REPLY_PRIMER_TOKENS;
  return tokens;
}
