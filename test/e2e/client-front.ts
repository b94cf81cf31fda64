/**
 * A front Worker for client-leaves.test.ts: it passes every request to the gateway over a service binding and, when
 * a request carries `x-leave-after-ms`, gives up on it after that long. Giving up cancels the gateway's request inside
 * the runtime, which is what the platform does when a client disconnects (local workerd does not notice a client's
 * TCP connection closing while the Worker waits on an origin).
 */
interface FrontEnv {
  GATEWAY: { fetch(request: Request, init?: RequestInit): Promise<Response> };
}

export default {
  async fetch(request: Request, env: FrontEnv): Promise<Response> {
    const leaveAfterMs = Number(request.headers.get("x-leave-after-ms") ?? 0);
    if (!leaveAfterMs) return env.GATEWAY.fetch(request);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), leaveAfterMs);
    try {
      return await env.GATEWAY.fetch(request, { signal: controller.signal });
    } catch {
      return new Response("the front left", { status: 499 });
    }
  },
};
