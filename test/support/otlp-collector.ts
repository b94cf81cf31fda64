/**
 * An OpenTelemetry collector stand-in: a real OTLP/HTTP receiver on 127.0.0.1 that decodes the JSON exports it gets
 * and hands them to tests. Each test exports under its own path, `/t/<tenant>/v1/traces`, and reads what arrived with
 * `GET /__received?tenant=<tenant>&spans=<n>`, which answers as soon as n spans are there (or after `wait_ms`,
 * default 5000, with what there is) — so tests wait for the export itself, not for a guessed delay. Under `/hung/`
 * it accepts exports and never answers, like a collector that stopped responding.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

interface ReceivedExport {
  path: string;
  headers: Record<string, string>;
  /** The decoded ExportTraceServiceRequest. */
  body: { resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] };
}

function spanCount(received: readonly ReceivedExport[]): number {
  let count = 0;
  for (const { body } of received) for (const resource of body.resourceSpans ?? []) for (const scope of resource.scopeSpans ?? []) count += scope.spans?.length ?? 0;
  return count;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export class OtlpCollector {
  private readonly received = new Map<string, ReceivedExport[]>();
  /** Called after every export, so pending reads can check whether they have what they wait for. */
  private readonly listeners = new Set<() => void>();
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://collector");
    if (req.method === "GET" && url.pathname === "/__received") return this.answerReceived(url, res);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (url.pathname.startsWith("/hung/")) return; // never answered
    const tenant = /^\/t\/([^/]+)\/v1\/traces$/.exec(url.pathname)?.[1];
    if (req.method !== "POST" || tenant === undefined) return sendJson(res, 404, { error: `no receiver at ${req.method} ${url.pathname}` });
    // Only JSON is decoded: it is the only encoding the gateway sends.
    if (!String(req.headers["content-type"] ?? "").startsWith("application/json")) return sendJson(res, 415, { error: "send application/json" });
    let body: ReceivedExport["body"];
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ReceivedExport["body"];
    } catch {
      return sendJson(res, 400, { error: "the body is not JSON" });
    }
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]));
    const list = this.received.get(tenant) ?? [];
    list.push({ path: url.pathname, headers, body });
    this.received.set(tenant, list);
    sendJson(res, 200, {});
    for (const listener of this.listeners) listener();
  }

  private answerReceived(url: URL, res: ServerResponse): void {
    const tenant = url.searchParams.get("tenant") ?? "";
    const wanted = Number(url.searchParams.get("spans") ?? 0);
    const waitMs = Number(url.searchParams.get("wait_ms") ?? 5000);
    const answer = () => sendJson(res, 200, this.received.get(tenant) ?? []);
    if (spanCount(this.received.get(tenant) ?? []) >= wanted) return answer();
    const done = () => {
      clearTimeout(timer);
      this.listeners.delete(check);
      answer();
    };
    const check = () => {
      if (spanCount(this.received.get(tenant) ?? []) >= wanted) done();
    };
    const timer = setTimeout(done, waitMs);
    this.listeners.add(check);
  }
}
