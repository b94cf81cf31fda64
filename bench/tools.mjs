/** Small pieces every bench script needs: a free port, the gateway built as wrangler deploys it, workerd. */
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Builds the Worker with `wrangler deploy --dry-run` into `outDir` (extra flags such as --no-minify); returns the bundle. */
export function buildGateway(outDir, extraArgs = []) {
  const wrangler = join(ROOT, "node_modules", ".bin", "wrangler");
  // Run wrangler's script with this Node (22), whatever `node` the shebang would find on PATH.
  const result = spawnSync(process.execPath, [wrangler, "deploy", "--dry-run", ...extraArgs, "--outdir", outDir], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
  });
  if (result.status !== 0) throw new Error(`wrangler build failed:\n${result.stdout}\n${result.stderr}`);
  return join(outDir, "index.js");
}

/** The workerd binary npm installed with wrangler (plain workerd, no miniflare around it). */
export async function workerdBinary() {
  const dir = join(ROOT, "node_modules", "@cloudflare");
  const platform = (await readdir(dir)).find((name) => name.startsWith("workerd-"));
  if (!platform) throw new Error("workerd is not installed: run npm install");
  return join(dir, platform, "bin", "workerd");
}
