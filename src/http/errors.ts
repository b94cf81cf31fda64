/**
 * One error type for the whole gateway. Every failure — bad input, routing, origin trouble — becomes a
 * GatewayError and leaves as the OpenAI error body `{"error":{"message","type","param","code"}}`.
 */

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface GatewayErrorOptions {
  type?: string;
  param?: string | null;
  headers?: Record<string, string>;
}

export class GatewayError extends Error {
  readonly type: string;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null,
    options: GatewayErrorOptions = {},
  ) {
    super(message);
    this.type = options.type ?? errorTypeForStatus(status);
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }

  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function errorTypeForStatus(status: number): string {
  switch (status) {
    case 401:
      return "authentication_error";
    case 402:
      return "budget_exceeded";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    case 502:
    case 503:
      return "upstream_error";
    case 504:
      return "timeout_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" } as const;

export function errorResponse(error: GatewayError, requestId?: string): Response {
  const headers = new Headers({ ...JSON_HEADERS, ...error.headers });
  if (requestId) headers.set("x-request-id", requestId);
  return new Response(JSON.stringify(error.toBody()), { status: error.status, headers });
}

/**
 * Anything thrown that is not a GatewayError is a defect in the gateway itself: the client learns only that, never
 * the exception's text (the error handler logs it with its stack).
 */
export function asGatewayError(thrown: unknown): GatewayError {
  if (thrown instanceof GatewayError) return thrown;
  return new GatewayError(500, "internal gateway error", "internal_error");
}

export function badRequest(message: string, code: string, param: string | null = null): GatewayError {
  return new GatewayError(400, message, code, { param });
}

export function jsonResponse(body: unknown, status = 200, extraHeaders?: HeadersInit): Response {
  const headers = new Headers(extraHeaders);
  headers.set("content-type", JSON_HEADERS["content-type"]);
  return new Response(JSON.stringify(body), { status, headers });
}

/** A 200 answer whose JSON is already text. */
export function jsonTextResponse(text: string): Response {
  return new Response(text, { headers: JSON_HEADERS });
}
