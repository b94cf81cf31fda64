/** Runs wrk (the load generator compare.sh uses) against one URL and reads its latency percentiles and rate. */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Milliseconds from wrk's "123.00us" / "1.23ms" / "1.2s". */
function millis(text) {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text ?? "");
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  return match[2] === "us" ? value / 1000 : match[2] === "ms" ? value : value * 1000;
}

export function parseWrk(output) {
  const field = (pattern) => pattern.exec(output)?.[1];
  return {
    p50: millis(field(/^\s+50%\s+(\S+)/m)),
    p99: millis(field(/^\s+99%\s+(\S+)/m)),
    rps: Number(field(/^Requests\/sec:\s+([\d.]+)/m)),
    /** Requests answered in the run: wrk's own count, where req/s × the run's length is off by the run's overshoot. */
    requests: Number(field(/^\s+(\d+) requests in /m)),
    non2xx: Number(field(/Non-2xx or 3xx responses:\s+(\d+)/) ?? 0),
    errors: Number(field(/Socket errors:.*timeout (\d+)/) ?? 0),
  };
}

/** A wrk Lua script that POSTs `body` with `headers`. */
export async function wrkScript(dir, name, body, headers) {
  const lines = ['wrk.method = "POST"', `wrk.body = ${JSON.stringify(JSON.stringify(body))}`, 'wrk.headers["Content-Type"] = "application/json"'];
  for (const [header, value] of Object.entries(headers)) lines.push(`wrk.headers[${JSON.stringify(header)}] = ${JSON.stringify(value)}`);
  const path = join(dir, `${name}.lua`);
  await writeFile(path, `${lines.join("\n")}\n`);
  return path;
}

export function runWrk(url, script, connections, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "-s", script, "--latency", url], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(parseWrk(output)) : reject(new Error(`wrk exited with ${code}: ${output}`))));
  });
}
