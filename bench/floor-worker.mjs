/**
 * The floor for a gateway that reads what it forwards: a Worker doing only what any such gateway must per non-stream
 * chat request — read and parse the client's body, write the served model in, forward it with a request id and a
 * timeout (an AbortController and one timer), read and parse the answer for its usage, answer with a new Response, and
 * keep a row per request in memory that a timer clears once a second from `waitUntil`. No routing, admission, log
 * writes or framework. `npm run bench:ab -- passthrough floor dist/index.js` puts it between the passthrough (the least
 * any Worker does) and the gateway, so a change to the request path can be read against both.
 */
export const FLOOR_SOURCE = (originBinding, originUrl) => `let rows = [];
let flushing = false;
export default {
  async fetch(request, env, ctx) {
    const requestId = request.headers.get("x-request-id") ?? crypto.randomUUID();
    const body = JSON.parse(await request.text());
    if (typeof body.model !== "string") return new Response("model must be a string", { status: 400 });
    body.model = body.model.slice(body.model.indexOf("/") + 1);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 30000);
    const answer = await env.${originBinding}.fetch(${JSON.stringify(originUrl)} + new URL(request.url).pathname, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", "x-request-id": requestId },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    const text = await answer.text();
    clearTimeout(timer);
    const usage = JSON.parse(text).usage ?? {};
    rows.push({ requestId, status: answer.status, promptTokens: usage.prompt_tokens ?? 0, completionTokens: usage.completion_tokens ?? 0 });
    if (!flushing) {
      flushing = true;
      ctx.waitUntil(new Promise((resolve) => setTimeout(resolve, 1000)).then(() => { rows = []; flushing = false; }));
    }
    return new Response(text, { status: answer.status, headers: { "content-type": "application/json", "x-request-id": requestId } });
  },
};
`;
