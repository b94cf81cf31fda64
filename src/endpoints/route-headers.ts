import type { Dispatched } from "../routing/dispatch";

/** Names the provider that answered and how many attempts it took. Responses here are gateway-built, so mutable. */
export function withRouteHeaders({ response, target, attempts }: Dispatched): Response {
  response.headers.set("x-bf-provider", target.provider.name);
  response.headers.set("x-bf-attempts", String(attempts));
  return response;
}
