/**
 * The dashboard's Usage page (plain browser JavaScript): requests, tokens and cost over a chosen range — totals,
 * columns over time (GET /api/logs/summary) and breakdowns by virtual key, provider and model (GET /api/logs/usage),
 * each with a bar chart drawn as SVG. Names reach the SVG as text nodes, never as markup.
 */
export const USAGE_VIEWS = String.raw`
const usageFilters = { range: "24h", from: "", to: "", metric: "cost" };
const USAGE_RANGES = [["1h", "last hour", 3600000], ["24h", "last 24 hours", 86400000], ["7d", "last 7 days", 604800000], ["30d", "last 30 days", 2592000000], ["custom", "from / to below"]];
const METRICS = {
  cost: ["Cost", (x) => x.cost, money],
  requests: ["Requests", (x) => x.requests, String],
  tokens: ["Tokens", (x) => x.total_tokens, (v) => Math.round(v).toLocaleString("en-US")],
};
const BREAKDOWNS = [["virtual_key", "By virtual key"], ["provider", "By provider"], ["model", "By model"]];

function svgEl(tag, attrs, text) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** The range in integer milliseconds: a preset counts back from now; custom from/to are local times. */
function usageRange() {
  const preset = USAGE_RANGES.find(([id]) => id === usageFilters.range);
  if (preset && preset[2]) { const to = Date.now(); return { from: to - preset[2], to }; }
  const to = usageFilters.to ? new Date(usageFilters.to).getTime() : Date.now();
  return { from: usageFilters.from ? new Date(usageFilters.from).getTime() : to - 86400000, to };
}

/** Horizontal bars, one per group, the longest for the largest value. */
function barChart(label, lines, value, format) {
  const rowHeight = 26, nameWidth = 230, width = 720, barSpace = width - nameWidth - 110;
  const values = lines.map((l) => Number(value(l) || 0));
  const max = Math.max(0, ...values);
  const height = Math.max(rowHeight, lines.length * rowHeight);
  // Drawn at its own pixel size (narrower screens scale it down), so labels stay at the page's text size.
  const svg = svgEl("svg", { viewBox: "0 0 " + width + " " + height, width, height, role: "img", "aria-label": label, class: "bars" });
  lines.forEach((line, i) => {
    const y = i * rowHeight;
    const name = line.label.length > 32 ? "…" + line.label.slice(-31) : line.label;
    const text = svgEl("text", { x: nameWidth - 8, y: y + 17, "text-anchor": "end", "font-size": 12, fill: "#1c1f24" }, name);
    text.append(svgEl("title", {}, line.label));
    svg.append(text, svgEl("rect", { x: nameWidth, y: y + 5, height: 16, rx: 3, width: max > 0 ? Math.max(1, (values[i] / max) * barSpace).toFixed(1) : 1, fill: line.other ? "#9aa3b2" : "#2457c5" }));
    svg.append(svgEl("text", { x: nameWidth + (max > 0 ? (values[i] / max) * barSpace : 0) + 6, y: y + 17, "font-size": 12, fill: "#5b6270" }, format(values[i])));
  });
  return svg;
}

/** Columns over the range, each bucket placed at its time, so quiet stretches show as gaps. */
function timeColumns(title, summary, value, format) {
  const width = 320, height = 150, pad = 20, span = summary.to - summary.from, bucketMs = summary.bucket_seconds * 1000;
  const values = summary.buckets.map((b) => Number(value(b) || 0));
  const max = Math.max(0, ...values);
  const total = values.reduce((sum, v) => sum + v, 0);
  const svg = svgEl("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": title + ": " + format(total) + " in the range" });
  svg.append(svgEl("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "#d8dce3" }));
  const scaleX = (width - 2 * pad) / span;
  summary.buckets.forEach((b, i) => {
    const barHeight = max > 0 ? (values[i] / max) * (height - 2 * pad) : 0;
    const x = pad + Math.max(0, b.bucket - summary.from) * scaleX;
    svg.append(svgEl("rect", { x: x.toFixed(1), y: (height - pad - barHeight).toFixed(1), width: Math.max(1.5, bucketMs * scaleX - 1).toFixed(1), height: barHeight.toFixed(1), fill: "#2457c5" }));
  });
  svg.append(svgEl("text", { x: pad, y: 14, "font-size": 14, fill: "#5b6270" }, "max " + format(max)));
  // Within a day the time says it; a day or more needs the date too (24 hours end at the time they began).
  const when = (ms) => new Date(ms).toLocaleString([], span < 86400000 ? { hour: "2-digit", minute: "2-digit" } : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  svg.append(svgEl("text", { x: pad, y: height - 6, "font-size": 14, fill: "#5b6270" }, when(summary.from)));
  svg.append(svgEl("text", { x: width - pad, y: height - 6, "font-size": 14, fill: "#5b6270", "text-anchor": "end" }, when(summary.to)));
  return h("section", { class: "card chart" }, h("h2", {}, title, h("span", { class: "muted", text: "  " + format(total) })), svg);
}

function breakdownCard(kind, title, usage) {
  const [label, value, format] = METRICS[usageFilters.metric];
  const none = kind === "virtual_key" ? "(no virtual key)" : "(none)";
  const lines = usage.groups.map((g) => Object.assign({ label: g.name || g.key || none }, g));
  if (usage.other) lines.push(Object.assign({ label: plural(usage.other.groups, "other"), other: true }, usage.other));
  const row = (l) => h("tr", { "data-group": l.other ? "other" : l.key === null ? "" : l.key },
    h("td", { class: "wrap", text: l.label + (kind === "virtual_key" && l.key && l.name && l.name !== l.key ? " (" + l.key + ")" : "") }),
    h("td", { text: String(l.requests) }), h("td", { class: l.errors ? "error" : undefined, text: String(l.errors) }),
    h("td", { text: l.prompt_tokens + " / " + l.completion_tokens }), h("td", { text: money(l.cost) }),
    h("td", { text: l.avg_latency_ms === null ? "—" : Math.round(l.avg_latency_ms) + " ms" }));
  return h("section", { class: "card", id: "usage-" + kind },
    h("h2", { text: title }),
    lines.length ? barChart(label + " " + title.toLowerCase(), lines, value, format) : h("p", { class: "muted", text: "No requests in this range." }),
    lines.length ? h("table", {}, h("thead", {}, h("tr", {}, ...["Name", "Requests", "Errors", "Tokens in / out", "Cost", "Avg latency"].map((t) => h("th", { text: t })))), h("tbody", {}, ...lines.map(row))) : null);
}

function usageForm() {
  const select = (name, options) => h("select", { name, id: "f-usage-" + name }, ...options.map(([v, l]) => h("option", { value: v, selected: usageFilters[name] === v }, l)));
  const custom = usageFilters.range === "custom";
  const range = select("range", USAGE_RANGES);
  const from = h("input", { name: "from", id: "f-usage-from", type: "datetime-local", value: usageFilters.from, disabled: !custom });
  const to = h("input", { name: "to", id: "f-usage-to", type: "datetime-local", value: usageFilters.to, disabled: !custom });
  range.addEventListener("change", () => { from.disabled = to.disabled = range.value !== "custom"; });
  return h("form", {
    class: "grid", id: "usage-form", "aria-label": "Usage range",
    onsubmit: (event) => { event.preventDefault(); Object.assign(usageFilters, { from: "", to: "" }, formValues(event.target)); show("usage"); },
  },
  field("Range", range), field("From", from), field("To", to),
  field("Bars show", select("metric", Object.entries(METRICS).map(([id, [label]]) => [id, label]))),
  h("button", { class: "primary", type: "submit" }, "Show"));
}

async function renderUsage() {
  const { from, to } = usageRange();
  if (!(from < to)) return h("section", { class: "card" }, h("h2", { text: "Usage" }), usageForm(), message("Choose a 'from' time before the 'to' time.", "error"));
  const span = "from=" + from + "&to=" + to;
  const [summary, ...breakdowns] = await Promise.all([
    api("GET", "/api/logs/summary?" + span),
    ...BREAKDOWNS.map(([kind]) => api("GET", "/api/logs/usage?group_by=" + kind + "&limit=10&" + span)),
  ]);
  const t = breakdowns[0].total;
  const figures = [["Requests", String(t.requests)], ["Errors", String(t.errors)], ["Prompt tokens", String(t.prompt_tokens)], ["Completion tokens", String(t.completion_tokens)], ["Cost", money(t.cost)], ["Average latency", t.avg_latency_ms === null ? "—" : Math.round(t.avg_latency_ms) + " ms"]];
  return [
    h("section", { class: "card" }, h("h2", { text: "Usage" }), usageForm(),
      h("p", { class: "muted", text: new Date(from).toLocaleString() + " – " + new Date(to).toLocaleString() }),
      h("dl", { class: "detail", id: "usage-totals" }, ...figures.map(([label, value]) => h("div", {}, h("dt", { text: label }), h("dd", { "data-field": label, text: value }))))),
    h("div", { class: "charts" },
      timeColumns("Requests", summary, (b) => b.requests, String),
      timeColumns("Tokens", summary, (b) => Number(b.prompt_tokens) + Number(b.completion_tokens), METRICS.tokens[2]),
      timeColumns("Cost", summary, (b) => b.cost, money)),
    ...BREAKDOWNS.map(([kind, title], i) => breakdownCard(kind, title, breakdowns[i])),
  ];
}
`;
