/** Bindings and variables the Worker reads. Secrets referenced as `env.NAME` in provider config are read from here too. */
export interface Env {
  DB: D1Database;
  CONFIG_KV: KVNamespace;
  /** Bearer token for /api. The admin API is closed while it is unset. */
  ADMIN_TOKEN?: string;
  /** Local development only: open /api without a token, but only for requests addressed to a loopback host. */
  LOCAL_ADMIN_WITHOUT_TOKEN?: string;
  DEFAULT_VLLM_URL?: string;
  MAX_REQUEST_BODY_MB?: string;
  MAX_UPLOAD_BODY_MB?: string;
  CONFIG_CACHE_SECONDS?: string;
  /** One Durable Object per virtual key. */
  VK_LIMITER: DurableObjectNamespace<import("./governance/limiter").VirtualKeyLimiter>;
  /** "true": inference requests must carry a virtual key. */
  REQUIRE_VIRTUAL_KEY?: string;
  /** Completion tokens assumed for the worst case when a request sets no max_tokens. */
  DEFAULT_MAX_TOKENS_ESTIMATE?: string;
  /** "false": every admission and settlement is its own limiter call, instead of sharing one with concurrent requests. */
  GROUP_LIMITER_CALLS?: string;
  /** How long an unsettled reservation holds budget before its Durable Object gives it up. */
  RESERVATION_TTL_SECONDS?: string;
  /** Consecutive failures that open an origin's circuit. */
  CIRCUIT_FAILURE_THRESHOLD?: string;
  /** How long an open circuit keeps traffic away from its origin. */
  CIRCUIT_COOLDOWN_SECONDS?: string;
  /** Silence toward a streaming client before a `: keep-alive` comment is sent. */
  SSE_KEEPALIVE_SECONDS?: string;
  /** Encrypts literal provider secrets at rest (D1 and KV) when set. */
  CONFIG_ENCRYPTION_KEY?: string;
  /** HMAC key for ephemeral tokens (at least 32 characters); minting is disabled without it. */
  EPHEMERAL_TOKEN_SECRET?: string;
  /** Comma-separated browser origins allowed to make keyless requests ("*" for any). */
  KEYLESS_ALLOWED_ORIGINS?: string;
  /** "true": log rows keep request and response bodies (JSON answers; streams keep none). */
  LOG_PAYLOADS?: string;
  /** Days log rows are kept; older ones are deleted by the scheduled clean-up. */
  LOG_RETENTION_DAYS?: string;
  /** Days a stored Responses API response stays readable (GET /v1/responses/{id}, previous_response_id). */
  RESPONSE_RETENTION_DAYS?: string;
  /** "true": the cron trigger probes every origin's /health and isolates route around dead ones. */
  HEALTH_PROBE?: string;
  /** "true": the probe also reads vLLM's /metrics (requests waiting, KV-cache use) to weigh replicas. */
  HEALTH_PROBE_METRICS?: string;
  /** How long a probe report stays valid (seconds; at least 60). */
  HEALTH_PROBE_TTL_SECONDS?: string;
  /** OTLP/HTTP collector base URL: traces go to `<endpoint>/v1/traces`. Unset: no spans are recorded. */
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  /** The full traces URL, used as it is (wins over the base endpoint). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  /** `key=value,…` (percent-encoded) headers on every export, e.g. a collector's API key; usually a secret. */
  OTEL_EXPORTER_OTLP_HEADERS?: string;
  OTEL_EXPORTER_OTLP_TRACES_HEADERS?: string;
  /** Milliseconds an export may take before it is given up. */
  OTEL_EXPORTER_OTLP_TIMEOUT?: string;
  /** "http/json", the only protocol sent. */
  OTEL_EXPORTER_OTLP_PROTOCOL?: string;
  OTEL_SERVICE_NAME?: string;
  /** `key=value,…` resource attributes, e.g. `deployment.environment.name=prod`. */
  OTEL_RESOURCE_ATTRIBUTES?: string;
  /** Milliseconds an isolate collects spans before it exports them. */
  OTEL_BSP_SCHEDULE_DELAY?: string;
  /** Spans an isolate holds at most (the oldest are dropped beyond it). */
  OTEL_BSP_MAX_QUEUE_SIZE?: string;
  /** Spans per export request. */
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE?: string;
  /** Alert webhook of every key, team and customer that sets none of its own. */
  ALERT_WEBHOOK_URL?: string;
  /** HMAC key that signs alerts sent to ALERT_WEBHOOK_URL. */
  ALERT_WEBHOOK_SECRET?: string;
  /** Default alert thresholds, percentages separated by commas ("50,80,100"). */
  ALERT_THRESHOLDS?: string;
}

export interface AppVariables {
  requestId: string;
  /** Filled along an inference request's path for its log row. */
  trace: import("./observability/log-row").RequestTrace;
  /** The caller, authenticated before the body is read (null: keyless). */
  principal: import("./pipeline/authenticate").Principal | null;
  /** The request's recording span, when traces are exported and the caller's trace is sampled. */
  requestSpan: import("./telemetry/spans").RequestSpan | undefined;
}

export interface AppEnv {
  Bindings: Env;
  Variables: AppVariables;
}

