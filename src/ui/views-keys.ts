/**
 * The dashboard's Virtual keys page (plain browser JavaScript): one form that creates a key (POST) or edits one
 * (PUT, loaded from GET …/{id}) with every field the admin API takes, the key cards with live usage bars — the
 * key's own, and its team's and customer's beside them —, and the API's validation errors shown next to the form.
 * Budget and limit inputs are shared with the Teams page (views-limits-form.ts). All values go in as text or input
 * values, never as HTML.
 */
export const KEY_VIEWS = String.raw`
const commaList = (text) => String(text || "").split(",").map((s) => s.trim()).filter(Boolean);
const joined = (values) => (values ? values.join(", ") : "");

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

/**
 * The select's options: none, the current choice when the lists lack it (labelled as it was), then teams (with their
 * customer's name when 'known' has it) and customers.
 */
function groupOptions(groups, current, currentLabel, known = []) {
  const customerName = new Map([...known, ...groups.customers].map((c) => [c.id, c.name]));
  const option = (kind, g, text) => h("option", { value: kind + ":" + g.id, selected: current === kind + ":" + g.id, text });
  const teams = groups.teams.map((t) => option("team", t, t.name + (t.customer_id ? " (" + (customerName.get(t.customer_id) || t.customer_id) + ")" : "")));
  const listed = groups.teams.some((t) => "team:" + t.id === current) || groups.customers.some((c) => "customer:" + c.id === current);
  return [
    h("option", { value: "", text: "none" }),
    current && !listed ? h("option", { value: current, selected: true, text: currentLabel || current }) : null,
    teams.length ? h("optgroup", { label: "Teams" }, ...teams) : null,
    groups.customers.length ? h("optgroup", { label: "Customers" }, ...groups.customers.map((c) => option("customer", c, c.name))) : null,
  ];
}

/**
 * The key's team or customer as one select, so a key never names both. Options are "team:<id>" or "customer:<id>":
 * the first 100 of each kind and, when there are more, a name search that fills the select with the matches.
 */
function groupSelect(groups, k) {
  const current = k.team_id ? "team:" + k.team_id : k.customer_id ? "customer:" + k.customer_id : "";
  const select = h("select", { name: "group", id: "f-group" }, ...groupOptions(groups, current));
  if (!groups.more) return field("Team or customer", select);
  const found = h("span", { class: "muted", id: "f-group-found", role: "status" });
  let timer;
  const find = async () => {
    const search = finder.value.trim();
    const chosen = select.selectedOptions[0];
    let shown = groups;
    let extra = [];
    if (search) {
      const query = "?limit=100&search=" + encodeURIComponent(search);
      const [teamPage, customerPage] = await Promise.all([api("GET", "/api/governance/teams" + query), api("GET", "/api/governance/customers" + query)]);
      shown = { teams: teamPage.teams, customers: customerPage.customers };
      // The customers of found teams that neither list holds, read on their own (a few at most) to name them.
      const known = new Set([...groups.customers, ...shown.customers].map((c) => c.id));
      const missing = [...new Set(shown.teams.map((t) => t.customer_id).filter((id) => id && !known.has(id)))].slice(0, 20);
      const named = await Promise.all(missing.map((id) => api("GET", "/api/governance/customers/" + encodeURIComponent(id)).then((answer) => answer.customer, () => null)));
      extra = named.filter(Boolean);
      found.textContent = teamPage.total_count + customerPage.total_count + " found" + (teamPage.total_count > 100 || customerPage.total_count > 100 ? " (the first 100 of each kind shown)" : "");
    } else found.textContent = "";
    select.replaceChildren(...groupOptions(shown, select.value, chosen && chosen.text, [...groups.customers, ...extra]));
  };
  const later = (ms) => { clearTimeout(timer); timer = setTimeout(() => attempt(found, find), ms); };
  const finder = h("input", {
    type: "search", id: "f-group-find", placeholder: "find by name", "aria-label": "Find a team or customer by name", autocomplete: "off",
    oninput: () => later(250),
    // Enter searches now instead of submitting the key form.
    onkeydown: (event) => { if (event.key === "Enter") { event.preventDefault(); later(0); } },
  });
  return field("Team or customer", h("span", { class: "group-picker" }, finder, select, found));
}

/** The request body from the form: every field is sent, so an edit replaces what is stored with what is shown. */
function keyBody(form) {
  const get = (name) => form.elements.namedItem(name);
  const provider_configs = [...form.querySelectorAll('[data-row="provider"]')].map((row) => {
    const q = (n) => row.querySelector('[name="' + n + '"]');
    const config = { provider: q("pc-provider").value, weight: numberOf(q("pc-weight")) };
    if (commaList(q("pc-models").value).length) config.allowed_models = commaList(q("pc-models").value);
    if (commaList(q("pc-keys").value).length) config.key_ids = commaList(q("pc-keys").value);
    return config;
  });
  const group = get("group").value, groupId = group.slice(group.indexOf(":") + 1);
  const ttl = numberOf(get("cache_ttl"));
  return {
    name: get("name").value.trim(),
    description: get("description").value,
    is_active: get("is_active").checked,
    team_id: group.startsWith("team:") ? groupId : null,
    customer_id: group.startsWith("customer:") ? groupId : null,
    provider_configs,
    budgets: budgetsBody(form),
    rate_limit: rateLimitBody(form),
    max_concurrent_requests: numberOf(get("concurrent")),
    lease_share: numberOf(get("lease_share")),
    allowed_origins: commaList(get("origins").value),
    lower_max_tokens_to_fit: get("lower").checked,
    response_cache: ttl === null ? null : { ttl_seconds: ttl, shared_across_keys: get("cache_shared").checked },
  };
}

/** The create form (vk undefined) or the edit form holding the key's current values. */
function keyForm(providers, groups, vk, onSaved) {
  const editing = !!vk;
  const k = vk || { is_active: true, provider_configs: providers.length ? [{ provider: providers[0].name, weight: 1 }] : [], budgets: [] };
  const status = h("div", { id: "key-form-status", "aria-live": "polite" });
  const providerRows = h("div", { class: "rows" }, ...k.provider_configs.map((c) => providerRow(providers, c)));
  const form = h(
    "form",
    {
      id: editing ? "edit-key" : "create-key", "aria-label": editing ? "Edit virtual key " + vk.name : "Create a virtual key", novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        return submitLimitsForm(form, status, "key-form-status", editing ? "Saving…" : "Creating…", async () => {
          const body = keyBody(form);
          const answer = editing
            ? await api("PUT", "/api/governance/virtual-keys/" + encodeURIComponent(vk.id), body)
            : await api("POST", "/api/governance/virtual-keys", body);
          await onSaved(answer, editing);
        });
      },
    },
    h("div", { class: "grid" },
      textField("name", "Name", k.name, { required: true, autocomplete: "off" }),
      textField("description", "Description", k.description),
      groupSelect(groups, k),
      checkbox("is_active", "Active", k.is_active),
    ),
    h("fieldset", {}, h("legend", { text: "Providers (none = the key reaches nothing)" }),
      hint("Weight: share of bare-model-name traffic (blank = reachable only as provider/model). Models and key ids: comma lists, blank = all."), providerRows,
      h("button", { class: "secondary", type: "button", id: "add-provider-config", onclick: () => providerRows.append(providerRow(providers, { weight: 1 })) }, "Add provider")),
    budgetsFieldset(k.budgets),
    h("fieldset", {}, h("legend", { text: "Limits (blank = none)" }), h("div", { class: "grid" },
      ...rateLimitFields(k.rate_limit || {}),
      numberField("concurrent", "Max concurrent requests", k.max_concurrent_requests, { min: "1", step: "1" }),
      checkbox("lower", "Lower max_tokens to fit", k.lower_max_tokens_to_fit),
      leaseShareField(k.lease_share),
    )),
    h("fieldset", {}, h("legend", { text: "Browsers and cache" }), h("div", { class: "grid" },
      textField("origins", "Allowed origins (* = any)", joined(k.allowed_origins), { placeholder: "https://app.example.com" }),
      numberField("cache_ttl", "Cache TTL, seconds (blank = off)", k.response_cache && k.response_cache.ttl_seconds, { min: "1", step: "1" }),
      checkbox("cache_shared", "Share cache across keys", k.response_cache && k.response_cache.shared_across_keys),
    )),
    durationList(),
    h("div", { class: "actions" },
      h("button", { class: "primary", type: "submit" }, editing ? "Save changes" : "Create key"),
      editing ? h("button", { class: "secondary", type: "button", onclick: () => show("keys") }, "Cancel") : null,
    ),
    status,
  );
  return h("section", { class: "card", id: "key-form-card" }, h("h2", { text: editing ? "Edit virtual key " + vk.name : "Create a virtual key" }), form);
}

/** The key's own usage, and beside it its team's and customer's: a request must fit every level. */
async function keyUsage(vk) {
  const { usage, team, customer } = await api("GET", "/api/governance/virtual-keys/" + encodeURIComponent(vk.id) + "/usage");
  if (!team && !customer) return quotaBars(usage);
  return [h("div", { class: "levels" },
    levelUsage("key", "This key", usage),
    team ? levelUsage("team", "Team " + team.name, team.usage) : null,
    customer ? levelUsage("customer", "Customer " + customer.name, customer.usage) : null)];
}

async function keyCard(vk, edit) {
  const status = h("div");
  const usage = await keyUsage(vk);
  const providers = vk.provider_configs.map((c) => c.provider + (c.weight !== null ? " ×" + c.weight : "") + (c.allowed_models ? " (" + c.allowed_models.join(", ") + ")" : "")).join(", ");
  return h(
    "section",
    { class: "card", "data-key": vk.name },
    h("h2", {}, vk.name, h("span", { class: vk.is_active ? "ok" : "error", text: vk.is_active ? "  active" : "  inactive" })),
    vk.description ? h("p", { text: vk.description }) : null,
    h("p", { class: "muted", text: vk.value + " · providers: " + (providers || "none") }),
    ...usage,
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
  const [{ providers }, teamPage, customerPage] = await Promise.all([
    api("GET", "/api/providers"), api("GET", "/api/governance/teams?limit=100"), api("GET", "/api/governance/customers?limit=100"),
  ]);
  const { teams, customers } = { teams: teamPage.teams, customers: customerPage.customers };
  // Past 100 of either kind, the key form's select gets a name search (groupSelect).
  const groups = { teams, customers, more: teamPage.total_count > teams.length || customerPage.total_count > customers.length };
  /** Redraws the page: the form (create, or edit of one key) above the key cards; 'after' fills the form's status. */
  async function draw(vk, after) {
    const list = await keyList(edit);
    const form = keyForm(providers, groups, vk, saved);
    main.replaceChildren(form, list);
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
  return [keyForm(providers, groups, undefined, saved), await keyList(edit)];
}

/** The key cards of the page the list is at, under its heading, search and pager; a new page redraws only the list. */
async function keyList(edit) {
  const box = h("div", { id: "key-list" });
  const fill = async () => {
    const page = await listPage("keys", "/api/governance/virtual-keys", "virtual_keys");
    const cards = await Promise.all(page.items.map((key) => keyCard(key, edit)));
    box.replaceChildren(...listHead("keys", "Virtual keys", page, () => attempt(box, fill)), ...(cards.length ? cards : [message(emptyList("keys"))]));
  };
  await fill();
  return box;
}
`;
