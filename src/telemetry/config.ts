/**
 * Whether this environment exports traces, and where to: OpenTelemetry's variables, parsed with the other settings
 * (settings.ts) once per isolate, become one exporter per settings object. Without an endpoint there is none, and
 * the request path asks nothing more than this lookup.
 */
import type { Settings } from "../settings";
import { SpanExporter, resourceAttributes } from "./exporter";

const exporters = new WeakMap<Settings, SpanExporter | null>();

/** The signal path the base endpoint gets; a traces-specific endpoint is used exactly as given. */
export function tracesUrl(settings: Settings): string | undefined {
  if (settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined) return settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = settings.OTEL_EXPORTER_OTLP_ENDPOINT;
  return base === undefined ? undefined : `${base.replace(/\/+$/, "")}/v1/traces`;
}

function createExporter(settings: Settings): SpanExporter | null {
  const url = tracesUrl(settings);
  if (url === undefined) return null;
  return new SpanExporter({
    url,
    // Traces-specific headers add to the general ones and win where both name a header.
    headers: { ...settings.OTEL_EXPORTER_OTLP_HEADERS, ...settings.OTEL_EXPORTER_OTLP_TRACES_HEADERS },
    timeoutMs: settings.OTEL_EXPORTER_OTLP_TIMEOUT,
    resource: resourceAttributes(settings.OTEL_SERVICE_NAME, settings.OTEL_RESOURCE_ATTRIBUTES),
    scheduleDelayMs: settings.OTEL_BSP_SCHEDULE_DELAY,
    maxQueueSize: Math.floor(settings.OTEL_BSP_MAX_QUEUE_SIZE),
    maxBatchSize: Math.floor(settings.OTEL_BSP_MAX_EXPORT_BATCH_SIZE),
  });
}

/** This environment's exporter, or null when traces are not exported. */
export function exporterFor(settings: Settings): SpanExporter | null {
  let exporter = exporters.get(settings);
  if (exporter === undefined) {
    exporter = createExporter(settings);
    exporters.set(settings, exporter);
  }
  return exporter;
}
