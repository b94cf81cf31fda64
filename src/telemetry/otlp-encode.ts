/**
 * OTLP/JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) for trace export, written here rather
 * than taken from @opentelemetry/otlp-transformer. That package does run on Workers, but its JSON serializer adds
 * about 9.5 KB minified (13 KB with protobuf) to a bundle that must stay under 400 KB, brings six @opentelemetry
 * packages at a 0.x version along, and wants the SDK's ReadableSpan objects (HrTime pairs, Resource instances)
 * built around plain records; the SDK's batch processor and exporters schedule flushes on timers no `waitUntil`
 * keeps alive. The encoding itself is the few rules below.
 *
 * The mapping's rules: ids are hex strings (not base64, unlike other bytes fields); 64-bit integers — times in unix
 * nanoseconds, int attributes — are decimal strings; enums are numbers.
 */

export type AnyValue =
  | { stringValue: string }
  | { intValue: string }
  | { doubleValue: number }
  | { boolValue: boolean }
  | { arrayValue: { values: AnyValue[] } };

export interface KeyValue {
  key: string;
  value: AnyValue;
}

export const SPAN_KIND_SERVER = 2;
export const SPAN_KIND_CLIENT = 3;
export const STATUS_UNSET = 0;
export const STATUS_ERROR = 2;

/** Span flags: the W3C trace flags in the low byte, and whether the parent's context-is-remote bit is known and set. */
const CONTEXT_HAS_IS_REMOTE = 0x100;
const CONTEXT_IS_REMOTE = 0x200;

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  status: { code: number; message?: string };
}

export function stringAttribute(key: string, value: string): KeyValue {
  return { key, value: { stringValue: value } };
}

export function intAttribute(key: string, value: number): KeyValue {
  return { key, value: { intValue: String(Math.trunc(value)) } };
}

export function doubleAttribute(key: string, value: number): KeyValue {
  return { key, value: { doubleValue: value } };
}

export function boolAttribute(key: string, value: boolean): KeyValue {
  return { key, value: { boolValue: value } };
}

export function stringsAttribute(key: string, values: readonly string[]): KeyValue {
  return { key, value: { arrayValue: { values: values.map((value) => ({ stringValue: value })) } } };
}

/** Milliseconds since the epoch (all a Worker's clock gives) as unix nanoseconds. */
export function unixNanos(ms: number): string {
  return ms <= 0 ? "0" : `${Math.round(ms)}000000`;
}

export function spanFlags(traceFlags: string, parentIsRemote: boolean): number {
  return (Number.parseInt(traceFlags, 16) & 0xff) | CONTEXT_HAS_IS_REMOTE | (parentIsRemote ? CONTEXT_IS_REMOTE : 0);
}

export interface Scope {
  name: string;
  version?: string;
}

/** An ExportTraceServiceRequest holding one resource's spans from one instrumentation scope. */
export function encodeTraces(resource: readonly KeyValue[], scope: Scope, spans: readonly OtlpSpan[]): string {
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ scope, spans }] }] });
}
