/**
 * Bifrost-compatible configuration shapes: providers, their keys and network settings.
 * Objects are strict — an unknown field is an error that names it, never silently dropped.
 * Bifrost fields this gateway accepts but cannot act on are listed in compat.ts and reported as warnings.
 */
import { z } from "zod";
import { envReferenceProblem, isGatewayName } from "../upstream/secrets";

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
function noGatewayName(value: string, ctx: z.RefinementCtx): void {
  const problem = envReferenceProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
}

/** A secret: a literal, or `env.NAME` naming a Worker secret or variable (not one of the gateway's own). */
export const secretValue = z.string().max(16384).superRefine(noGatewayName);

export const originUrl = z
  .string()
  .refine((value) => ENV_REF.test(value) || isHttpUrl(value), "must be an http(s) URL or env.NAME")
  .superRefine(noGatewayName);

export const providerName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be 1-64 letters, digits, '.', '_' or '-' and must not contain '/'");

const modelName = z.string().min(1).max(512);
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be a valid HTTP header name");

/** Milliseconds as an integer, or a Go-style duration such as "500ms", "2s", "1m30s". */
const backoffDuration = z.union([
  z.number().int().min(0).max(600_000),
  z.string().regex(/^(\d+(\.\d+)?(ms|s|m|h))+$/, "must be milliseconds or a duration such as \"500ms\" or \"2s\""),
]);

export const vllmKeyConfigSchema = z.strictObject({
  url: originUrl.optional(),
  model_name: modelName.optional(),
});

export const accessServiceTokenSchema = z.strictObject({
  client_id: secretValue.min(1),
  client_secret: secretValue.min(1),
});

export const providerKeySchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, "must be 1-128 letters, digits, '.', '_', ':' or '-'").optional(),
  name: z.string().min(1).max(128).optional(),
  value: secretValue.default(""),
  models: z.array(modelName).optional(),
  blacklisted_models: z.array(modelName).optional(),
  weight: z.number().min(0).max(1_000_000).default(1),
  aliases: z.record(modelName, modelName).optional(),
  enabled: z.boolean().default(true),
  description: z.string().max(1024).optional(),
  vllm_key_config: vllmKeyConfigSchema.optional(),
  /** Cloudflare Access service token sent as CF-Access-Client-Id / CF-Access-Client-Secret. */
  cloudflare_access: accessServiceTokenSchema.optional(),
  /** Name of a Workers VPC service binding (or any Fetcher binding) that carries this key's requests to its origin. */
  vpc_binding: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a binding name")
    .refine((name) => !isGatewayName(name), "names one of the gateway's own bindings or settings")
    .optional(),
  // Accepted for Bifrost compatibility; see compat.ts.
  use_for_batch_api: z.boolean().optional(),
  status: z.unknown().optional(),
  config_hash: z.unknown().optional(),
});

export const networkConfigSchema = z.strictObject({
  base_url: originUrl.optional(),
  /** Values are secrets like key values: literals (masked in answers, sealed at rest) or `env.NAME`. */
  extra_headers: z.record(headerName, z.string().max(8192).superRefine(noGatewayName)).optional(),
  default_request_timeout_in_seconds: z.number().int().min(1).max(3600).optional(),
  stream_idle_timeout_in_seconds: z.number().int().min(5).max(3600).optional(),
  max_retries: z.number().int().min(0).max(10).optional(),
  retry_backoff_initial: backoffDuration.optional(),
  retry_backoff_max: backoffDuration.optional(),
  /** Which replica a request prefers: by the x-session-id header (default), also by a hash of the prompt prefix, or neither. */
  session_affinity: z.enum(["header", "prompt_prefix", "none"]).optional(),
  // Accepted for Bifrost compatibility; see compat.ts.
  max_conns_per_host: z.number().int().min(1).max(10000).optional(),
  insecure_skip_verify: z.boolean().optional(),
  ca_cert_pem: z.string().optional(),
  enforce_http2: z.boolean().optional(),
  beta_header_overrides: z.record(z.string(), z.unknown()).optional(),
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
  "count_tokens",
  "embedding",
  "rerank",
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
  "passthrough",
  "passthrough_stream",
  "websocket_responses",
  "realtime",
] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

const allowedRequestsShape = Object.fromEntries(REQUEST_TYPES.map((type) => [type, z.boolean().optional()])) as Record<
  RequestType,
  z.ZodOptional<z.ZodBoolean>
>;

/** Upstream paths this gateway lets a custom provider override (path or absolute URL). */
export const OVERRIDABLE_PATHS = ["list_models", "text_completion", "chat_completion", "embedding", "rerank", "transcription", "count_tokens"] as const;

export const customProviderConfigSchema = z.strictObject({
  base_provider_type: z.literal("openai", {
    error: "only \"openai\" is supported: custom providers must speak the OpenAI-compatible API",
  }),
  is_key_less: z.boolean().default(false),
  allowed_requests: z.strictObject(allowedRequestsShape).optional(),
  request_path_overrides: z
    .partialRecord(z.enum(OVERRIDABLE_PATHS), z.string().refine((v) => v.startsWith("/") || URL.canParse(v), "must be a path starting with / or an absolute URL"))
    .optional(),
});

/** Provider settings shared by the create and update bodies. */
const providerSettingsShape = {
  keys: z.array(providerKeySchema).max(1000).optional(),
  network_config: networkConfigSchema.optional(),
  custom_provider_config: customProviderConfigSchema.optional(),
  // Accepted for Bifrost compatibility; see compat.ts.
  concurrency_and_buffer_size: z.strictObject({ concurrency: z.number().int().min(1), buffer_size: z.number().int().min(1) }).optional(),
  proxy_config: z.looseObject({ type: z.literal("none", { error: "only {\"type\":\"none\"} is supported: Workers cannot use an outbound proxy" }) }).optional(),
  send_back_raw_request: z.boolean().optional(),
  send_back_raw_response: z.boolean().optional(),
  store_raw_request_response: z.boolean().optional(),
  openai_config: z.record(z.string(), z.unknown()).optional(),
  description: z.string().max(1024).optional(),
};

/** Body of POST /api/providers. */
export const createProviderSchema = z.strictObject({ provider: providerName, ...providerSettingsShape });
/** Body of PUT /api/providers/{provider}; `provider`, when present, must match the path. */
export const updateProviderSchema = z.strictObject({ provider: providerName.optional(), ...providerSettingsShape });
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
