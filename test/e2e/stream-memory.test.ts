/**
 * Streams cost what they carry: a generated ~100 MB chat stream (100k deltas of 1 KiB, made lazily, never held
 * whole) goes through the chat relay, the Messages converter and the Responses converter, and the output is scanned
 * as it arrives (bytes, delta text, the text the closing events repeat) without being kept. Memory must stay flat:
 * nothing may grow per delta, and the Responses closing events, which the API makes repeat the whole text, must
 * reuse the one copy the converter keeps instead of building the events whole.
 *
 * Runs in Node (pure web-stream modules); `global.gc` is obtained at runtime so the samples after a forced
 * collection measure what is retained, not garbage not yet collected.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { MessagesStreamConverter } from "../../src/convert/messages-stream";
import { responsesToChat } from "../../src/convert/responses-request";
import { ResponsesStreamConverter } from "../../src/convert/responses-stream";
import { SseRelay, type RelaySummary } from "../../src/upstream/sse-relay";
import { LongText, type StreamConverter } from "../../src/upstream/stream-converter";

const DELTA_CHARS = 1024;
const DELTAS = 100_000;
const CONTENT = DELTA_CHARS * DELTAS;
const MB = 1024 * 1024;
/** Origin events per upstream read, about what a network read delivers. */
const EVENTS_PER_READ = 16;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const encoder = new TextEncoder();
const letters = Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i).repeat(DELTA_CHARS));
const chunkBytes = letters.map((text) =>
  encoder.encode(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"served","choices":[{"index":0,"delta":{"content":"${text}"},"finish_reason":null}]}\n\n`),
);
const TAIL = encoder.encode(
  'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"served","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n' +
    'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"served","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":100000,"total_tokens":100005}}\n\n' +
    "data: [DONE]\n\n",
);

const FNV_BASIS = 0x811c9dc5;
const fnv = (hash: number, byte: number) => Math.imul(hash ^ byte, 16777619) >>> 0;

/** The FNV-1a hash of the whole generated content, computed without building it. */
const CONTENT_HASH = (() => {
  let hash = FNV_BASIS;
  for (let i = 0; i < DELTAS; i++) {
    const byte = 97 + (i % 26);
    for (let j = 0; j < DELTA_CHARS; j++) hash = fnv(hash, byte);
  }
  return hash;
})();

/** The origin: chat chunks generated on demand, so the test never holds the stream. */
function originStream(): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (next >= DELTAS) {
          controller.enqueue(TAIL.slice());
          controller.close();
          return;
        }
        const parts: Uint8Array[] = [];
        for (let i = 0; i < EVENTS_PER_READ && next < DELTAS; i++, next++) parts.push(chunkBytes[next % 26] ?? new Uint8Array());
        const read = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
        let at = 0;
        for (const part of parts) {
          read.set(part, at);
          at += part.length;
        }
        controller.enqueue(read);
      },
    },
    { highWaterMark: 0 },
  );
}

interface FullEvent {
  name: string;
  length: number;
  hash: number;
  /** How many times the text field occurred in the event. */
  fields: number;
}

type EventKind = "delta" | "full" | "other";

/**
 * Scans SSE output byte by byte as it arrives: the text of each delta event (after `deltaMarker`) continues one
 * running hash, and each closing event's repeated text (after `fullMarker`) is measured and hashed on its own.
 * Content is letters only, so a text field ends at the next quote.
 */
class SseScanner {
  bytes = 0;
  deltaLength = 0;
  deltaHash = FNV_BASIS;
  readonly full: FullEvent[] = [];
  lastEvent = "";
  largestChunk = 0;
  private prev = 0;
  private kind: EventKind | "pending";
  private head: number[] = [];
  private marker = new Uint8Array();
  private matched = 0;
  private inText = false;
  private eventLength = 0;
  private eventHash = FNV_BASIS;
  private eventFields = 0;
  private name = "";

  constructor(
    private readonly named: boolean,
    private readonly classify: (name: string) => EventKind,
    private readonly deltaMarker: string,
    private readonly fullMarker: string,
  ) {
    this.kind = "pending";
    this.reset();
  }

  private reset(): void {
    this.head = [];
    this.matched = 0;
    this.inText = false;
    this.eventLength = 0;
    this.eventHash = FNV_BASIS;
    this.eventFields = 0;
    this.name = "";
    if (this.named) this.kind = "pending";
    else this.setKind("delta");
  }

  private setKind(kind: EventKind): void {
    this.kind = kind;
    this.marker = encoder.encode(kind === "delta" ? this.deltaMarker : kind === "full" ? this.fullMarker : "\u0000");
  }

  push(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    this.largestChunk = Math.max(this.largestChunk, chunk.length);
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i] ?? 0;
      if (byte === 10 && this.prev === 10) {
        this.endEvent();
        this.prev = 0;
        continue;
      }
      this.prev = byte;
      if (this.kind === "pending") {
        if (byte === 10) {
          const line = String.fromCharCode(...this.head);
          this.name = line.startsWith("event: ") ? line.slice(7) : "";
          this.setKind(this.classify(this.name));
        } else if (this.head.length < 128) this.head.push(byte);
        continue;
      }
      if (this.inText) {
        if (byte === 34) {
          this.inText = false;
          this.eventFields += 1;
        } else if (this.kind === "delta") {
          this.deltaLength += 1;
          this.deltaHash = fnv(this.deltaHash, byte);
        } else {
          this.eventLength += 1;
          this.eventHash = fnv(this.eventHash, byte);
        }
        continue;
      }
      if (byte === this.marker[this.matched]) {
        this.matched += 1;
        if (this.matched === this.marker.length) {
          this.inText = true;
          this.matched = 0;
        }
      } else this.matched = byte === this.marker[0] ? 1 : 0;
    }
  }

  private endEvent(): void {
    if (this.kind === "full") this.full.push({ name: this.name, length: this.eventLength, hash: this.eventHash, fields: this.eventFields });
    if (this.kind !== "pending" || this.head.length > 0) this.lastEvent = this.name;
    this.reset();
  }
}

/**
 * heapUsed + arrayBuffers growth over a baseline: raw samples, and samples right after a forced collection. The
 * process's peak RSS catches what samples between reads cannot see (strings built and dropped in one synchronous
 * step); it never falls, so its growth is an upper bound as long as earlier runs peaked lower.
 */
class MemoryProbe {
  peak = 0;
  peakRetained = 0;
  private readonly baseline: number;
  private readonly rssBaseline: number;
  private nextGcAt = 0;

  constructor(private readonly gcEveryBytes: number) {
    gc();
    gc();
    this.baseline = MemoryProbe.used();
    this.rssBaseline = process.memoryUsage().rss;
  }

  get peakRss(): number {
    return process.resourceUsage().maxRSS * 1024 - this.rssBaseline;
  }

  static used(): number {
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    return heapUsed + arrayBuffers;
  }

  sample(bytesSeen: number): void {
    this.peak = Math.max(this.peak, MemoryProbe.used() - this.baseline);
    if (bytesSeen < this.nextGcAt) return;
    this.nextGcAt = bytesSeen + this.gcEveryBytes;
    gc();
    this.peakRetained = Math.max(this.peakRetained, MemoryProbe.used() - this.baseline);
  }
}

interface Run {
  scanner: SseScanner;
  probe: MemoryProbe;
  summary: RelaySummary | undefined;
  seconds: number;
}

/** Pushes the generated stream through a relay (with or without a converter) and scans its output as it arrives. */
async function run(scanner: SseScanner, converter?: StreamConverter): Promise<Run> {
  const started = performance.now();
  const probe = new MemoryProbe(8 * MB);
  let summary: RelaySummary | undefined;
  const relay = new SseRelay(originStream(), {
    servedModel: "served",
    publicModel: "vllm/public",
    dropUsageOnlyChunk: true,
    idleTimeoutMs: 60_000,
    keepAliveMs: 60_000,
    abortUpstream: () => undefined,
    converter,
    onEnd: (s) => (summary = s),
  });
  expect(await relay.open()).toBeNull();
  const reader = relay.stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    scanner.push(value);
    probe.sample(scanner.bytes);
  }
  probe.sample(Number.POSITIVE_INFINITY);
  return { scanner, probe, summary, seconds: (performance.now() - started) / 1000 };
}

function report(label: string, { scanner, probe, seconds }: Run): void {
  const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;
  console.log(
    `${label}: content ${mb(CONTENT)}, wire ${mb(scanner.bytes)} (${(scanner.bytes / CONTENT).toFixed(3)}×), ` +
      `peak growth ${mb(probe.peak)}, retained peak ${mb(probe.peakRetained)}, RSS peak growth ${mb(probe.peakRss)}, largest chunk ${mb(scanner.largestChunk)}, ${seconds.toFixed(1)} s`,
  );
}

describe("a 100 MB stream stays flat in memory", () => {
  it("chat passthrough relay: nothing accumulates per event", async () => {
    const scanner = new SseScanner(false, () => "delta", '"content":"', "");
    const result = await run(scanner);
    report("chat", result);
    expect(result.summary?.outcome).toBe("completed");
    expect(scanner.deltaLength).toBe(CONTENT);
    expect(scanner.deltaHash).toBe(CONTENT_HASH);
    expect(scanner.bytes).toBeLessThan(CONTENT * 1.3);
    expect(result.probe.peak).toBeLessThan(64 * MB);
    expect(result.probe.peakRetained).toBeLessThan(32 * MB);
  });

  it("Messages converter: no text is kept, and the wire carries it once", async () => {
    const classify = (name: string): EventKind => (name === "content_block_delta" ? "delta" : "other");
    const scanner = new SseScanner(true, classify, '"text":"', "");
    const result = await run(scanner, new MessagesStreamConverter("vllm/public", null));
    report("messages", result);
    expect(result.summary?.outcome).toBe("completed");
    expect(scanner.lastEvent).toBe("message_stop");
    expect(scanner.deltaLength).toBe(CONTENT);
    expect(scanner.deltaHash).toBe(CONTENT_HASH);
    expect(scanner.bytes).toBeLessThan(CONTENT * 1.3);
    expect(result.probe.peak).toBeLessThan(64 * MB);
    expect(result.probe.peakRetained).toBeLessThan(32 * MB);
  });

  it("Responses converter: the closing events repeat the text, memory holds it once", async () => {
    const closing = new Set(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]);
    const classify = (name: string): EventKind => (name === "response.output_text.delta" ? "delta" : closing.has(name) ? "full" : "other");
    const scanner = new SseScanner(true, classify, '"delta":"', '"text":"');
    const { fields } = responsesToChat({ model: "vllm/public", input: "Write at length.", stream: true });
    const result = await run(scanner, new ResponsesStreamConverter("vllm/public", fields));
    report("responses", result);
    expect(result.summary?.outcome).toBe("completed");
    expect(scanner.lastEvent).toBe("response.completed");
    expect(scanner.deltaLength).toBe(CONTENT);
    expect(scanner.deltaHash).toBe(CONTENT_HASH);
    // The API makes four closing events carry the whole text: output_text.done, content_part.done,
    // output_item.done and response.completed.
    expect(scanner.full.map((event) => event.name)).toEqual([...closing]);
    for (const event of scanner.full) expect(event).toEqual({ name: event.name, length: CONTENT, hash: CONTENT_HASH, fields: 1 });
    // So the wire carries the text five times, plus about 200 bytes of framing per delta event.
    expect(scanner.bytes).toBeLessThan(CONTENT * 5.3);
    // The text kept once (CONTENT), and nothing built whole: no output chunk near the text's size.
    expect(scanner.largestChunk).toBeLessThan(MB);
    expect(result.probe.peakRetained).toBeLessThan(CONTENT * 1.25);
    expect(result.probe.peak).toBeLessThan(CONTENT * 1.5);
    // Peak RSS also sees strings built and dropped between two reads (before: 1.4 GB of it).
    expect(result.probe.peakRss).toBeLessThan(CONTENT * 2);
  }, 60_000);

  it("a long text kept from token-sized deltas costs about its own size", () => {
    // Real origins send a token (a few characters) per chunk. Joined with +=, 20 MB of 4-character deltas would
    // be a rope costing 8-14× the text; LongText's pieces cost about 1×.
    const deltas = 5_000_000;
    gc();
    const before = MemoryProbe.used();
    const text = new LongText();
    for (let i = 0; i < deltas; i++) text.append(String.fromCharCode(97 + (i % 26), 98, 99, 100));
    // Measured while the text is still open, as it is for the whole stream.
    gc();
    const growth = MemoryProbe.used() - before;
    expect(growth).toBeLessThan(deltas * 4 * 1.25);
    expect(text.escaped().reduce((sum, piece) => sum + piece.length, 0)).toBe(deltas * 4);
  });
});
