/**
 * What the stand-ins that receive from the gateway in tests share: a real HTTP server on 127.0.0.1, and reads of what
 * arrived that answer as soon as it is there — so tests wait for the delivery itself, not for a guessed delay.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A request's headers as single strings. */
export function flatHeaders(req: IncomingMessage): Record<string, string> {
  return Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]));
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export abstract class LocalReceiver {
  /** Called after everything received, so pending reads can check whether they have what they wait for. */
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

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;

  /** Tells pending reads that something arrived. */
  protected arrived(): void {
    for (const listener of this.listeners) listener();
  }

  /** Calls `answer` as soon as `ready()` holds, or after `waitMs` with what there is. */
  protected whenReady(ready: () => boolean, waitMs: number, answer: () => void): void {
    if (ready()) return answer();
    const done = () => {
      clearTimeout(timer);
      this.listeners.delete(check);
      answer();
    };
    const check = () => {
      if (ready()) done();
    };
    const timer = setTimeout(done, waitMs);
    this.listeners.add(check);
  }
}
