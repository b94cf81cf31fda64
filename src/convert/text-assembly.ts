/**
 * Text completion chunks → the `text_completion` vLLM answers without `stream`: per choice (every prompt's `n`
 * choices, by index), the text, the logprobs, the finish and stop reasons; the usage chunk's usage. Texts and
 * logprob lists are kept as pieces and joined once at the end.
 */
import { isJsonObject, type JsonObject } from "../http/body";
import { ChoiceTable, Envelope, Finish, choicesOf, pushAll, type Assembler } from "./assembly";

interface TextLogprobs {
  tokens: unknown[];
  token_logprobs: unknown[];
  top_logprobs: unknown[];
}

interface TextChoiceParts {
  index: number;
  text: string[];
  /** Null until a chunk carries a logprobs object (the request asked for them). */
  logprobs: TextLogprobs | null;
  finish: Finish;
}

/** Characters as Python counts them (code points), which is how vLLM measures a token for `text_offset`. */
function codePoints(value: unknown): number {
  if (typeof value !== "string") return 0;
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}

/**
 * vLLM's JSON answer counts each token's offset from the start of the choice's text by the lengths of the tokens
 * before it; a stream starts each chunk's count at the text sent so far, which differs where a token's decoded form
 * does not match the text (byte tokens). Counting as the JSON answer does gives its numbers.
 */
function textOffsets(tokens: readonly unknown[]): number[] {
  const offsets: number[] = [];
  let at = 0;
  for (const token of tokens) {
    offsets.push(at);
    at += codePoints(token);
  }
  return offsets;
}

export class TextAssembler implements Assembler {
  private readonly envelope = new Envelope();
  private readonly choices = new ChoiceTable<TextChoiceParts>((index) => ({ index, text: [], logprobs: null, finish: new Finish() }));

  add(chunk: JsonObject): void {
    this.envelope.add(chunk);
    for (const choice of choicesOf(chunk)) {
      const parts = this.choices.get(choice.index);
      if (typeof choice.text === "string" && choice.text !== "") parts.text.push(choice.text);
      if (isJsonObject(choice.logprobs)) {
        parts.logprobs ??= { tokens: [], token_logprobs: [], top_logprobs: [] };
        pushAll(parts.logprobs.tokens, choice.logprobs.tokens);
        pushAll(parts.logprobs.token_logprobs, choice.logprobs.token_logprobs);
        pushAll(parts.logprobs.top_logprobs, choice.logprobs.top_logprobs);
      }
      parts.finish.add(choice);
    }
  }

  answer(): JsonObject {
    const choices = this.choices.ordered().map((parts) => ({
      index: parts.index,
      text: parts.text.join(""),
      logprobs: parts.logprobs && {
        text_offset: textOffsets(parts.logprobs.tokens),
        token_logprobs: parts.logprobs.token_logprobs,
        tokens: parts.logprobs.tokens,
        top_logprobs: parts.logprobs.top_logprobs,
      },
      finish_reason: parts.finish.reason,
      stop_reason: parts.finish.stopReason,
    }));
    return this.envelope.answer("text_completion", choices);
  }
}
