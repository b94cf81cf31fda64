/**
 * The baseline: a 10-line passthrough Worker in plain workerd (a capnp config, no miniflare), the least any Worker in
 * front of the origin can do — the same as compare.sh's, with the gateway's compatibility date and flags.
 */
import { spawn } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { workerdBinary } from "./tools.mjs";
import { COMPATIBILITY_DATE, COMPATIBILITY_FLAGS } from "./workers.mjs";

const PASSTHROUGH = (originUrl) => `export default {
  async fetch(request) {
    const url = new URL(request.url);
    const answer = await fetch(${JSON.stringify(originUrl)} + url.pathname, { method: request.method, headers: { "content-type": "application/json" }, body: request.body });
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  },
};
`;

/**
 * Serves the passthrough on `port`. `options.v8Flags` go to V8 (`npm run profile:gc` passes --trace-gc), and
 * workerd's standard output, where V8 prints its traces, is appended to `options.stdoutPath` when given.
 */
export async function startPlainPassthrough(dir, originUrl, port, options = {}) {
  await writeFile(join(dir, "passthrough.js"), PASSTHROUGH(originUrl));
  const flags = COMPATIBILITY_FLAGS.map((flag) => JSON.stringify(flag)).join(", ");
  const v8Flags = (options.v8Flags ?? []).map((flag) => JSON.stringify(flag)).join(", ");
  await writeFile(
    join(dir, "passthrough.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w), (name = "internet", network = (allow = ["private", "public", "local"])) ],
  sockets = [ ( name = "http", address = "127.0.0.1:${port}", http = (), service = "main" ) ],
  v8Flags = [${v8Flags}],
);
const w :Workerd.Worker = (
  modules = [ (name = "index.js", esModule = embed "passthrough.js") ],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  compatibilityFlags = [${flags}],
  globalOutbound = "internet",
);
`,
  );
  const stdout = options.stdoutPath === undefined ? "ignore" : openSync(options.stdoutPath, "a");
  const child = spawn(await workerdBinary(), ["serve", join(dir, "passthrough.capnp")], { stdio: ["ignore", stdout, "pipe"] });
  if (typeof stdout === "number") closeSync(stdout);
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`workerd exited: ${stderr}`);
    const up = await fetch(url).then(() => true, () => false);
    if (up) return { url, stop: async () => void child.kill() };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  throw new Error(`the passthrough did not start: ${stderr}`);
}
