/** Worker entry point. */
import { enforceLogRetention } from "./admin/logs";
import { buildApp } from "./app";
import { getRoutingTable } from "./config/store";
import { probeOrigins } from "./routing/probe";
import type { Env } from "./env";
import { settingsOf } from "./settings";
import { removeExpiredResponses } from "./state/response-store";

export { VirtualKeyLimiter } from "./governance/limiter";

const app = buildApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  /** The cron trigger in wrangler.toml: log retention, and the optional origin probe. */
  scheduled: async (controller, env, ctx) => {
    // The trigger fires every minute for the probe; log retention needs only an hourly pass.
    if (new Date(controller.scheduledTime).getUTCMinutes() === 17) {
      ctx.waitUntil(enforceLogRetention(env).then((removed) => console.log(JSON.stringify({ event: "log_retention", removed }))));
      ctx.waitUntil(removeExpiredResponses(env).then((removed) => console.log(JSON.stringify({ event: "response_retention", removed }))));
    }
    if (settingsOf(env).HEALTH_PROBE) {
      const table = await getRoutingTable(env, (promise) => ctx.waitUntil(promise));
      ctx.waitUntil(probeOrigins(env, table).then((reports) => console.log(JSON.stringify({ event: "health_probe", origins: reports }))));
    }
  },
} satisfies ExportedHandler<Env>;
