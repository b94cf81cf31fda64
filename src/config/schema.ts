/**
 * Bifrost-compatible configuration shapes: providers, their keys and network settings.
 * Objects are strict — an unknown field is an error that names it, never silently dropped.
 * Bifrost fields this gateway accepts but cannot act on are listed in compat.ts and reported as warnings.
 */
import * as z from "zod/mini";
import { REASONING_FIELD_CHOICES } from "../upstream/reasoning-field";
import { envReferenceProblem, isGatewayName } from "../upstream/secrets";
import { displayName } from "./validation";

const ENV_REF = /^env\.[A-Za-z_][A-Za-z0-9_]*$/;

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

/** Refuses `env.NAME` references to the gateway's own settings, naming the variable. */
function noGatewayName(value: string, ctx: z.core.$RefinementCtx<string>): void {
  const problem = envReferenceProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
}

/**
 * Bifrost's API and dashboard send a secret as `{"value", "env_var", "from_env"}`: read as the literal, or as the
 * `env.NAME` reference it came from. Anything else is left for the string schema to refuse.
 */
function unwrapBifrostSecret(input: unknown): unknown {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return input;
  const { value, env_var: envVar, from_env: fromEnv } = input as { value?: unknown; env_var?: unknown; from_env?: unknown };
  if (fromEnv === true && typeof envVar === "string" && envVar !== "") return envVar.startsWith("env.") ? envVar : `env.${envVar}`;
  return typeof value === "string" ? value : input;
}

/** A string setting that may also arrive in Bifrost's secret shape. */
function bifrostSecret<T extends z.ZodMiniType<string>>(schema: T) {
  return z.pipe(z.transform(unwrapBifrostSecret), schema);
}

/** A secret: a literal, or `env.NAME` naming a Worker secret or variable (not one of the gateway's own). */
export const secretValue = z.string().check(z.maxLength(16384), z.superRefine(noGatewayName));

export const originUrl = z.string().check(
  z.refine((value) => ENV_REF.test(value) || isHttpUrl(value), "must be an http(s) URL or env.NAME"),
  z.superRefine(noGatewayName),
);

export const providerName = z
  .string()
  .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be 1-64 letters, digits, '.', '_' or '-' and must not contain '/'"));

