/**
 * The OpenAI-compatible surface, mounted under /v1, /openai/v1, /openai, and under /vllm and /vllm/v1 where a bare
 * model name means a vLLM model.
 */
import { routeGroup, type App } from "../http/apps";
import type { AppEnv } from "../env";
import { badRequest } from "../http/errors";
import { MAX_MODEL_NAME_LENGTH } from "../http/request-fields";
import { handleAudio } from "./audio";
import { CHAT, COMPLETIONS, EMBEDDINGS, handleJsonInference } from "./json-inference";
import { handleListModels, handleListModelsAnthropic, handleRetrieveModel } from "./models";
import { handleCountTokens, handleMessages } from "./messages";
import { handleRerank } from "./rerank";
import { handleResponses } from "./responses";
import { handleDeleteResponse, handleGetResponse, handleInputItems } from "./stored-responses";
import { CLASSIFY, DETOKENIZE, POOLING, SCORE, TOKENIZE, handleNative } from "./vllm-native";
import { UNSUPPORTED_ROUTES, unsupportedOperation } from "./unsupported";

/** The provider name Bifrost gives Anthropic, which bare Claude names on /anthropic fall back to. */
const ANTHROPIC = "anthropic";

/** A model id from a URL path; bad percent-encoding is the client's mistake (400), not an exception. */
function decodedModelName(encoded: string): string {
  let name: string;
  try {
    name = decodeURIComponent(encoded);
  } catch {
    throw badRequest("the model id in the path is not valid percent-encoding", "invalid_request", "model");
  }
  if (name.length > MAX_MODEL_NAME_LENGTH) throw badRequest(`model must be at most ${MAX_MODEL_NAME_LENGTH} characters`, "invalid_request", "model");
  return name;
}

export function inferenceRoutes(defaultProvider?: string): App {
  const routes = routeGroup();
  routes.post("/chat/completions", (c) => handleJsonInference(c, CHAT, defaultProvider));
  routes.post("/completions", (c) => handleJsonInference(c, COMPLETIONS, defaultProvider));
  routes.post("/embeddings", (c) => handleJsonInference(c, EMBEDDINGS, defaultProvider));
  routes.post("/rerank", (c) => handleRerank(c, defaultProvider));
  routes.post("/responses", (c) => handleResponses(c, defaultProvider));
  routes.get("/responses/:id", (c) => handleGetResponse(c, c.req.param("id")));
  routes.get("/responses/:id/input_items", (c) => handleInputItems(c, c.req.param("id")));
  routes.delete("/responses/:id", (c) => handleDeleteResponse(c, c.req.param("id")));
  routes.post("/messages", (c) => handleMessages(c, defaultProvider));
  routes.post("/messages/count_tokens", (c) => handleCountTokens(c, defaultProvider));
  routes.post("/audio/transcriptions", (c) => handleAudio(c, "transcriptions", defaultProvider));
  routes.post("/audio/translations", (c) => handleAudio(c, "translations", defaultProvider));
  // vLLM's own endpoints: /vllm/score is vLLM's /score for a client whose base URL is the gateway's /vllm.
  routes.post("/tokenize", (c) => handleNative(c, TOKENIZE, defaultProvider));
  routes.post("/detokenize", (c) => handleNative(c, DETOKENIZE, defaultProvider));
  routes.post("/score", (c) => handleNative(c, SCORE, defaultProvider));
  routes.post("/classify", (c) => handleNative(c, CLASSIFY, defaultProvider));
  routes.post("/pooling", (c) => handleNative(c, POOLING, defaultProvider));
  routes.get("/models", (c) => handleListModels(c));
  routes.get("/models/*", (c) => {
    const prefix = c.req.path.indexOf("/models/");
    return handleRetrieveModel(c, decodedModelName(c.req.path.slice(prefix + "/models/".length)));
  });
  for (const { path, operation } of UNSUPPORTED_ROUTES) {
    routes.all(path, () => {
      throw unsupportedOperation(operation);
    });
  }
  return routes;
}

/** vLLM's own endpoints at the gateway's root, where `vllm serve` has them: POST /tokenize, /score, … */
export function vllmRootRoutes(): App {
  const routes = routeGroup();
  for (const endpoint of [TOKENIZE, DETOKENIZE, SCORE, CLASSIFY, POOLING]) routes.post(endpoint.path, (c) => handleNative(c, endpoint));
  return routes;
}

/**
 * Anthropic's SDK appends /v1/messages to its base URL: http://gateway/anthropic. As on Bifrost's, a Claude model
 * named bare there (`claude-3-5-sonnet-20241022`) goes to the `anthropic` provider when no key lists that name.
 */
export function anthropicRoutes(): App {
  const routes = routeGroup();
  routes.post("/v1/messages", (c) => handleMessages(c, undefined, ANTHROPIC));
  routes.post("/v1/messages/count_tokens", (c) => handleCountTokens(c, undefined, ANTHROPIC));
  routes.get("/v1/models", (c) => handleListModelsAnthropic(c));
  return routes;
}
