/**
 * A small keep-alive HTTP load generator on node:http (no extra dependency). The same client drives every
 * target, so its own overhead cancels out of the differences we report.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";

// One pooled agent: connections are opened during warm-up and reused, so no run pays for TCP handshakes.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 30_000 });

/**
 * Sends one POST and reads the whole response. Resolves with the status, the time to the first body byte and the
 * total time, both in milliseconds from the moment the request was issued.
 */
export function post(baseUrl, path, payload, headers = {}) {
  return send("POST", baseUrl, path, payload, headers);
}

function send(method, baseUrl, path, payload, headers) {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method,
        headers: { "content-type": "application/json", "content-length": payload.length, ...headers },
      },
      (res) => {
        let firstByte;
        const parts = [];
        res.on("data", (part) => {
          firstByte ??= performance.now();
          parts.push(part);
        });
        res.on("end", () => {
          const end = performance.now();
          resolve({ status: res.statusCode, body: Buffer.concat(parts).toString("utf8"), ttfb: (firstByte ?? end) - start, total: end - start });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** Nearest-rank percentile of an unsorted list of numbers. */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function closeAgent() {
  agent.destroy();
}
