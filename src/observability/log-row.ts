/** What the gateway records about one inference request. */

/** The error code of a request whose client left before its end (nginx's 499 "client closed request"). */
export const CLIENT_CLOSED = "client_closed_request";

export interface LogRow {
  /** Generated for every row: never chosen by a client. */
  id: string;
  /** The request's id: the client's X-Request-Id when it sent a sane one, else the gateway's own. */
  request_id: string;
  ts: number;
  virtual_key_id: string | null;
  virtual_key_name: string | null;
  provider: string | null;
  provider_key: string | null;
  origin: string | null;
  model: string | null;
  endpoint: string;
  stream: boolean;
  status: number;
  error_code: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost: number;
  latency_ms: number;
  ttft_ms: number | null;
  attempts: number;
  fallback_index: number;
  /** Answered from the exact-match response cache, without reaching an origin. */
  cache_hit: boolean;
  request_body: string | null;
  response_body: string | null;
  /**
   * The `model` metric label (not stored): the served model under its provider when configuration named it or the
   * origin accepted it, else "other" — so client-chosen strings never become metric series.
   */
  metric_model: string;
}

/** What the request path learns along the way; the request-log middleware turns it into a LogRow at the end. */
export interface RequestTrace {
  virtualKey?: { id: string; name: string };
  provider?: string;
  providerKey?: string;
  origin?: string;
  model?: string;
  /** The model name sent upstream, and whether the key's configuration chose it. */
  servedModel?: string;
  servedModelConfigured?: boolean;
  attempts?: number;
  fallbackIndex?: number;
  cacheHit?: boolean;
  /** The client asked for a stream (logged as one even when it failed before any event). */
  stream?: boolean;
  /** Usage and cost once the response has finished (a stream's end). */
  outcome?: Promise<TraceOutcome>;
  /** With LOG_PAYLOADS=true: the request body as received. */
  requestBody?: string;
  errorCode?: string;
}

export interface TraceOutcome {
  promptTokens: number;
  completionTokens: number;
  cost: number;
  /** When the first streamed event reached the client, ms since the epoch. */
  firstTokenAt?: number | undefined;
  /** A stream that broke after it started. */
  errorCode?: string | undefined;
  /** With LOG_PAYLOADS=true: a JSON answer's body. */
  responseBody?: string | undefined;
}