const modelName = z.string().check(z.minLength(1), z.maxLength(512));
const headerName = z.string().check(z.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be a valid HTTP header name"));

/** Milliseconds as an integer, or a Go-style duration such as "500ms", "2s", "1m30s". */
const backoffDuration = z.union([
  z.int().check(z.gte(0), z.lte(600_000)),
  z.string().check(z.regex(/^(\d+(\.\d+)?(ms|s|m|h))+$/, "must be milliseconds or a duration such as \"500ms\" or \"2s\"")),
]);

export const vllmKeyConfigSchema = z.strictObject({
  url: z.optional(bifrostSecret(originUrl)),
  model_name: z.optional(modelName),
});

/** Bifrost's per-key origin for its `ollama` and `sgl` provider types: read as vllm_key_config.url. */
const hostedKeyConfigSchema = z.strictObject({ url: bifrostSecret(originUrl) });

/** Bifrost's alias entries may be objects naming the model to serve. */
const aliasTarget = z.union([modelName, z.pipe(z.looseObject({ model_id: modelName }), z.transform((alias) => alias.model_id))]);

export const accessServiceTokenSchema = z.strictObject({
  client_id: secretValue.check(z.minLength(1)),
  client_secret: secretValue.check(z.minLength(1)),
});

const providerKeyFields = z.strictObject({
  id: z.optional(z.string().check(z.regex(/^[A-Za-z0-9._:-]{1,128}$/, "must be 1-128 letters, digits, '.', '_', ':' or '-'"))),
  name: z.optional(displayName),
  value: z._default(bifrostSecret(secretValue), ""),
  models: z.optional(z.array(modelName)),
  blacklisted_models: z.optional(z.array(modelName)),
  weight: z._default(z.number().check(z.gte(0), z.lte(1_000_000)), 1),
  aliases: z.optional(z.record(modelName, aliasTarget)),
  enabled: z._default(z.boolean(), true),
  description: z.optional(z.string().check(z.maxLength(1024))),
  vllm_key_config: z.optional(vllmKeyConfigSchema),
  ollama_key_config: z.optional(hostedKeyConfigSchema),
  sgl_key_config: z.optional(hostedKeyConfigSchema),
  /** Cloudflare Access service token sent as CF-Access-Client-Id / CF-Access-Client-Secret. */
  cloudflare_access: z.optional(accessServiceTokenSchema),
  /** Name of a Workers VPC service binding (or any Fetcher binding) that carries this key's requests to its origin. */
  vpc_binding: z.optional(
    z.string().check(
      z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a binding name"),
      z.refine((name) => !isGatewayName(name), "names one of the gateway's own bindings or settings"),
    ),
  ),
  // Accepted for Bifrost compatibility; see compat.ts.
  use_for_batch_api: z.optional(z.boolean()),
  status: z.optional(z.unknown()),
  config_hash: z.optional(z.unknown()),
});

/** A provider key; Bifrost's ollama_key_config and sgl_key_config are kept as the vllm_key_config they amount to. */
export const providerKeySchema = z.pipe(
  providerKeyFields,
  z.transform(({ ollama_key_config: ollama, sgl_key_config: sgl, ...key }) => {
    const url = ollama?.url ?? sgl?.url;
    return url === undefined || key.vllm_key_config?.url !== undefined ? key : { ...key, vllm_key_config: { ...key.vllm_key_config, url } };
  }),
);

export const networkConfigSchema = z.strictObject({
  base_url: z.optional(originUrl),
  /** Values are secrets like key values: literals (masked in answers, sealed at rest) or `env.NAME`. */
  extra_headers: z.optional(z.record(headerName, z.string().check(z.maxLength(8192), z.superRefine(noGatewayName)))),
  default_request_timeout_in_seconds: z.optional(z.int().check(z.gte(1), z.lte(3600))),
  /** Gateway addition: how long the origin may take to start its answer (its headers), within the request timeout. */
  first_byte_timeout_in_seconds: z.optional(z.int().check(z.gte(1), z.lte(3600))),
  stream_idle_timeout_in_seconds: z.optional(z.int().check(z.gte(5), z.lte(3600))),
  max_retries: z.optional(z.int().check(z.gte(0), z.lte(10))),
  retry_backoff_initial: z.optional(backoffDuration),
  retry_backoff_max: z.optional(backoffDuration),
  /** Which replica a request prefers: by the x-session-id header (default), also by a hash of the prompt prefix, or neither. */
  session_affinity: z.optional(z.enum(["header", "prompt_prefix", "none"])),
  /** Non-stream chat and text completions asked of the origin as streams and assembled (default: on for self-hosted). */
  stream_for_json: z.optional(z.boolean()),
  // Accepted for Bifrost compatibility; see compat.ts.
  max_conns_per_host: z.optional(z.int().check(z.gte(1), z.lte(10000))),
  insecure_skip_verify: z.optional(z.boolean()),
  ca_cert_pem: z.optional(z.string()),
  enforce_http2: z.optional(z.boolean()),
  beta_header_overrides: z.optional(z.record(z.string(), z.unknown())),
  allow_private_network: z.optional(z.boolean()),
  keep_alive_timeout_in_seconds: z.optional(z.int().check(z.gte(0))),
  http2_ping_interval_in_seconds: z.optional(z.int().check(z.gte(0))),
});

/** The request types a custom provider may serve (Bifrost's allowed_requests flags). */
export const REQUEST_TYPES = [
  "list_models",
  "text_completion",
  "text_completion_stream",
  "chat_completion",
  "chat_completion_stream",
  "responses",
  "responses_stream",
  "responses_retrieve",
  "responses_delete",
  "responses_cancel",
  "responses_input_items",
  "count_tokens",
  "compaction",
  "embedding",
  "rerank",
  // vLLM's own endpoints (gateway additions: Bifrost has no such request types).
  "tokenize",
  "detokenize",
  "score",
  "classify",
  "pooling",
  "ocr",
  "speech",
  "speech_stream",
  "transcription",
  "transcription_stream",
  "image_generation",
  "image_generation_stream",
  "image_edit",
  "image_edit_stream",
  "image_variation",
  "video_generation",
  "video_retrieve",
  "video_download",
  "video_delete",
  "video_list",
  "video_remix",
  "batch_create",
  "batch_list",
  "batch_retrieve",
  "batch_cancel",
  "batch_delete",
  "batch_results",
  "file_upload",
  "file_list",
  "file_retrieve",
  "file_delete",
  "file_content",
  "container_create",
  "container_list",
  "container_retrieve",
  "container_delete",
  "container_file_create",
  "container_file_list",
  "container_file_retrieve",
  "container_file_content",
  "container_file_delete",
  "passthrough",
  "passthrough_stream",
  "websocket_responses",
  "realtime",
  "cached_content_create",
  "cached_content_list",
  "cached_content_retrieve",
  "cached_content_update",
  "cached_content_delete",
] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

const allowedRequestsShape = Object.fromEntries(REQUEST_TYPES.map((type) => [type, z.optional(z.boolean())])) as Record<
  RequestType,
  z.ZodMiniOptional<z.ZodMiniBoolean>
>;

/** Upstream paths this gateway lets a custom provider override (path or absolute URL). */
export const OVERRIDABLE_PATHS = ["list_models", "text_completion", "chat_completion", "embedding", "rerank", "transcription", "count_tokens", "tokenize", "detokenize", "score", "classify", "pooling"] as const;

export const customProviderConfigSchema = z.strictObject({
  base_provider_type: z.literal("openai", {
    error: "only \"openai\" is supported: custom providers must speak the OpenAI-compatible API",
  }),
  is_key_less: z._default(z.boolean(), false),
  allowed_requests: z.optional(z.strictObject(allowedRequestsShape)),
  request_path_overrides: z.optional(
    z.partialRecord(
      z.enum(OVERRIDABLE_PATHS),
      z.string().check(z.refine((v) => v.startsWith("/") || URL.canParse(v), "must be a path starting with / or an absolute URL")),
    ),
  ),
});

/** Provider settings shared by the create and update bodies. */
const providerSettingsShape = {
  keys: z.optional(z.array(providerKeySchema).check(z.maxLength(1000))),
  network_config: z.optional(networkConfigSchema),
  custom_provider_config: z.optional(customProviderConfigSchema),
  /** The name chat clients get reasoning under (vLLM renamed reasoning_content to reasoning); default: as the origin sent it. */
  reasoning_field: z.optional(z.enum(REASONING_FIELD_CHOICES)),
  // Accepted for Bifrost compatibility; see compat.ts.
  concurrency_and_buffer_size: z.optional(z.strictObject({ concurrency: z.int().check(z.gte(1)), buffer_size: z.int().check(z.gte(1)) })),
  proxy_config: z.optional(z.looseObject({ type: z.literal("none", { error: "only {\"type\":\"none\"} is supported: Workers cannot use an outbound proxy" }) })),
  send_back_raw_request: z.optional(z.boolean()),
  send_back_raw_response: z.optional(z.boolean()),
  store_raw_request_response: z.optional(z.boolean()),
  openai_config: z.optional(z.record(z.string(), z.unknown())),
  description: z.optional(z.string().check(z.maxLength(1024))),
};

/** Body of POST /api/providers. */
export const createProviderSchema = z.strictObject({ provider: providerName, ...providerSettingsShape });
/**
 * Body of PUT /api/providers/{provider}; `provider` and `name`, when present, must match the path. `provider_status`
 * is read-only state the answers carry, accepted so what GET answers can be sent back as it is.
 */
export const updateProviderSchema = z.strictObject({ provider: z.optional(providerName), name: z.optional(providerName), provider_status: z.optional(z.string()), ...providerSettingsShape });
/** A provider as it appears under `providers.<name>` in config.json. */
export const configProviderSchema = z.strictObject(providerSettingsShape);

export type ProviderKeyInput = z.infer<typeof providerKeySchema>;
export type NetworkConfig = z.infer<typeof networkConfigSchema>;
export type CustomProviderConfig = z.infer<typeof customProviderConfigSchema>;
export type ProviderSettings = z.infer<typeof configProviderSchema>;

/** A key as stored: id and name are always present. */
export type ProviderKey = ProviderKeyInput & { id: string; name: string };

/** A provider as stored and served from the snapshot. */
export interface ProviderRecord {
  name: string;
  settings: Omit<ProviderSettings, "keys">;
  keys: ProviderKey[];
}
