/**
 * Follows JSON text that arrives in pieces — a tool call's streamed arguments — and tells, after each piece, whether
 * what has arrived can still begin a valid JSON value ("partial"), is one whole value ("complete"), or can no longer
 * become one ("invalid"). It keeps only its nesting and the token in progress, never the text, so it costs the same
 * whatever the arguments' size.
 *
 * Anthropic's SDKs parse a tool block's `input_json_delta`s as they arrive: one piece that cannot begin valid JSON
 * throws in the client, and a block cannot take more pieces once it is stopped. This tells the Messages stream when
 * a piece is safe to send and when a call's arguments are whole. (Its state lives in a closure rather than fields:
 * the bundle keeps field names, and the Worker's size is worth a few hundred bytes.)
 */
export type JsonProgress = "partial" | "complete" | "invalid";

export interface JsonPrefix {
  readonly progress: JsonProgress;
  /** How many characters of the last piece pushed kept the text valid (all of them unless it turned invalid). */
  readonly accepted: number;
  push(text: string): JsonProgress;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const NUMBER_CHAR = /[0-9+\-.eE]/;
const HEX = /[0-9a-fA-F]/;
const ESCAPABLE = '"\\/bfnrt';
const LITERALS: Record<string, string> = { t: "rue", f: "alse", n: "ull" };
const SPACE = " \t\n\r";

/** What may come next outside a token. */
const enum Expect {
  Value,
  ValueOrClose,
  KeyOrClose,
  Key,
  Colon,
  CommaOrClose,
  End,
}

/** What is being read inside a token. */
const enum Token {
  None,
  Text,
  Key,
  Number,
  Literal,
}

export function jsonPrefix(): JsonPrefix {
  const closers: string[] = [];
  let expect = Expect.Value;
  let token = Token.None;
  let escaped = false;
  let hexLeft = 0;
  let pending = ""; // a literal's remaining letters, or a number's characters so far
  let state: JsonProgress = "partial";
  let accepted = 0;

  const afterValue = () => {
    if (closers.length > 0) expect = Expect.CommaOrClose;
    else {
      expect = Expect.End;
      state = "complete";
    }
  };
  const close = (ch: string) => {
    if (closers.pop() === ch) afterValue();
    else state = "invalid";
  };

  const inString = (ch: string) => {
    if (hexLeft > 0) {
      if (HEX.test(ch)) hexLeft -= 1;
      else state = "invalid";
    } else if (escaped) {
      escaped = false;
      if (ch === "u") hexLeft = 4;
      else if (!ESCAPABLE.includes(ch)) state = "invalid";
    } else if (ch === "\\") escaped = true;
    else if (ch === '"') {
      if (token === Token.Key) expect = Expect.Colon;
      else afterValue();
      token = Token.None;
    } else if (ch < " ") state = "invalid";
  };

  const value = (ch: string) => {
    if (ch === "{" || ch === "[") {
      closers.push(ch === "{" ? "}" : "]");
      expect = ch === "{" ? Expect.KeyOrClose : Expect.ValueOrClose;
    } else if (ch === '"') token = Token.Text;
    else if (ch === "-" || (ch >= "0" && ch <= "9")) {
      token = Token.Number;
      pending = ch;
    } else if (LITERALS[ch] !== undefined) {
      token = Token.Literal;
      pending = LITERALS[ch];
    } else state = "invalid";
  };

  const step = (ch: string) => {
    if (token === Token.Text || token === Token.Key) return inString(ch);
    if (token === Token.Literal) {
      if (ch !== pending.charAt(0)) state = "invalid";
      else if ((pending = pending.slice(1)) === "") {
        token = Token.None;
        afterValue();
      }
      return;
    }
    if (token === Token.Number) {
      if (NUMBER_CHAR.test(ch)) {
        pending += ch;
        return;
      }
      token = Token.None;
      if (!NUMBER.test(pending)) return void (state = "invalid");
      afterValue();
    }
    if (SPACE.includes(ch)) return;
    if (expect === Expect.Value || (expect === Expect.ValueOrClose && ch !== "]")) value(ch);
    else if (expect === Expect.ValueOrClose || (expect === Expect.KeyOrClose && ch === "}")) close(ch);
    else if (expect === Expect.KeyOrClose || expect === Expect.Key) {
      if (ch === '"') token = Token.Key;
      else state = "invalid";
    } else if (expect === Expect.Colon) {
      if (ch === ":") expect = Expect.Value;
      else state = "invalid";
    } else if (expect === Expect.CommaOrClose) {
      if (ch === ",") expect = closers.at(-1) === "}" ? Expect.Key : Expect.Value;
      else close(ch);
    } else state = "invalid";
  };

  return {
    get progress() {
      return state;
    },
    get accepted() {
      return accepted;
    },
    push(text: string) {
      let index = 0;
      for (; index < text.length && state !== "invalid"; index += 1) step(text.charAt(index));
      accepted = state === "invalid" ? index - 1 : index;
      return state;
    },
  };
}
