/**
 * An OpenTelemetry collector stand-in: a real OTLP/HTTP receiver on 127.0.0.1 that decodes the JSON exports it gets
 * and hands them to tests. Each test exports under its own path, `/t/<tenant>/v1/traces`, and reads what arrived with
 * `GET /__received?tenant=<tenant>&spans=<n>`, which answers as soon as n spans are there (or after `wait_ms`,
 * default 5000, with what there is) — so tests wait for the export itself, not for a guessed delay. Under `/hung/`
 * it accepts exports and never answers, like a collector that stopped responding.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { LocalReceiver, flatHeaders, sendJson } from "./local-receiver";

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

export class OtlpCollector extends LocalReceiver {
  private readonly received = new Map<string, ReceivedExport[]>();

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
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
    const headers = flatHeaders(req);
    const list = this.received.get(tenant) ?? [];
    list.push({ path: url.pathname, headers, body });
    this.received.set(tenant, list);
    sendJson(res, 200, {});
    this.arrived();
  }

  private answerReceived(url: URL, res: ServerResponse): void {
    const tenant = url.searchParams.get("tenant") ?? "";
    const wanted = Number(url.searchParams.get("spans") ?? 0);
    const waitMs = Number(url.searchParams.get("wait_ms") ?? 5000);
    this.whenReady(() => spanCount(this.received.get(tenant) ?? []) >= wanted, waitMs, () => sendJson(res, 200, this.received.get(tenant) ?? []));
  }
}
