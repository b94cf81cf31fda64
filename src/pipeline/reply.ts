/** Step 6 of an inference request: the origin's answer becomes the client's, in the shape the endpoint speaks. */
import type { Assembler, StreamedJson } from "../convert/assembly";
import { ChatAssembler } from "../convert/chat-assembly";
import type { ChatCompletion } from "../convert/chat-types";
import { TextAssembler } from "../convert/text-assembly";
import { shapeRerankAnswer } from "../convert/rerank-answer";
import { GatewayError, jsonResponse, jsonTextResponse } from "../http/errors";
import type { Target } from "../routing/resolve";
import { relayAssembled } from "../upstream/assembled-json";
import type { OriginCall } from "../upstream/origin";
import { jsonAsStream } from "../upstream/json-as-stream";
import { NO_USAGE, isEventStream, isJsonContent, relayAnswer, relayJson, relayStream, type Answer } from "../upstream/respond";
import { reasoningFieldOf } from "../upstream/reasoning-field";
import type { Reply } from "./plan";

export interface ReplyOptions {
  publicModel: string;
  stream: boolean;
  /** The origin was asked for a stream that the client's JSON answer is assembled from (plan's streamedJson). */
  assemble?: StreamedJson | undefined;
  /** Prompt tokens to account when a stream ends before the origin reported usage. */
  promptEstimate: number;
  keepAliveMs: number;
}

export async function replyFrom(reply: Reply, call: OriginCall, target: Target, options: ReplyOptions): Promise<Answer> {
  const { publicModel, promptEstimate, keepAliveMs } = options;
  switch (reply.kind) {
    case "openai": {
      // The request's choice of reasoning field name ("passthrough" included) overrides the provider's.
      const reasoningField = reply.reasoningField !== undefined ? reasoningFieldOf(reply.reasoningField) : target.provider.reasoningField;
      // An origin asked for a stream may answer JSON (or an error) anyway: a JSON answer is relayed as it came, and
      // a client that asked for a stream gets the completion as one.
      if (options.assemble && call.response.ok && isEventStream(call.response)) {
        return relayAssembled(call, target, assemblerFor(options.assemble), { publicModel, promptEstimate, reasoningField: options.assemble.shape === "chat" ? reasoningField : undefined });
      }
      const relayed = options.stream && call.response.ok && isJsonContent(call.response) ? await jsonAsStream(call) : call;
      return relayAnswer(relayed, target, { publicModel, dropUsageOnlyChunk: reply.dropUsageOnlyChunk, promptEstimate, keepAliveMs, reasoningField });
    }
    case "converted": {
      const streamed = options.stream && call.response.ok && isJsonContent(call.response) ? await jsonAsStream(call) : call;
      if (options.stream && streamed.response.ok && isEventStream(streamed.response)) {
        const converter = reply.conversion.streamConverter(publicModel);
        return relayStream(streamed, target, { publicModel, dropUsageOnlyChunk: false, promptEstimate, keepAliveMs, converter });
      }
      const answer =
        options.assemble && call.response.ok && isEventStream(call.response)
          ? await relayAssembled(call, target, assemblerFor(options.assemble), { publicModel, promptEstimate })
          : await relayJson(streamed, target, publicModel);
      return { response: jsonTextResponse(reply.conversion.answer(answer.body as ChatCompletion, publicModel)), usage: answer.usage };
    }
    case "rerank": {
      const { body, usage } = await relayJson(call, target, publicModel);
      return { response: jsonResponse({ ...shapeRerankAnswer(body, reply.documents, reply.returnDocuments, target.provider.name), model: publicModel }), usage };
    }
    case "token_count": {
      const { body } = await relayJson(call, target, publicModel);
      const count = body.count;
      if (typeof count !== "number" || !Number.isInteger(count) || count < 0) {
        throw new GatewayError(502, "the origin's /tokenize answer has no token count", "invalid_upstream_response");
      }
      return { response: jsonResponse({ input_tokens: count }), usage: Promise.resolve(NO_USAGE) };
    }
  }
}

function assemblerFor(streamed: StreamedJson): Assembler {
  return streamed.shape === "chat" ? new ChatAssembler(streamed.forcedToolChoice) : new TextAssembler();
}
