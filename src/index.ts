/** Worker entry point. */
import { buildApp } from "./app";
import type { Env } from "./env";

const app = buildApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
