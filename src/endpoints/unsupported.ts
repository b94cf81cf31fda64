/** Operations vLLM does not serve get a clear 400 `unsupported_operation`, as Bifrost answers them. */
import { GatewayError } from "../http/errors";

export const UNSUPPORTED_ROUTES: ReadonlyArray<{ path: string; operation: string }> = [
  { path: "/images/*", operation: "image generation" },
  { path: "/audio/speech", operation: "speech (text-to-speech)" },
  { path: "/files", operation: "files" },
  { path: "/files/*", operation: "files" },
  { path: "/batches", operation: "batches" },
  { path: "/batches/*", operation: "batches" },
  { path: "/responses/:id/cancel", operation: "cancelling background responses" },
];

export function unsupportedOperation(operation: string): GatewayError {
  return new GatewayError(
    400,
    `${operation} is not supported by this gateway: vLLM origins do not serve it`,
    "unsupported_operation",
  );
}
