/**
 * The gateway under test in its own plain workerd (via the miniflare API, not `wrangler dev`, which puts a proxy and
 * file watchers in front) that serves HTTP itself on 127.0.0.1, with local D1, KV and Durable Objects.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Log, LogLevel, Miniflare } from "miniflare";

export const COMPATIBILITY_DATE = "2026-11-01";
export const COMPATIBILITY_FLAGS = ["enable_request_signal"];

// Quiet miniflare: warnings and errors only, no per-request log lines, no workerd --verbose, and no dev registry
// (which would write to a global directory shared with other local sessions). Storage stays in a temp directory
// (see storageRoot).
// This miniflare (5.x) takes each Worker as `{ config }` in `workers`, with the code as a module manifest and
// every binding, plain vars included, typed in `env`; the first Worker receives the HTTP requests.
function instance(name, source, env, exports, storage) {
  return {
    host: "127.0.0.1",
    port: 0,
    ...(storage ? { resourcePersistencePath: storage } : {}),
    // `npm run profile` attaches to workerd's inspector here to take a CPU profile under load.
    ...(process.env.INSPECT_PORT ? { inspectorPort: Number(process.env.INSPECT_PORT) } : {}),
    verbose: false,
    logRequests: false,
    log: new Log(LogLevel.WARN),
    enableDevRegistry: false,
    cf: false, // a placeholder request.cf instead of fetching one from the internet at startup
    workers: [
      {
        config: {
          name,
          compatibilityDate: COMPATIBILITY_DATE,
          compatibilityFlags: COMPATIBILITY_FLAGS,
          manifest: { mainModule: "index.js", modules: { "index.js": { type: "esm", contents: source } } },
          env,
          exports,
        },
        // A second workerd socket wired straight to this Worker, skipping miniflare's entry Worker (see started()).
        dev: { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] },
      },
    ],
  };
}

/**
 * Waits for an instance and returns both HTTP addresses workerd serves for it: `entry` (the `port` socket, which
 * first runs miniflare's own entry Worker: cf blob, header rewrites, pretty errors) and `direct` (the Worker alone,
 * as in production). Disposes the instance if it or `setup` fails, since the caller never gets hold of it then.
 */
async function started(mf, name, setup = async () => {}) {
  try {
    const entry = (await mf.ready).origin;
    const direct = (await mf.unsafeGetDirectURL(name)).origin;
    await setup(mf);
    return { mf, entry, direct };
  } catch (error) {
    await mf.dispose();
    throw error;
  }
}

const text = (value) => ({ type: "text", value });

const SHM = "/dev/shm";
const SHM_PREFIX = "gateway-bench-storage-";

/**
 * Where the gateway's local D1, KV and Durable Object storage lives: a fresh directory on tmpfs (/dev/shm) when the
 * machine has one, removed when the process exits; otherwise miniflare's own temp directory. The simulators keep that
 * storage in SQLite files and commit every transaction with an fsync on workerd's one thread, so on a disk each
 * admission and each log batch would stall every request in the process for a disk flush — a cost no deployed Worker
 * pays, since its storage is a service elsewhere. On tmpfs the same SQLite work, transactions and output gates stay;
 * only the wait for a disk goes. Directories left by processes that were killed are removed first.
 */
