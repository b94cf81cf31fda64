/**
 * Follows JSON text that arrives in pieces — a tool call's streamed arguments — and tells, after each piece, whether
 * what has arrived can still begin a valid JSON value ("partial"), is one whole value ("complete"), or can no longer
 * become one ("invalid"). It keeps only its nesting and the token in progress, never the text, so it costs the same
 * whatever the arguments' size.
 *
 * Anthropic's SDKs parse a tool block's `input_json_delta`s as they arrive: one piece that cannot begin valid JSON
 * throws in the client, and a block cannot take more pieces once it is stopped. This tells the Messages stream when
 * a piece is safe to send and when a call's arguments are whole.
 */
export type JsonProgress = "partial" | "complete" | "invalid";

type Expect = "value" | "valueOrClose" | "keyOrClose" | "key" | "colon" | "commaOrClose" | "end";

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const NUMBER_CHAR = /[0-9+\-.eE]/;
const HEX = /[0-9a-fA-F]/;
const ESCAPABLE = '"\\/bfnrt';
const LITERALS: Record<string, string> = { t: "rue", f: "alse", n: "ull" };

export class JsonPrefix {
  private readonly closers: string[] = [];
  private expect: Expect = "value";
  private token: "none" | "string" | "number" | "literal" = "none";
  private stringIsKey = false;
  private escaped = false;
  private hexLeft = 0;
  private literalLeft = "";
  private number = "";
  private state: JsonProgress = "partial";

  get progress(): JsonProgress {
    return this.state;
  }

  /** How many characters of the last piece pushed kept the text valid (all of them unless it turned invalid). */
  accepted = 0;

  push(text: string): JsonProgress {
    let index = 0;
    for (; index < text.length && this.state !== "invalid"; index += 1) this.step(text.charAt(index));
    this.accepted = this.state === "invalid" ? index - 1 : index;
    return this.state;
  }

  private step(ch: string): void {
    if (this.token === "string") return this.inString(ch);
    if (this.token === "literal") {
      if (ch !== this.literalLeft.charAt(0)) return this.fail();
      this.literalLeft = this.literalLeft.slice(1);
      if (this.literalLeft === "") {
        this.token = "none";
        this.afterValue();
      }
      return;
    }
    if (this.token === "number") {
      if (NUMBER_CHAR.test(ch)) {
        this.number += ch;
        return;
      }
      this.token = "none";
      if (!NUMBER.test(this.number)) return this.fail();
      this.afterValue();
    }
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") return;
    switch (this.expect) {
      case "value":
      case "valueOrClose":
        return this.value(ch);
      case "keyOrClose":
        if (ch === "}") return this.close(ch);
        return this.key(ch);
      case "key":
        return this.key(ch);
      case "colon":
        if (ch !== ":") return this.fail();
        this.expect = "value";
        return;
      case "commaOrClose":
        if (ch === ",") {
          this.expect = this.closers.at(-1) === "}" ? "key" : "value";
          return;
        }
        return this.close(ch);
      case "end":
        return this.fail();
    }
  }

  private value(ch: string): void {
    if (ch === "]" && this.expect === "valueOrClose") return this.close(ch);
    if (ch === "{" || ch === "[") {
      this.closers.push(ch === "{" ? "}" : "]");
      this.expect = ch === "{" ? "keyOrClose" : "valueOrClose";
    } else if (ch === '"') {
      this.token = "string";
      this.stringIsKey = false;
    } else if (ch === "-" || (ch >= "0" && ch <= "9")) {
      this.token = "number";
      this.number = ch;
    } else if (LITERALS[ch] !== undefined) {
      this.token = "literal";
      this.literalLeft = LITERALS[ch];
    } else this.fail();
  }

  private key(ch: string): void {
    if (ch !== '"') return this.fail();
    this.token = "string";
    this.stringIsKey = true;
  }

  private inString(ch: string): void {
    if (this.hexLeft > 0) {
      if (!HEX.test(ch)) return this.fail();
      this.hexLeft -= 1;
    } else if (this.escaped) {
      this.escaped = false;
      if (ch === "u") this.hexLeft = 4;
      else if (!ESCAPABLE.includes(ch)) this.fail();
    } else if (ch === "\\") this.escaped = true;
    else if (ch === '"') {
      this.token = "none";
      if (this.stringIsKey) this.expect = "colon";
      else this.afterValue();
    } else if (ch < " ") this.fail();
  }

  private close(ch: string): void {
    if (this.closers.at(-1) !== ch) return this.fail();
    this.closers.pop();
    this.afterValue();
  }

  private afterValue(): void {
    if (this.closers.length > 0) {
      this.expect = "commaOrClose";
      return;
    }
    this.expect = "end";
    this.state = "complete";
  }

  private fail(): void {
    this.state = "invalid";
  }
}
