/**
 * How the Providers page shows an origin's state (plain browser JavaScript): the circuit and the scheduled probe's
 * last report from GET /api/providers/{name}/health, and the answer of a connection test. Text only, never HTML.
 */
export const HEALTH_VIEWS = String.raw`
const clock = (iso) => new Date(iso).toLocaleTimeString();
const percent = (share) => Math.round(share * 100) + "%";
const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");

/** vLLM's load as a probe read it: requests waiting in its queue and KV-cache use. */
function loadText(report) {
  const parts = [];
  if (report.waiting !== null && report.waiting !== undefined) parts.push("queue " + report.waiting);
  if (report.kv_cache_usage !== null && report.kv_cache_usage !== undefined) parts.push("KV cache " + percent(report.kv_cache_usage));
  return parts.join(" · ");
}

const CIRCUIT = {
  closed: ["ok", "closed"],
  half_open: ["warn", "half-open: the next request is a trial"],
  open: ["error", "open"],
};

/** The Health cell: circuit (with failures, cool-down end, requests in flight), last success, and the probe. */
function healthCell(health, probing) {
  if (!health) return h("td", { class: "muted", text: "—" });
  const c = health.circuit;
  const [kind, label] = CIRCUIT[c.state] || ["muted", c.state];
  let circuit = "Circuit " + label;
  if (c.state === "open") circuit += " until " + clock(c.open_until);
  if (c.consecutive_failures > 0) circuit += " (" + plural(c.consecutive_failures, "failure") + " in a row)";
  const lines = [h("span", { class: kind, "data-circuit": c.state, text: circuit })];
  const detail = [];
  if (c.in_flight > 0) detail.push(c.in_flight + " in flight");
  detail.push(c.last_success_at ? "last success " + clock(c.last_success_at) : "no success seen here yet");
  lines.push(h("span", { class: "muted", text: detail.join(" · ") }));
  const p = health.probe;
  if (p) {
    const load = loadText(p);
    lines.push(h("span", { class: p.healthy ? "ok" : "error", "data-probe": p.healthy ? "up" : "down", text: "Probe " + clock(p.checked_at) + ": " + (p.healthy ? "up" : "down") + (load ? " · " + load : "") }));
  } else if (probing.probed) {
    lines.push(h("span", { class: "muted", "data-probe": "none", text: probing.enabled ? "Probe: no report yet" : "Probe off (HEALTH_PROBE)" }));
  }
  return h("td", { class: "health", "data-health": c.state }, h("div", { class: "stack" }, ...lines));
}

/** A connection test's answer: models seen and latency, or the status and error; plus /health and load when read. */
function testResultText(test) {
  const seen = test.health ? " · /health " + (test.health.healthy ? "up" : "down") + (loadText(test.health) ? " · " + loadText(test.health) : "") : "";
  if (test.ok) {
    const shown = test.models.slice(0, 5).join(", ") + (test.models.length > 5 ? " and " + (test.models.length - 5) + " more" : "");
    return h("span", { class: "ok", "data-test": "ok", text: "Connected in " + test.latency_ms + " ms · " + plural(test.models.length, "model") + (shown ? ": " + shown : "") + seen });
  }
  return h("span", { class: "error", role: "alert", "data-test": "failed", text: "Failed after " + test.latency_ms + " ms (" + test.status + (test.code ? " " + test.code : "") + "): " + test.error + seen });
}
`;
