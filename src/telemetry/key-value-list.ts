/**
 * OpenTelemetry's list format for OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES: `key=value` pairs joined
 * by commas, each key and value percent-encoded (W3C Baggage's format without its properties), so a value may carry
 * a comma, an equals sign or a space (`Authorization=Basic%20dG9rZW4%3D`).
 */

/** The pairs in order (a later duplicate key wins), or undefined when an entry is not `key=value` or not decodable. */
export function parseKeyValueList(raw: string): Record<string, string> | undefined {
  const pairs: Record<string, string> = {};
  for (const entry of raw.split(",")) {
    if (entry.trim() === "") continue;
    const equals = entry.indexOf("=");
    if (equals <= 0) return undefined;
    try {
      const key = decodeURIComponent(entry.slice(0, equals).trim());
      if (key === "") return undefined;
      pairs[key] = decodeURIComponent(entry.slice(equals + 1).trim());
    } catch {
      return undefined;
    }
  }
  return pairs;
}
