/**
 * The two Workers under test, each in its own plain workerd (via the miniflare API, not `wrangler dev`, which puts
 * a proxy and file watchers in front) that serves HTTP itself on 127.0.0.1. Both get the gateway's compatibility
 * date and flags so the only difference between them is the Worker code.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Log, LogLevel, Miniflare } from "miniflare";

export const COMPATIBILITY_DATE = "2026-11-01";
export const COMPATIBILITY_FLAGS = ["enable_request_signal"];

// The baseline: the least a Worker in front of an origin can do. The body is streamed, never buffered.
const PASSTHROUGH = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    // Same method, headers and body, sent to the origin; the origin's response is returned as is.
    return fetch(new Request(env.ORIGIN + url.pathname + url.search, request));
  },
};
`;

// Quiet miniflare: warnings and errors only, no per-request log lines, no workerd --verbose, and no dev registry
// (which would write to a global directory shared with other local sessions). Storage stays in a temp directory.
// This miniflare (5.x) takes each Worker as `{ config }` in `workers`, with the code as a module manifest and
// every binding, plain vars included, typed in `env`; the first Worker receives the HTTP requests.
function instance(name, source, env) {
  return {
    host: "127.0.0.1",
    port: 0,
    verbose: false,
    logRequests: false,
    log: new Log(LogLevel.WARN),
    enableDevRegistry: false,
    workers: [
      {
        config: {
          name,
          compatibilityDate: COMPATIBILITY_DATE,
          compatibilityFlags: COMPATIBILITY_FLAGS,
          manifest: { mainModule: "index.js", modules: { "index.js": { type: "esm", contents: source } } },
          env,
        },
      },
    ],
  };
}

const text = (value) => ({ type: "text", value });

export async function startPassthrough(originUrl) {
  const mf = new Miniflare(instance("passthrough", PASSTHROUGH, { ORIGIN: text(originUrl) }));
  return { mf, url: (await mf.ready).origin };
}

/** Starts the built gateway bundle with empty local D1 and KV, then applies the SQL migrations to D1. */
export async function startGateway(bundlePath, migrationsDir, originUrl) {
  const mf = new Miniflare(
    instance("gateway", await readFile(bundlePath, "utf8"), {
      DB: { type: "d1", id: "bench-db" },
      CONFIG_KV: { type: "kv", id: "bench-kv" },
      DEFAULT_VLLM_URL: text(originUrl),
      CONFIG_CACHE_SECONDS: text("10"),
      ADMIN_TOKEN: text("bench-admin"),
    }),
  );
  const url = (await mf.ready).origin;
  await applyMigrations(await mf.getD1Database("DB"), migrationsDir);
  return { mf, url };
}

/**
 * Runs every migrations/*.sql file in name order, like `wrangler d1 migrations apply`. D1's exec() splits on
 * newlines, which breaks multi-line statements, so each file is split on `;` and run as one batch instead.
 */
async function applyMigrations(db, dir) {
  const files = (await readdir(dir)).filter((name) => name.endsWith(".sql")).sort();
  for (const file of files) {
    const sql = (await readFile(join(dir, file), "utf8"))
      .split("\n")
      .filter((line) => !line.trim().startsWith("--"))
      .join("\n");
    const statements = sql
      .split(";")
      .map((statement) => statement.trim())
      .filter(Boolean);
    await db.batch(statements.map((statement) => db.prepare(statement)));
  }
}
