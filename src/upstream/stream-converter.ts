/** Turns an origin's chat-completion stream into another API's event stream (Responses, Anthropic Messages). */
import type { ChatChunk } from "../convert/chat-types";

export interface StreamConverter {
  /** Events for one chat chunk (usage chunks included). */
  chunk(chunk: ChatChunk): string[];
  /** Events that finish the stream after the origin's `[DONE]`. */
  done(): string[];
  /** Events that end the stream after an origin failure (error frame, cut connection, idle timeout). */
  fail(message: string): string[];
}
