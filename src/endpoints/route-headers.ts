import type { Target } from "../routing/resolve";

/** Names the provider that answered and how many attempts it took. Responses here are gateway-built, so mutable. */
export function withRouteHeaders(response: Response, target: Target, attempts: number): Response {
  response.headers.set("x-bf-provider", target.provider.name);
  response.headers.set("x-bf-attempts", String(attempts));
  return response;
}
