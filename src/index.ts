/** Worker entry point. */
import { buildApp } from "./app";
import type { Env } from "./env";

export { VirtualKeyLimiter } from "./governance/limiter";

const app = buildApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
