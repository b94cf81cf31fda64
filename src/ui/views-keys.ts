/**
 * The dashboard's Virtual keys page (plain browser JavaScript): one form that creates a key (POST) or edits one
 * (PUT, loaded from GET …/{id}) with every field the admin API takes, the key cards with live usage bars, and the
 * API's validation errors shown next to the form. All values go in as text or input values, never as HTML.
 */
export const KEY_VIEWS = String.raw`
const commaList = (text) => String(text || "").split(",").map((s) => s.trim()).filter(Boolean);
const joined = (values) => (values ? values.join(", ") : "");
/** A number input's value, or null when blank. Invalid text stays a string, so the API names the field. */
const numberOf = (el) => (el.value.trim() === "" ? null : Number.isFinite(Number(el.value)) ? Number(el.value) : el.value);

function checkbox(name, label, checked, inRow) {
  return h("label", { class: "check" }, h("input", { type: "checkbox", name, id: inRow ? undefined : "f-" + name, checked: !!checked }), label);
}

function removeButton(what) {
  return h("button", { class: "secondary", type: "button", "aria-label": "Remove " + what, onclick: (e) => e.target.closest("[data-row]").remove() }, "Remove");
}

function providerRow(providers, c) {
  const names = providers.map((p) => p.name);
  if (c.provider && !names.includes(c.provider)) names.push(c.provider);
  return h(
    "div",
    { class: "row", "data-row": "provider" },
    field("Provider", h("select", { name: "pc-provider" }, ...names.map((n) => h("option", { value: n, selected: n === c.provider, text: n })))),
    field("Weight", h("input", { name: "pc-weight", type: "number", step: "any", value: c.weight === null || c.weight === undefined ? "" : String(c.weight) })),
    field("Allowed models", h("input", { name: "pc-models", value: joined(c.allowed_models), placeholder: "all" })),
    field("Provider key ids", h("input", { name: "pc-keys", value: joined(c.key_ids), placeholder: "all" })),
    removeButton("provider " + (c.provider || "")),
  );
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

function hint(text) {
  return h("p", { class: "muted hint", text });
}

const ROW_INPUTS = { provider: "pc-provider", weight: "pc-weight", allowed_models: "pc-models", key_ids: "pc-keys", max_limit: "b-max", reset_duration: "b-reset" };
const TOP_INPUTS = {
  name: "name", description: "description", max_concurrent_requests: "concurrent", allowed_origins: "origins", "response_cache.ttl_seconds": "cache_ttl",
  "rate_limit.request_max_limit": "requests", "rate_limit.request_reset_duration": "requests_reset", "rate_limit.token_max_limit": "tokens", "rate_limit.token_reset_duration": "tokens_reset",
};

/** Marks the inputs an API error names ("provider_configs[0].weight: …", "max_concurrent_requests: …") and focuses the first. */
function markInvalid(form, text) {
  const found = [];
  for (const m of text.matchAll(/(provider_configs|budgets)\[(\d+)\]\.(\w+)/g)) {
    const budgets = m[1] === "budgets";
    const rows = [...form.querySelectorAll('[data-row="' + (budgets ? "budget" : "provider") + '"]')].filter((r) => !budgets || r.querySelector('[name="b-max"]').value.trim() !== "");
    const row = rows[Number(m[2])];
    if (row && ROW_INPUTS[m[3]]) found.push(row.querySelector('[name="' + ROW_INPUTS[m[3]] + '"]'));
  }
  for (const [path, name] of Object.entries(TOP_INPUTS)) if (new RegExp("(^|[ ;:])" + path.replace(".", "\\.") + "(\\[\\d+\\])?:").test(text)) found.push(form.elements.namedItem(name));
  for (const el of found) if (el) { el.setAttribute("aria-invalid", "true"); el.setAttribute("aria-describedby", "key-form-status"); }
  if (found[0]) found[0].focus();
}

/** The request body from the form: every field is sent, so an edit replaces what is stored with what is shown. */
function keyBody(form) {
  const get = (name) => form.elements.namedItem(name);
  const rows = (kind) => [...form.querySelectorAll('[data-row="' + kind + '"]')];
  const provider_configs = rows("provider").map((row) => {
    const q = (n) => row.querySelector('[name="' + n + '"]');
    const config = { provider: q("pc-provider").value, weight: numberOf(q("pc-weight")) };
    if (commaList(q("pc-models").value).length) config.allowed_models = commaList(q("pc-models").value);
    if (commaList(q("pc-keys").value).length) config.key_ids = commaList(q("pc-keys").value);
    return config;
  });
  const budgets = rows("budget")
    .filter((row) => row.querySelector('[name="b-max"]').value.trim() !== "")
    .map((row) => ({ max_limit: numberOf(row.querySelector('[name="b-max"]')), reset_duration: row.querySelector('[name="b-reset"]').value.trim(), calendar_aligned: row.querySelector('[name="b-calendar"]').checked }));
  const requests = numberOf(get("requests")), tokens = numberOf(get("tokens"));
  let rate_limit = null;
  if (requests !== null || tokens !== null) {
    rate_limit = { calendar_aligned: get("rl-calendar").checked };
    if (requests !== null) Object.assign(rate_limit, { request_max_limit: requests, request_reset_duration: get("requests_reset").value.trim() });
    if (tokens !== null) Object.assign(rate_limit, { token_max_limit: tokens, token_reset_duration: get("tokens_reset").value.trim() });
  }
  const ttl = numberOf(get("cache_ttl"));
  return {
    name: get("name").value.trim(),
    description: get("description").value,
    is_active: get("is_active").checked,
    provider_configs,
    budgets,
    rate_limit,
    max_concurrent_requests: numberOf(get("concurrent")),
    allowed_origins: commaList(get("origins").value),
    lower_max_tokens_to_fit: get("lower").checked,
    response_cache: ttl === null ? null : { ttl_seconds: ttl, shared_across_keys: get("cache_shared").checked },
  };
}

/** The create form (vk undefined) or the edit form holding the key's current values. */
function keyForm(providers, vk, onSaved) {
  const editing = !!vk;
  const k = vk || { is_active: true, provider_configs: providers.length ? [{ provider: providers[0].name, weight: 1 }] : [], budgets: [{}] };
  const rl = k.rate_limit || {};
  const status = h("div", { id: "key-form-status", "aria-live": "polite" });
  const providerRows = h("div", { class: "rows" }, ...k.provider_configs.map((c) => providerRow(providers, c)));
  const budgetRows = h("div", { class: "rows" }, ...k.budgets.map(budgetRow));
  const text = (name, label, value, attrs) => field(label, input(name, Object.assign({ value: value === null || value === undefined ? "" : String(value) }, attrs || {})));
  const number = (name, label, value, attrs) => text(name, label, value, Object.assign({ type: "number", step: "any" }, attrs || {}));
  const form = h(
    "form",
    {
      id: editing ? "edit-key" : "create-key", "aria-label": editing ? "Edit virtual key " + vk.name : "Create a virtual key", novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
        status.replaceChildren(message(editing ? "Saving…" : "Creating…"));
        await attempt(status, async () => {
          const body = keyBody(form);
          const answer = editing
            ? await api("PUT", "/api/governance/virtual-keys/" + encodeURIComponent(vk.id), body)
            : await api("POST", "/api/governance/virtual-keys", body);
          await onSaved(answer, editing);
        });
        if (status.querySelector('[role="alert"]')) markInvalid(form, status.textContent);
      },
    },
    h("div", { class: "grid" },
      text("name", "Name", k.name, { required: true, autocomplete: "off" }),
      text("description", "Description", k.description),
      checkbox("is_active", "Active", k.is_active),
    ),
    h("fieldset", {}, h("legend", { text: "Providers (none = the key reaches nothing)" }),
      hint("Weight: share of bare-model-name traffic (blank = reachable only as provider/model). Models and key ids: comma lists, blank = all."), providerRows,
      h("button", { class: "secondary", type: "button", id: "add-provider-config", onclick: () => providerRows.append(providerRow(providers, { weight: 1 })) }, "Add provider")),
    h("fieldset", {}, h("legend", { text: "Budgets (one per reset duration)" }),
      hint("In dollars, sub-cent amounts too (0.005). Durations: 30s, 5m, 1h, 1d, 1w, 1M (month), 1Y."), budgetRows,
      h("button", { class: "secondary", type: "button", id: "add-budget", onclick: () => budgetRows.append(budgetRow({})) }, "Add budget")),
    h("fieldset", {}, h("legend", { text: "Limits (blank = none)" }), h("div", { class: "grid" },
      number("requests", "Requests", rl.request_max_limit, { min: "0", step: "1" }),
      text("requests_reset", "per", rl.request_reset_duration || "1m", { list: "durations" }),
      number("tokens", "Tokens", rl.token_max_limit, { min: "0", step: "1" }),
      text("tokens_reset", "per", rl.token_reset_duration || "1d", { list: "durations" }),
      checkbox("rl-calendar", "calendar-aligned windows", rl.calendar_aligned),
      number("concurrent", "Max concurrent requests", k.max_concurrent_requests, { min: "1", step: "1" }),
      checkbox("lower", "Lower max_tokens to fit", k.lower_max_tokens_to_fit),
    )),
    h("fieldset", {}, h("legend", { text: "Browsers and cache" }), h("div", { class: "grid" },
      text("origins", "Allowed origins (* = any)", joined(k.allowed_origins), { placeholder: "https://app.example.com" }),
      number("cache_ttl", "Cache TTL, seconds (blank = off)", k.response_cache && k.response_cache.ttl_seconds, { min: "1", step: "1" }),
      checkbox("cache_shared", "Share cache across keys", k.response_cache && k.response_cache.shared_across_keys),
    )),
    h("datalist", { id: "durations" }, ...["1m", "1h", "1d", "1w", "1M", "1Y"].map((d) => h("option", { value: d }))),
    h("div", { class: "actions" },
      h("button", { class: "primary", type: "submit" }, editing ? "Save changes" : "Create key"),
      editing ? h("button", { class: "secondary", type: "button", onclick: () => show("keys") }, "Cancel") : null,
    ),
    status,
  );
  return h("section", { class: "card", id: "key-form-card" }, h("h2", { text: editing ? "Edit virtual key " + vk.name : "Create a virtual key" }), form);
}

function usageBar(label, used, max, format) {
  const share = max > 0 ? Math.min(100, (used / max) * 100) : used > 0 ? 100 : 0;
  return h(
    "div",
    { class: "usage", "data-used": String(used) },
    h("span", { class: "muted", text: label + ": " + format(used) + " of " + format(max) }),
    h("div", { class: "bar", role: "meter", "aria-valuemin": "0", "aria-valuemax": String(max), "aria-valuenow": String(used), "aria-label": label }, h("span", { style: "width:" + share.toFixed(1) + "%" })),
  );
}

async function keyCard(vk, edit) {
  const status = h("div");
  const { usage } = await api("GET", "/api/governance/virtual-keys/" + encodeURIComponent(vk.id) + "/usage");
  const bars = [];
  for (const b of (usage && usage.budgets) || []) bars.push(usageBar("Budget (" + b.reset_duration + ")", b.current_usage + b.reserved, b.max_limit, money));
  for (const r of (usage && usage.rate_limits) || []) {
    if (r.requests) bars.push(usageBar("Requests (" + r.requests.reset_duration + ")", r.requests.current_usage, r.requests.max_limit, String));
    if (r.tokens) bars.push(usageBar("Tokens (" + r.tokens.reset_duration + ")", r.tokens.current_usage, r.tokens.max_limit, String));
  }
  const providers = vk.provider_configs.map((c) => c.provider + (c.weight !== null ? " ×" + c.weight : "") + (c.allowed_models ? " (" + c.allowed_models.join(", ") + ")" : "")).join(", ");
  return h(
    "section",
    { class: "card", "data-key": vk.name },
    h("h2", {}, vk.name, h("span", { class: vk.is_active ? "ok" : "error", text: vk.is_active ? "  active" : "  inactive" })),
    vk.description ? h("p", { text: vk.description }) : null,
    h("p", { class: "muted", text: vk.value + " · providers: " + (providers || "none") }),
    ...bars,
    h(
      "div",
      { class: "actions" },
      h("button", { class: "secondary", type: "button", onclick: () => attempt(status, () => edit(vk.id)) }, "Edit"),
      h("button", { class: "secondary", type: "button", onclick: () => attempt(status, async () => { await api("PUT", "/api/governance/virtual-keys/" + encodeURIComponent(vk.id), { is_active: !vk.is_active }); show("keys"); }) }, vk.is_active ? "Deactivate" : "Activate"),
      h("button", { class: "danger", type: "button", onclick: () => attempt(status, async () => { if (!confirm("Delete virtual key " + vk.name + "?")) return; await api("DELETE", "/api/governance/virtual-keys/" + encodeURIComponent(vk.id)); show("keys"); }) }, "Delete"),
    ),
    status,
  );
}

async function renderKeys() {
  const { providers } = await api("GET", "/api/providers");
  /** Redraws the page: the form (create, or edit of one key) above the key cards; 'after' fills the form's status. */
  async function draw(vk, after) {
    const { virtual_keys } = await api("GET", "/api/governance/virtual-keys?limit=100");
    const cards = await Promise.all(virtual_keys.map((key) => keyCard(key, edit)));
    const form = keyForm(providers, vk, saved);
    main.replaceChildren(form, ...cards);
    if (after) document.getElementById("key-form-status").replaceChildren(...after);
    return form;
  }
  async function edit(id) {
    const { virtual_key } = await api("GET", "/api/governance/virtual-keys/" + encodeURIComponent(id));
    const form = await draw(virtual_key);
    form.scrollIntoView();
    document.getElementById("f-name").focus();
  }
  async function saved(answer, editing) {
    const key = answer.virtual_key;
    const warnings = (answer.warnings || []).map((w) => message(w, "error"));
    if (editing) return void (await draw(key, [h("p", { class: "ok", role: "status", text: "Saved " + key.name + "." }), ...warnings]));
    await draw(undefined, [
      h("p", { text: "Key " + key.name + " created. Copy it now — it will not be shown again:" }),
      h("output", { class: "secret", id: "new-key-value", text: key.value }),
      ...warnings,
    ]);
  }
  const { virtual_keys } = await api("GET", "/api/governance/virtual-keys?limit=100");
  return [keyForm(providers, undefined, saved), ...(await Promise.all(virtual_keys.map((key) => keyCard(key, edit))))];
}
`;
