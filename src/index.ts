/** Worker entry point. */
import { enforceLogRetention } from "./admin/logs";
import { buildApp } from "./app";
import type { Env } from "./env";

export { VirtualKeyLimiter } from "./governance/limiter";

const app = buildApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  /** The cron trigger in wrangler.toml: log retention. */
  scheduled: async (_controller, env, ctx) => {
    ctx.waitUntil(enforceLogRetention(env).then((removed) => console.log(JSON.stringify({ event: "log_retention", removed }))));
  },
} satisfies ExportedHandler<Env>;
