/**
 * Live usage bars (plain browser JavaScript) for one level's quota report — a virtual key's, a team's or a
 * customer's, as `GET …/usage` answers it: each budget and request or token window as used of max, what running
 * requests have reserved on top, and when the window resets.
 */
export const QUOTA_VIEWS = String.raw`
/** "in 2d 3h", "in 4h 10m", "in 7m": whole minutes left until an ISO instant, the largest two units. */
function resetsIn(iso) {
  const minutes = Math.floor((new Date(iso).getTime() - Date.now()) / 60000);
  if (!(minutes > 0)) return "within a minute";
  const days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), rest = minutes % 60;
  if (days) return "in " + days + "d" + (hours ? " " + hours + "h" : "");
  return "in " + (hours ? hours + "h" + (rest ? " " + rest + "m" : "") : rest + "m");
}

/** One window: used (solid) and reserved (light) as shares of the maximum. */
function usageBar(label, w, format) {
  const used = Number(w.current_usage), reserved = Number(w.reserved || 0), max = Number(w.max_limit);
  const share = (v) => (max > 0 ? Math.min(100, (v / max) * 100) : v > 0 ? 100 : 0);
  const usedShare = share(used), reservedShare = Math.min(100 - usedShare, share(reserved));
  // A sliver of a large budget still shows as spent: at least 2px once anything is used.
  const width = (v, pct) => "width:" + (v > 0 ? "max(2px, " + pct.toFixed(1) + "%)" : "0");
  const text = label + ": " + format(used) + " of " + format(max) + (reserved > 0 ? " · " + format(reserved) + " reserved" : "");
  return h(
    "div",
    { class: "usage", "data-label": label, "data-used": String(used), "data-reserved": String(reserved), "data-max": String(max) },
    h("div", { class: "usage-text" },
      h("span", { text }),
      w.resets_at ? h("span", { class: "muted resets", title: new Date(w.resets_at).toLocaleString(), text: "resets " + resetsIn(w.resets_at) }) : null),
    h("div", { class: "bar", role: "meter", "aria-valuemin": "0", "aria-valuemax": String(max), "aria-valuenow": String(used), "aria-valuetext": text, "aria-label": label },
      h("span", { style: width(used, usedShare) }),
      reservedShare > 0 ? h("span", { class: "reserved", style: width(reserved, reservedShare) }) : null),
  );
}

/** Every budget and window of a quota report, budgets first. */
function quotaBars(report) {
  const bars = [];
  for (const b of (report && report.budgets) || []) bars.push(usageBar("Budget (" + b.reset_duration + ")", b, money));
  for (const r of (report && report.rate_limits) || []) {
    if (r.requests) bars.push(usageBar("Requests (" + r.requests.reset_duration + ")", r.requests, String));
    if (r.tokens) bars.push(usageBar("Tokens (" + r.tokens.reset_duration + ")", r.tokens, String));
  }
  return bars;
}

/** One level's bars under its title, saying so when it has no limits. */
function levelUsage(kind, title, report) {
  const bars = quotaBars(report);
  const leases = report && report.leases && report.leases.count > 0 ? report.leases : null;
  return h("div", { class: "level", "data-level": kind },
    title ? h("h3", { text: title }) : null,
    ...(bars.length ? bars : [h("p", { class: "muted", text: "No budget or limit." })]),
    leases ? h("p", { class: "muted hint", text: plural(leases.count, "lease") + " held by isolates (up to " + Math.round(leases.share * 100) + "% of each limit)" }) : null);
}
`;
