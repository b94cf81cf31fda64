/**
 * A strict reader of the Prometheus text exposition format (0.0.4) for tests: it throws on anything the format
 * forbids that a lenient scraper would let through — a malformed sample or label, a family declared twice or split
 * apart, samples of an undeclared family, histogram buckets out of numeric order, without +Inf, not cumulative, or
 * whose _count differs from the +Inf bucket.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/y;
const SUFFIXES: Record<string, string[]> = { counter: [""], gauge: [""], histogram: ["_bucket", "_sum", "_count"], summary: ["", "_sum", "_count"], untyped: [""] };

function labelsOf(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const start = LABEL.lastIndex;
    const match = LABEL.exec(text);
    if (!match || match.index !== start) throw new Error(`malformed labels in: ${line}`);
    const [, name = "", value = ""] = match;
    if (!LABEL_NAME.test(name) || name in labels) throw new Error(`bad or repeated label ${name} in: ${line}`);
    labels[name] = value.replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1");
  }
  return labels;
}

function checkHistogram(family: Family): void {
  const series = new Map<string, Sample[]>();
  for (const sample of family.samples) {
    const { le: _le, ...rest } = sample.labels;
    const key = JSON.stringify(rest);
    series.set(key, [...(series.get(key) ?? []), sample]);
  }
  for (const [key, samples] of series) {
    const buckets = samples.filter((s) => s.name.endsWith("_bucket"));
    const bounds = buckets.map((b) => (b.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(b.labels.le)));
    if (bounds.some(Number.isNaN)) throw new Error(`${family.name}${key}: a bucket without a numeric le`);
    for (let i = 1; i < bounds.length; i += 1) {
      if (!((bounds[i] ?? 0) > (bounds[i - 1] ?? 0))) throw new Error(`${family.name}${key}: le not in increasing order`);
      if ((buckets[i]?.value ?? 0) < (buckets[i - 1]?.value ?? 0)) throw new Error(`${family.name}${key}: buckets not cumulative`);
    }
    if (bounds.at(-1) !== Number.POSITIVE_INFINITY) throw new Error(`${family.name}${key}: no +Inf bucket`);
    const count = samples.find((s) => s.name === `${family.name}_count`);
    if (!count || count.value !== buckets.at(-1)?.value) throw new Error(`${family.name}${key}: _count differs from the +Inf bucket`);
  }
}

export function parseStrict(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a newline");
  const families = new Map<string, Family>();
  let current: Family | undefined;
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) continue;
    if (line.startsWith("# TYPE ")) {
      const [name = "", type = ""] = line.slice(7).split(" ");
      if (!NAME.test(name) || !(type in SUFFIXES)) throw new Error(`bad TYPE line: ${line}`);
      if (families.has(name)) throw new Error(`family ${name} declared twice or split apart`);
      current = { name, type, samples: [] };
      families.set(name, current);
      continue;
    }
    if (line.startsWith("#") || line === "") throw new Error(`unexpected line: ${JSON.stringify(line)}`);
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`malformed sample: ${line}`);
    const [, name = "", labelText = "", rawValue = ""] = match;
    const value = rawValue === "+Inf" ? Number.POSITIVE_INFINITY : rawValue === "-Inf" ? Number.NEGATIVE_INFINITY : Number(rawValue);
    if (Number.isNaN(value) && rawValue !== "NaN") throw new Error(`bad value in: ${line}`);
    if (!current || !SUFFIXES[current.type]?.some((suffix) => name === current?.name + suffix)) throw new Error(`sample outside its family: ${line}`);
    current.samples.push({ name, labels: labelsOf(labelText, line), value });
  }
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family);
  return families;
}
