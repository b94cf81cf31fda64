/**
 * A webhook receiver for alert tests: a real HTTP server on 127.0.0.1 that keeps every POST it gets. Each test sends
 * to its own box, `/r/<box>`; `/r/<box>/fail/<n>` answers 500 to the box's first n deliveries and 200 after. Tests
 * read a box with `GET /__received?box=<box>&count=<n>`, which answers as soon as n deliveries are there (or after
 * `wait_ms`, default 5000, with what there is).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { LocalReceiver, flatHeaders, sendJson } from "./local-receiver";

export interface ReceivedAlert {
  path: string;
  headers: Record<string, string>;
  /** The raw body, as signed. */
  body: string;
  /** What the receiver answered. */
  status: number;
}

export class AlertReceiver extends LocalReceiver {
  private readonly boxes = new Map<string, ReceivedAlert[]>();

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://receiver");
    if (req.method === "GET" && url.pathname === "/__received") {
      const box = url.searchParams.get("box") ?? "";
      const wanted = Number(url.searchParams.get("count") ?? 0);
      return this.whenReady(() => (this.boxes.get(box)?.length ?? 0) >= wanted, Number(url.searchParams.get("wait_ms") ?? 5000), () => sendJson(res, 200, this.boxes.get(box) ?? []));
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const match = /^\/r\/([^/]+)(?:\/fail\/(\d+))?$/.exec(url.pathname);
    if (req.method !== "POST" || !match) return sendJson(res, 404, { error: `no receiver at ${req.method} ${url.pathname}` });
    const box = match[1] ?? "";
    const list = this.boxes.get(box) ?? [];
    const status = list.length < Number(match[2] ?? 0) ? 500 : 200;
    list.push({ path: url.pathname, headers: flatHeaders(req), body: Buffer.concat(chunks).toString("utf8"), status });
    this.boxes.set(box, list);
    sendJson(res, status, status === 200 ? {} : { error: "failing on purpose" });
    this.arrived();
  }
}
