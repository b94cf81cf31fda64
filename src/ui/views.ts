/**
 * The dashboard's overview charts (plain browser JavaScript); logs are in views-logs.ts, providers in views-config.ts
 * (with views-provider-edit.ts, views-health.ts and views-pricing.ts), virtual keys in views-keys.ts, teams and
 * customers in views-teams.ts (both with the budget and limit inputs of views-limits-form.ts and the usage bars of
 * views-quota.ts, and paged with views-list.ts), usage in views-usage.ts.
 */
import { CONFIG_VIEWS } from "./views-config";
import { HEALTH_VIEWS } from "./views-health";
import { KEY_VIEWS } from "./views-keys";
import { LIMITS_FORM_VIEWS } from "./views-limits-form";
import { LIST_VIEWS } from "./views-list";
import { LOG_VIEWS } from "./views-logs";
import { PRICING_VIEWS } from "./views-pricing";
import { PROVIDER_EDIT_VIEWS } from "./views-provider-edit";
import { QUOTA_VIEWS } from "./views-quota";
import { TEAM_VIEWS } from "./views-teams";
import { USAGE_VIEWS } from "./views-usage";

const READ_VIEWS = String.raw`
/**
 * A small SVG line chart of one series over the summary's time range, each bucket at its time: counts are zero where
 * no request came; an average has no value there, so it is drawn (with a dot per bucket) only where it has one.
 */
function chart(title, summary, value, format, weight) {
  const width = 480, height = 140, pad = 24;
  const bucketMs = summary.bucket_seconds * 1000, span = Math.max(1, summary.to - summary.from);
  const byStart = new Map(summary.buckets.map((b) => [Number(b.bucket), b]));
  const series = [];
  for (let start = Math.floor(summary.from / bucketMs) * bucketMs; start < summary.to; start += bucketMs) {
    const bucket = byStart.get(start);
    if (weight ? bucket && Number(weight(bucket)) > 0 : true) series.push({ at: Math.max(start, summary.from), value: bucket ? Number(value(bucket) || 0) : 0 });
  }
  const max = Math.max(1e-9, ...series.map((p) => p.value));
  const xy = (p) => [pad + ((p.at - summary.from) / span) * (width - 2 * pad), height - pad - (p.value / max) * (height - 2 * pad)].map((n) => n.toFixed(1));
  // Counts add up over the period; averages are weighted by how many requests each bucket's average covers.
  const values = summary.buckets.map((b) => Number(value(b) || 0));
  const weights = weight ? summary.buckets.map((b) => Number(weight(b) || 0)) : null;
  const weightSum = weights ? weights.reduce((sum, w) => sum + w, 0) : 0;
  const total = weights ? (weightSum ? values.reduce((sum, v, i) => sum + v * weights[i], 0) / weightSum : 0) : values.reduce((sum, v) => sum + v, 0);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title + ": " + (weights && !weightSum ? "no requests" : format(total) + (weights ? " on average" : " over the period")));
  const dots = weights ? series.map((p) => '<circle r="2.5" fill="#2457c5" cx="' + xy(p)[0] + '" cy="' + xy(p)[1] + '"/>').join("") : "";
  svg.innerHTML =
    '<line x1="' + pad + '" y1="' + (height - pad) + '" x2="' + (width - pad) + '" y2="' + (height - pad) + '" stroke="#d8dce3"/>' +
    (series.length > 1 ? '<polyline fill="none" stroke="#2457c5" stroke-width="2" points="' + series.map((p) => xy(p).join(",")).join(" ") + '"/>' : "") +
    dots +
    '<text x="' + pad + '" y="14" font-size="12" fill="#5b6270">max ' + format(max) + "</text>";
  // An average over no requests has no value: a dash, not "0 ms".
  const shown = weights && !weightSum ? "\u2014" : format(total);
  return h("section", { class: "card chart" }, h("h2", {}, title, h("span", { class: "muted", text: "  " + shown })), svg);
}

async function renderOverview() {
  const summary = await api("GET", "/api/logs/summary");
  const count = (n) => String(Math.round(n));
  return [
    h("p", { class: "muted", text: "Last 24 hours, " + Math.round(summary.bucket_seconds / 60) + "-minute buckets." }),
    h(
      "div",
      { class: "charts" },
      chart("Requests", summary, (x) => x.requests, count),
      chart("Errors", summary, (x) => x.errors, count),
      chart("Tokens", summary, (x) => Number(x.prompt_tokens) + Number(x.completion_tokens), count),
      chart("Cost", summary, (x) => x.cost, money),
      chart("Average latency", summary, (x) => x.avg_latency_ms, (v) => Math.round(v) + " ms", (x) => x.requests),
      chart("Average time to first token", summary, (x) => x.avg_ttft_ms, (v) => Math.round(v) + " ms", (x) => x.streams),
    ),
  ];
}
`;

export const DASHBOARD_VIEWS = [READ_VIEWS, LOG_VIEWS, CONFIG_VIEWS, PROVIDER_EDIT_VIEWS, HEALTH_VIEWS, PRICING_VIEWS, LIMITS_FORM_VIEWS, QUOTA_VIEWS, LIST_VIEWS, KEY_VIEWS, TEAM_VIEWS, USAGE_VIEWS, "const RENDER = { overview: renderOverview, providers: renderProviders, keys: renderKeys, teams: renderTeams, logs: renderLogs, usage: renderUsage };"].join("\n");
