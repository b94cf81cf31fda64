/** The dashboard's overview charts and logs (plain browser JavaScript); providers and keys are in views-config.ts. */
import { CONFIG_VIEWS } from "./views-config";

const READ_VIEWS = String.raw`
/** A small SVG line chart of one series over the summary's time buckets. */
function chart(title, buckets, value, format, weight) {
  const width = 480, height = 140, pad = 24;
  const values = buckets.map((b) => Number(value(b) || 0));
  const max = Math.max(1e-9, ...values);
  const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
  const points = values.map((v, i) => (pad + i * step).toFixed(1) + "," + (height - pad - (v / max) * (height - 2 * pad)).toFixed(1)).join(" ");
  // Counts add up over the period; averages are weighted by how many requests each bucket's average covers.
  const weights = weight ? buckets.map((b) => Number(weight(b) || 0)) : null;
  const weightSum = weights ? weights.reduce((sum, w) => sum + w, 0) : 0;
  const total = weights ? (weightSum ? values.reduce((sum, v, i) => sum + v * weights[i], 0) / weightSum : 0) : values.reduce((sum, v) => sum + v, 0);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title + ": " + format(total) + (weights ? " on average" : " over the period"));
  svg.innerHTML =
    '<line x1="' + pad + '" y1="' + (height - pad) + '" x2="' + (width - pad) + '" y2="' + (height - pad) + '" stroke="#d8dce3"/>' +
    (values.length ? '<polyline fill="none" stroke="#2457c5" stroke-width="2" points="' + points + '"/>' : "") +
    '<text x="' + pad + '" y="14" font-size="12" fill="#5b6270">max ' + format(max) + "</text>";
  return h("section", { class: "card chart" }, h("h2", {}, title, h("span", { class: "muted", text: "  " + format(total) })), svg);
}

async function renderOverview() {
  const summary = await api("GET", "/api/logs/summary");
  const b = summary.buckets;
  const count = (n) => String(Math.round(n));
  return [
    h("p", { class: "muted", text: "Last 24 hours, " + Math.round(summary.bucket_seconds / 60) + "-minute buckets." }),
    h(
      "div",
      { class: "charts" },
      chart("Requests", b, (x) => x.requests, count),
      chart("Errors", b, (x) => x.errors, count),
      chart("Tokens", b, (x) => Number(x.prompt_tokens) + Number(x.completion_tokens), count),
      chart("Cost", b, (x) => x.cost, money),
      chart("Average latency", b, (x) => x.avg_latency_ms, (v) => Math.round(v) + " ms", (x) => x.requests),
      chart("Average time to first token", b, (x) => x.avg_ttft_ms, (v) => Math.round(v) + " ms", (x) => x.streams),
    ),
  ];
}

const logFilters = { virtual_key: "", model: "", status: "", offset: 0 };
const PAGE_SIZE = 25;

async function renderLogs() {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(logFilters.offset) });
  for (const name of ["virtual_key", "model", "status"]) if (logFilters[name]) query.set(name, logFilters[name]);
  const page = await api("GET", "/api/logs?" + query);
  const filters = h(
    "form",
    {
      class: "grid",
      "aria-label": "Log filters",
      onsubmit: (event) => {
        event.preventDefault();
        Object.assign(logFilters, formValues(event.target), { offset: 0 });
        show("logs");
      },
    },
    field("Virtual key", input("virtual_key", { value: logFilters.virtual_key, placeholder: "name or id" })),
    field("Model", input("model", { value: logFilters.model, placeholder: "vllm/…" })),
    field(
      "Status",
      h("select", { name: "status", id: "f-status" }, ...[["", "any"], ["success", "success"], ["error", "error"]].map(([v, l]) => h("option", { value: v, selected: logFilters.status === v }, l))),
    ),
    h("button", { class: "primary", type: "submit" }, "Filter"),
  );
  const rows = page.logs.map((log) =>
    h(
      "tr",
      { "data-request-id": log.request_id },
      h("td", { text: new Date(log.ts).toLocaleString() }),
      h("td", { text: log.virtual_key_name || "—" }),
      h("td", { text: log.model || "—" }),
      h("td", { class: log.status >= 400 ? "error" : "ok", text: log.status + (log.error_code ? " " + log.error_code : "") }),
      h("td", { text: log.prompt_tokens + " / " + log.completion_tokens }),
      h("td", { text: money(log.cost) }),
      h("td", { text: log.latency_ms + " ms" + (log.ttft_ms !== null ? " (first " + log.ttft_ms + " ms)" : "") }),
      h("td", { text: (log.provider || "—") + (log.attempts > 1 ? " ×" + log.attempts : "") }),
    ),
  );
  const pager = h(
    "div",
    { class: "actions" },
    h("button", { class: "secondary", type: "button", disabled: logFilters.offset === 0, onclick: () => { logFilters.offset -= PAGE_SIZE; show("logs"); } }, "Newer"),
    h("button", { class: "secondary", type: "button", disabled: logFilters.offset + PAGE_SIZE >= page.total, onclick: () => { logFilters.offset += PAGE_SIZE; show("logs"); } }, "Older"),
    h("span", { class: "muted", text: page.total + " requests" }),
  );
  return h(
    "section",
    { class: "card" },
    h("h2", { text: "Request logs" }),
    filters,
    h("table", { id: "logs" }, h("thead", {}, h("tr", {}, ...["Time", "Key", "Model", "Status", "Tokens in / out", "Cost", "Latency", "Provider"].map((t) => h("th", { text: t })))), h("tbody", {}, ...rows)),
    pager,
  );
}
`;

export const DASHBOARD_VIEWS = `${READ_VIEWS}\n${CONFIG_VIEWS}\nconst RENDER = { overview: renderOverview, providers: renderProviders, keys: renderKeys, logs: renderLogs };`;