function storageRoot() {
  if (!existsSync(SHM)) return undefined;
  for (const entry of readdirSync(SHM)) {
    const pid = Number(entry.slice(SHM_PREFIX.length).split("-")[0]);
    if (!entry.startsWith(SHM_PREFIX) || !Number.isInteger(pid) || processAlive(pid)) continue;
    rmSync(join(SHM, entry), { recursive: true, force: true });
  }
  const dir = mkdtempSync(join(SHM, `${SHM_PREFIX}${process.pid}-`));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

/** The bench key reaches its origin through this binding instead of the global fetch (see startGateway). */
export const ORIGIN_BINDING = "BENCH_ORIGIN";

/**
 * Starts the built gateway bundle with empty local D1 and KV (and the Durable Objects wrangler.toml declares),
 * applies the SQL migrations to D1, and prices the default vllm provider's models (as a deployment with dollar
 * budgets must: an unpriced model is refused under a budget).
 */
export async function startGateway(bundlePath, root, originUrl) {
  const objects = durableObjects(await readFile(join(root, "wrangler.toml"), "utf8"));
  const mf = new Miniflare(
    instance(
      "gateway",
      await readFile(bundlePath, "utf8"),
      {
        DB: { type: "d1", id: "bench-db" },
        CONFIG_KV: { type: "kv", id: "bench-kv" },
        DEFAULT_VLLM_URL: text(originUrl),
        // The origin's route: a workerd network service, bound like a Workers VPC binding (see startGateway).
        [ORIGIN_BINDING]: { type: "network", allow: ["private", "public", "local"] },
        CONFIG_CACHE_SECONDS: text("10"),
        ADMIN_TOKEN: text("bench-admin"),
        // The keyless path is measured too (the gateway requires keys unless this says otherwise).
        REQUIRE_VIRTUAL_KEY: text("false"),
        // LEASE_SHARE=0.05 in the environment measures leased admission; unset, the default (strict) is measured.
        ...(process.env.LEASE_SHARE ? { LEASE_SHARE: text(process.env.LEASE_SHARE) } : {}),
        ...Object.fromEntries(objects.map((o) => [o.name, { type: "durable-object", worker: "gateway", exportName: o.className }])),
      },
      Object.fromEntries(objects.map((o) => [o.className, { type: "durable-object", storage: o.sqlite ? "sqlite" : "legacy-kv" }])),
      storageRoot(),
    ),
  );
  const gateway = await started(mf, "gateway", async () => applyMigrations(await mf.getD1Database("DB"), join(root, "migrations")));
  const priced = await fetch(`${gateway.direct}/api/governance/pricing-overrides`, {
    method: "POST",
    headers: { authorization: "Bearer bench-admin", "content-type": "application/json" },
    body: JSON.stringify({ scope_kind: "provider", provider: "vllm", match_type: "wildcard", pattern: "*", input_price_per_million: 0.05, output_price_per_million: 0.25 }),
  });
  if (!priced.ok) {
    await mf.dispose();
    throw new Error(`pricing the bench provider failed: ${priced.status} ${await priced.text()}`);
  }
  // Miniflare sends every global fetch through an outbound Worker of its own (outbound.worker.js), a JS hop that
  // neither production nor the plain-workerd passthrough has: it alone costs a third of a passthrough's throughput.
  // The bench key reaches the origin through a direct network service binding instead (the key's vpc_binding, which
  // carries Workers VPC in production), so the gateway pays for reaching the origin what the passthrough pays.
  const routed = await fetch(`${gateway.direct}/api/providers/vllm/keys/vllm-local`, {
    method: "PUT",
    headers: { authorization: "Bearer bench-admin", "content-type": "application/json" },
    body: JSON.stringify({ vpc_binding: ORIGIN_BINDING }),
  });
  if (!routed.ok) {
    await mf.dispose();
    throw new Error(`routing the bench key through ${ORIGIN_BINDING} failed: ${routed.status} ${await routed.text()}`);
  }
  return gateway;
}

/**
 * Serves a one-module Worker `source` the way the gateway is served (plain workerd through the Miniflare API, a direct
 * socket), with the origin bound as a network service under ORIGIN_BINDING the way the bench key reaches it.
 */
export async function startWorkerScript(name, source) {
  const env = { [ORIGIN_BINDING]: { type: "network", allow: ["private", "public", "local"] } };
  return started(new Miniflare(instance(name, source, env, {}, undefined)), name);
}

/**
 * The Durable Object bindings in wrangler.toml: `[[durable_objects.bindings]]` name/class_name, and whether a
 * `[[migrations]]` entry made the class SQLite-backed. Enough TOML for this file; no parser dependency.
 */
function durableObjects(toml) {
  const bindings = [];
  const sqlite = new Set();
  for (const section of toml.split(/^(?=\[)/m)) {
    const header = section.split("\n", 1)[0].trim();
    // Values here are TOML basic strings and arrays of them, which read as JSON.
    const value = (key) => {
      const raw = section.match(new RegExp(`^\\s*${key}\\s*=\\s*(.+?)\\s*$`, "m"))?.[1];
      return raw === undefined ? undefined : JSON.parse(raw);
    };
    if (header === "[[durable_objects.bindings]]") bindings.push({ name: value("name"), className: value("class_name") });
    if (header === "[[migrations]]") for (const className of value("new_sqlite_classes") ?? []) sqlite.add(className);
  }
  return bindings.map((binding) => ({ ...binding, sqlite: sqlite.has(binding.className) }));
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
