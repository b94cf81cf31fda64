/**
 * Form pieces the Virtual keys and Teams pages share (plain browser JavaScript): budget rows, the request and token
 * limit inputs, the request body parts they make, and marking the inputs an API error names. Both forms use the same
 * input names, so one map from the API's field paths to inputs serves them.
 */
export const LIMITS_FORM_VIEWS = String.raw`
/** A number input's value, or null when blank. Invalid text stays a string, so the API names the field. */
const numberOf = (el) => (el.value.trim() === "" ? null : Number.isFinite(Number(el.value)) ? Number(el.value) : el.value);
const valueText = (value) => (value === null || value === undefined ? "" : String(value));

function checkbox(name, label, checked, inRow) {
  return h("label", { class: "check" }, h("input", { type: "checkbox", name, id: inRow ? undefined : "f-" + name, checked: !!checked }), label);
}

function textField(name, label, value, attrs) {
  return field(label, input(name, Object.assign({ value: valueText(value) }, attrs || {})));
}

function numberField(name, label, value, attrs) {
  return textField(name, label, value, Object.assign({ type: "number", step: "any" }, attrs || {}));
}

function removeButton(what) {
  return h("button", { class: "secondary", type: "button", "aria-label": "Remove " + what, onclick: (e) => e.target.closest("[data-row]").remove() }, "Remove");
}

function hint(text) {
  return h("p", { class: "muted hint", text });
}

function budgetRow(b) {
  return h(
    "div",
    { class: "row", "data-row": "budget" },
    field("Budget, USD", h("input", { name: "b-max", type: "number", min: "0", step: "any", value: b.max_limit === undefined ? "" : String(b.max_limit), placeholder: "none" })),
    field("Resets every", h("input", { name: "b-reset", value: b.reset_duration || "1M", list: "durations" })),
    checkbox("b-calendar", "calendar-aligned", b.calendar_aligned, true),
    removeButton("budget"),
  );
}

/** The budgets fieldset: rows for what is stored (or one empty row) and a button that adds one. */
function budgetsFieldset(budgets) {
  const rows = h("div", { class: "rows" }, ...(budgets.length ? budgets : [{}]).map(budgetRow));
  return h("fieldset", {}, h("legend", { text: "Budgets (one per reset duration)" }),
    hint("In dollars, sub-cent amounts too (0.005). Durations: 30s, 5m, 1h, 1d, 1w, 1M (month), 1Y."), rows,
    h("button", { class: "secondary", type: "button", id: "add-budget", onclick: () => rows.append(budgetRow({})) }, "Add budget"));
}

function rateLimitFields(rl) {
  return [
    numberField("requests", "Requests", rl.request_max_limit, { min: "0", step: "1" }),
    textField("requests_reset", "per", rl.request_reset_duration || "1m", { list: "durations" }),
    numberField("tokens", "Tokens", rl.token_max_limit, { min: "0", step: "1" }),
    textField("tokens_reset", "per", rl.token_reset_duration || "1d", { list: "durations" }),
    checkbox("rl-calendar", "calendar-aligned windows", rl.calendar_aligned),
  ];
}

function durationList() {
  return h("datalist", { id: "durations" }, ...["1m", "1h", "1d", "1w", "1M", "1Y"].map((d) => h("option", { value: d })));
}

/** The share of each limit isolates may lease: blank means the gateway's LEASE_SHARE. */
function leaseShareField(value) {
  return numberField("lease_share", "Lease share (0–0.5)", value, { min: "0", max: "0.5", step: "any", placeholder: "gateway default" });
}

/** Budget rows with an amount, in order: row i is budgets[i] in the body and in the API's errors. */
const filledBudgetRows = (form) => [...form.querySelectorAll('[data-row="budget"]')].filter((row) => row.querySelector('[name="b-max"]').value.trim() !== "");

function budgetsBody(form) {
  return filledBudgetRows(form).map((row) => ({ max_limit: numberOf(row.querySelector('[name="b-max"]')), reset_duration: row.querySelector('[name="b-reset"]').value.trim(), calendar_aligned: row.querySelector('[name="b-calendar"]').checked }));
}

/** The rate limit the inputs hold, or null when both are blank (which removes a stored one). */
function rateLimitBody(form) {
  const get = (name) => form.elements.namedItem(name);
  const requests = numberOf(get("requests")), tokens = numberOf(get("tokens"));
  if (requests === null && tokens === null) return null;
  const rate_limit = { calendar_aligned: get("rl-calendar").checked };
  if (requests !== null) Object.assign(rate_limit, { request_max_limit: requests, request_reset_duration: get("requests_reset").value.trim() });
  if (tokens !== null) Object.assign(rate_limit, { token_max_limit: tokens, token_reset_duration: get("tokens_reset").value.trim() });
  return rate_limit;
}

const ROW_INPUTS = { provider: "pc-provider", weight: "pc-weight", allowed_models: "pc-models", key_ids: "pc-keys", max_limit: "b-max", reset_duration: "b-reset" };
/** API field path → input names (the first the form has is marked). */
const TOP_INPUTS = {
  name: "name", description: "description", max_concurrent_requests: "concurrent", allowed_origins: "origins", "response_cache.ttl_seconds": "cache_ttl",
  "rate_limit.request_max_limit": "requests", "rate_limit.request_reset_duration": "requests_reset", "rate_limit.token_max_limit": "tokens", "rate_limit.token_reset_duration": "tokens_reset",
  lease_share: "lease_share", team_id: "group", customer_id: "customer group",
};

/**
 * Marks the inputs an API error names — in its message ("provider_configs[0].weight: …") or its param (a dangling
 * "customer_id" is named only there) — points them at the status that explains them, and focuses the first.
 */
function markInvalid(form, error, statusId) {
  const text = error.message + (error.param ? " " + error.param + ":" : "");
  const found = [];
  for (const m of text.matchAll(/(provider_configs|budgets)\[(\d+)\]\.(\w+)/g)) {
    const row = (m[1] === "budgets" ? filledBudgetRows(form) : [...form.querySelectorAll('[data-row="provider"]')])[Number(m[2])];
    if (row && ROW_INPUTS[m[3]]) found.push(row.querySelector('[name="' + ROW_INPUTS[m[3]] + '"]'));
  }
  for (const [path, names] of Object.entries(TOP_INPUTS)) {
    if (!new RegExp("(^|[ ;:])" + path.replace(".", "\\.") + "(\\[\\d+\\])?:").test(text)) continue;
    found.push(names.split(" ").map((n) => form.elements.namedItem(n)).find(Boolean));
  }
  for (const el of found) if (el) { el.setAttribute("aria-invalid", "true"); el.setAttribute("aria-describedby", statusId); }
  const first = found.find(Boolean);
  if (first) first.focus();
}

/** Submits a form's body: clears old marks, shows progress, and on failure shows the message and marks the inputs. */
async function submitLimitsForm(form, status, statusId, progress, send) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  status.replaceChildren(message(progress));
  const failure = await attempt(status, send);
  if (failure) markInvalid(form, failure, statusId);
}
`;
