/**
 * The dashboard's Logs page (plain browser JavaScript): every filter GET /api/logs takes (time range, virtual key,
 * provider, model, status), paging, and a detail view of one row. All text goes in through textContent, never HTML.
 */
export const LOG_VIEWS = String.raw`
const logFilters = { range: "", from: "", to: "", virtual_key: "", provider: "", model: "", status: "", code: "", offset: 0 };
const PAGE_SIZE = 25;
const RANGES = [["", "any time"], ["15m", "last 15 min"], ["1h", "last hour"], ["24h", "last 24 h"], ["7d", "last 7 days"], ["custom", "from / to below"]];
const RANGE_MS = { "15m": 900000, "1h": 3600000, "24h": 86400000, "7d": 604800000 };

/** The query for /api/logs from the filter form's values: a quick range counts back from now; from/to are local times. */
function logQuery() {
  const f = logFilters;
  const query = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(f.offset) });
  for (const name of ["virtual_key", "provider", "model"]) if (f[name].trim()) query.set(name, f[name].trim());
  const status = f.code.trim() || f.status;
  if (status) query.set("status", status);
  if (RANGE_MS[f.range]) query.set("from", String(Date.now() - RANGE_MS[f.range]));
  else if (f.range === "custom") {
    if (f.from) query.set("from", new Date(f.from).toISOString());
    if (f.to) query.set("to", new Date(f.to).toISOString());
  }
  return query;
}

function logFilterForm(providers) {
  const select = (name, options) => h("select", { name, id: "f-" + name }, ...options.map(([v, l]) => h("option", { value: v, selected: logFilters[name] === v }, l)));
  const custom = logFilters.range === "custom";
  const range = select("range", RANGES);
  const from = input("from", { type: "datetime-local", value: logFilters.from, disabled: !custom });
  const to = input("to", { type: "datetime-local", value: logFilters.to, disabled: !custom });
  range.addEventListener("change", () => { from.disabled = to.disabled = range.value !== "custom"; });
  return h(
    "form",
    {
      class: "grid", "aria-label": "Log filters",
      onsubmit: (event) => {
        event.preventDefault();
        Object.assign(logFilters, { from: "", to: "" }, formValues(event.target), { offset: 0 });
        show("logs");
      },
    },
    field("Time", range),
    field("From", from),
    field("To", to),
    field("Virtual key", input("virtual_key", { value: logFilters.virtual_key, placeholder: "name or id" })),
    field("Provider", select("provider", [["", "any"], ...providers.map((p) => [p, p])])),
    field("Model", input("model", { value: logFilters.model, placeholder: "provider/model" })),
    field("Status", select("status", [["", "any"], ["success", "success"], ["error", "error"]])),
    field("Status code (overrides)", input("code", { value: logFilters.code, placeholder: "e.g. 404", pattern: "[0-9]{3}", inputmode: "numeric" })),
    h("div", { class: "actions" },
      h("button", { class: "primary", type: "submit" }, "Filter"),
      h("button", { class: "secondary", type: "button", onclick: () => { Object.keys(logFilters).forEach((k) => { logFilters[k] = k === "offset" ? 0 : ""; }); show("logs"); } }, "Clear"),
    ),
  );
}

const dash = (v) => (v === null || v === undefined || v === "" ? "—" : String(v));
const failed = (log) => log.status >= 400 || !!log.error_code;

/** A request or response body as stored: pretty-printed when it is JSON, shown as text either way. */
function bodyBlock(title, body) {
  let text = body;
  try { text = JSON.stringify(JSON.parse(body), null, 2); } catch { /* not JSON: as stored */ }
  return h("div", {}, h("h3", { text: title }), h("pre", { class: "payload", text }));
}

function logDetail(log, where) {
  const fields = [
    ["Request id", log.request_id], ["Time", new Date(log.ts).toLocaleString() + " (" + log.time + ")"], ["Endpoint", log.endpoint],
    ["Virtual key", log.virtual_key_name ? log.virtual_key_name + " (" + log.virtual_key_id + ")" : log.virtual_key_id], ["Provider", log.provider],
    ["Provider key", log.provider_key], ["Origin", log.origin], ["Model", log.model], ["Status", log.status], ["Error code", log.error_code],
    ["Attempts", log.attempts], ["Fallback index", log.fallback_index], ["Stream", log.stream ? "yes" : "no"], ["Cache hit", log.cache_hit ? "yes" : "no"],
    ["Prompt tokens", log.prompt_tokens], ["Completion tokens", log.completion_tokens], ["Cost", money(log.cost)],
    ["Latency", log.latency_ms + " ms"], ["Time to first token", log.ttft_ms === null || log.ttft_ms === undefined ? null : log.ttft_ms + " ms"],
  ];
  const hasBodies = log.request_body || log.response_body;
  const card = h(
    "section",
    { class: "card", id: "log-detail", "aria-label": "Request " + log.request_id, tabindex: "-1" },
    h("div", { class: "detail-head" },
      h("h2", { text: "Request " + dash(log.request_id) }),
      h("button", { class: "secondary", type: "button", onclick: () => where.replaceChildren() }, "Close"),
    ),
    h("dl", { class: "detail" }, ...fields.map(([label, value]) => h("div", {}, h("dt", { text: label }), h("dd", { "data-field": label, class: label === "Status" || label === "Error code" ? (failed(log) ? "error" : "ok") : undefined, text: dash(value) })))),
    hasBodies
      ? h("div", { class: "payloads" }, log.request_body ? bodyBlock("Request body", log.request_body) : null, log.response_body ? bodyBlock("Response body", log.response_body) : null)
      : h("p", { class: "muted", text: "No request or response body stored (they are kept only with LOG_PAYLOADS=true, and never for streamed answers)." }),
  );
  where.replaceChildren(card);
  card.focus();
}

function logRow(log, detail) {
  const open = () => logDetail(log, detail);
  return h(
    "tr",
    { "data-request-id": log.request_id, class: "clickable", tabindex: "0", title: "Show details", onclick: open, onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } } },
    h("td", { text: new Date(log.ts).toLocaleString() }),
    h("td", { text: log.virtual_key_name || "—" }),
    h("td", { class: "wrap", text: log.model || "—" }),
    h("td", { class: failed(log) ? "error" : "ok", text: log.status + (log.error_code ? " " + log.error_code : "") }),
    h("td", { text: log.prompt_tokens + " / " + log.completion_tokens }),
    h("td", { text: money(log.cost) }),
    h("td", { text: log.latency_ms + " ms" + (log.ttft_ms !== null ? " (first " + log.ttft_ms + " ms)" : "") }),
    h("td", { text: (log.provider || "—") + (log.attempts > 1 ? " ×" + log.attempts : "") }),
  );
}

async function renderLogs() {
  const [page, providers] = await Promise.all([api("GET", "/api/logs?" + logQuery()), api("GET", "/api/providers")]);
  const detail = h("div", { id: "log-detail-slot" });
  const rows = page.logs.map((log) => logRow(log, detail));
  const move = (by) => () => { logFilters.offset += by; show("logs"); };
  const first = page.total ? logFilters.offset + 1 : 0;
  const pager = h(
    "div",
    { class: "actions pager" },
    h("button", { class: "secondary", type: "button", disabled: logFilters.offset === 0, onclick: move(-PAGE_SIZE) }, "Newer"),
    h("button", { class: "secondary", type: "button", disabled: logFilters.offset + PAGE_SIZE >= page.total, onclick: move(PAGE_SIZE) }, "Older"),
    h("span", { class: "muted", id: "logs-total", text: first + "–" + (logFilters.offset + page.logs.length) + " of " + page.total + " requests" }),
  );
  const table = h("table", { id: "logs" }, h("thead", {}, h("tr", {}, ...["Time", "Key", "Model", "Status", "Tokens in / out", "Cost", "Latency", "Provider"].map((t) => h("th", { text: t })))), h("tbody", {}, ...rows));
  const empty = rows.length ? null : h("p", { class: "muted", id: "logs-empty", text: "No requests match these filters." });
  return [
    h("section", { class: "card" }, h("h2", { text: "Request logs" }), logFilterForm((providers.providers || []).map((p) => p.name)), table, empty, pager, rows.length ? h("p", { class: "muted", text: "Select a row for its details." }) : null),
    detail,
  ];
}
`;
