/**
 * Origin error payloads → one GatewayError with an honest status. vLLM and friends answer errors in several shapes
 * (nested, flat, FastAPI `detail`, a bare string) and sometimes with HTTP 200; classification uses status and
 * `param`, never message text.
 */
import { GatewayError } from "../http/errors";
import { isJsonObject } from "../http/body";

interface ErrorParts {
  message: string;
  type?: string;
  param?: string | null;
  code?: string | number | null;
}

const MAX_MESSAGE = 2000;

/** A non-empty string, cut to MAX_MESSAGE: validation messages may quote the request, and it may be megabytes. */
function text(value: unknown): string | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  return value.length > MAX_MESSAGE ? `${value.slice(0, MAX_MESSAGE)}…` : value;
}

/** Extracts message/type/param/code from any known shape; undefined when the payload carries no error. */
export function errorPartsOf(payload: unknown): ErrorParts | undefined {
  if (!isJsonObject(payload)) return undefined;
  const { error } = payload;
  if (isJsonObject(error)) {
    return {
      message: text(error.message) ?? JSON.stringify(error).slice(0, MAX_MESSAGE),
      type: text(error.type),
      param: text(error.param) ?? null,
      code: typeof error.code === "number" || typeof error.code === "string" ? error.code : null,
    };
  }
  if (typeof error === "string" && error !== "") return { message: text(error) ?? error };
  if (payload.object === "error") {
    return {
      message: text(payload.message) ?? "origin reported an error",
      type: text(payload.type),
      param: text(payload.param) ?? null,
      code: typeof payload.code === "number" || typeof payload.code === "string" ? payload.code : null,
    };
  }
  const { detail } = payload;
  if (typeof detail === "string") return { message: text(detail) ?? detail };
  if (Array.isArray(detail)) {
    const parts = detail.map((item) => (isJsonObject(item) && typeof item.msg === "string" ? `${Array.isArray(item.loc) ? item.loc.join(".") + ": " : ""}${item.msg}` : JSON.stringify(item)));
    return { message: parts.join("; ").slice(0, MAX_MESSAGE) };
  }
  return undefined;
}

/** The status a client should see for an origin status. */
export function clientStatusFor(originStatus: number): number {
  if (originStatus === 408 || originStatus === 524) return 504;
  if (originStatus >= 400 && originStatus < 500) return originStatus;
  if (originStatus === 500 || originStatus === 501 || originStatus === 503 || originStatus === 504) return originStatus;
  return 502;
}

/** vLLM's message for a model it does not serve; its pooling routes send it with no `param`. */
const UNKNOWN_MODEL = /^The model `.*` does not exist\.?$/;

function defaultCode(status: number, param: string | null | undefined, message: string): string {
  if (status === 400 && (param === "input_tokens" || param === "input_text")) return "context_length_exceeded";
  if (status === 404 && (param === "model" || UNKNOWN_MODEL.test(message))) return "model_not_found";
  if (status === 429) return "rate_limited";
  if (status === 504) return "request_timed_out";
  return status >= 500 ? "upstream_error" : "upstream_rejected";
}

export interface OriginLabel {
  provider: string;
  key: string;
}

/** Builds the client-facing error for an origin answer that failed (non-2xx, or 2xx whose body is an error). */
export function originError(originStatus: number, bodyText: string, origin: OriginLabel, retryAfter?: string | null): GatewayError {
  let payload: unknown;
  try {
    payload = bodyText === "" ? undefined : JSON.parse(bodyText);
  } catch {
    payload = undefined;
  }
  const parts = errorPartsOf(payload);
  let status = originStatus;
  if (status < 400) {
    // HTTP 200 carrying an error: the embedded integer code is the real status.
    const embedded = typeof parts?.code === "number" ? parts.code : Number.NaN;
    status = embedded >= 400 && embedded <= 599 ? embedded : 502;
  }
  const where = `provider '${origin.provider}' key '${origin.key}'`;
  const message = parts?.message ?? describeRawBody(bodyText, originStatus);
  const headers: Record<string, string> = retryAfter ? { "retry-after": retryAfter } : {};

  if (status === 401 || status === 403) {
    // What the origin said about the gateway's own credentials is for the operator, not the client.
    console.log(JSON.stringify({ event: "upstream_auth_failed", provider: origin.provider, key: origin.key, status, message }));
    return new GatewayError(502, `origin rejected the gateway's credentials for ${where} (HTTP ${status}); the gateway's logs have its answer`, "upstream_auth_failed");
  }
  if ((status === 404 || status === 405) && isJsonObject(payload) && typeof payload.detail === "string") {
    return new GatewayError(
      status,
      `origin for ${where} has no such route (HTTP ${status} ${message}); the served model may not support this endpoint`,
      "upstream_route_not_found",
    );
  }
  const clientStatus = clientStatusFor(status);
  const param = parts?.param ?? null;
  const code = typeof parts?.code === "string" ? parts.code : defaultCode(clientStatus, param, message);
  return new GatewayError(clientStatus, message, code, { type: parts?.type, param, headers });
}

/**
 * A body that is no error shape the gateway knows comes from something in front of the engine (a proxy, a tunnel,
 * a load balancer) and may name internal hosts: the client hears its status, the logs get the text.
 */
function describeRawBody(bodyText: string, status: number): string {
  const trimmed = bodyText.trim();
  if (trimmed === "") return `origin answered HTTP ${status} with an empty body`;
  console.log(JSON.stringify({ event: "upstream_unrecognised_error_body", status, body: trimmed.slice(0, MAX_MESSAGE) }));
  if (/^<(!doctype|html)/i.test(trimmed)) return `origin answered HTTP ${status} with an HTML page`;
  return `origin answered HTTP ${status} with a body that is not an error the gateway understands (logged)`;
}
