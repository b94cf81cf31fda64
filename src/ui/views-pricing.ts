/**
 * The Providers page's Prices card (plain browser JavaScript): the pricing overrides with a form that creates and
 * edits them (POST / PUT /api/governance/pricing-overrides), and the lookup of the price in force per key for a
 * model next to the catalog's own price. Saving or deleting an override redraws the list and repeats the lookup,
 * so the change in the price in force shows at once.
 */
export const PRICING_VIEWS = String.raw`
const per = (value) => "$" + value + " / 1M";
const perSecond = (value) => (value ? "$" + value + " / s" : "—");

function priceSource(source) {
  if (source.kind === "catalog") return "catalog: " + source.model + " (" + source.catalog + ")";
  return "override '" + source.name + "' (" + source.scope_kind + ", " + source.pattern + (source.matched === "client_model" ? ", by the client's name" : "") + ")";
}

function scopeText(rule) {
  if (rule.scope_kind === "provider") return "provider " + rule.provider;
  if (rule.scope_kind === "provider_key") return "key " + rule.provider + " / " + rule.provider_key_name;
  if (rule.scope_kind === "virtual_key") return "virtual key " + rule.virtual_key_id + (rule.provider ? " on " + rule.provider : "");
  return "all providers";
}

const SCOPE_FIELDS = { global: [], provider: ["po_provider"], provider_key: ["po_provider", "po_key"], virtual_key: ["po_vk", "po_provider"] };

/** The create form (rule undefined) or the edit form of one override. */
function overrideForm(rule, providers, virtualKeys, saved, cancel) {
  const r = rule || { scope_kind: "provider", match_type: "wildcard", pattern: "*" };
  const status = h("div", { id: "override-status", "aria-live": "polite" });
  const option = (value, label, current) => h("option", { value, selected: value === current }, label);
  const scope = h("select", { name: "po_scope", id: "f-po_scope" }, ...[["global", "all providers"], ["provider", "a provider"], ["provider_key", "a provider's key"], ["virtual_key", "a virtual key"]].map(([v, l]) => option(v, l, r.scope_kind)));
  const form = h(
    "form",
    {
      id: "override-form", "aria-label": rule ? "Edit price override " + rule.name : "Create a price override", novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        const v = formValues(form);
        const body = { scope_kind: v.po_scope, match_type: v.po_match, pattern: v.po_pattern.trim() };
        if (v.po_name.trim()) body.name = v.po_name.trim();
        const needs = SCOPE_FIELDS[v.po_scope];
        if (needs.includes("po_provider") && v.po_provider) body.provider = v.po_provider;
        if (needs.includes("po_key") && v.po_key.trim()) body.provider_key_name = v.po_key.trim();
        if (needs.includes("po_vk") && v.po_vk.trim()) body.virtual_key_id = v.po_vk.trim();
        for (const [name, key] of [["po_input", "input_price_per_million"], ["po_output", "output_price_per_million"], ["po_second", "price_per_second"]]) {
          const value = numberOf(form.elements.namedItem(name));
          if (value !== null) body[key] = value;
        }
        status.replaceChildren(message("Saving…"));
        attempt(status, async () => {
          const answer = rule ? await api("PUT", "/api/governance/pricing-overrides/" + encodeURIComponent(rule.id), body) : await api("POST", "/api/governance/pricing-overrides", body);
          await saved(answer.pricing_override);
        });
      },
    },
    h("div", { class: "grid" },
      field("Name (blank = the pattern)", input("po_name", { value: rule ? r.name : "" })),
      field("Applies to", scope),
      field("Provider", h("select", { name: "po_provider", id: "f-po_provider" }, option("", "any", r.provider || ""), ...providers.map((p) => option(p.name, p.name, r.provider || "")))),
      field("Provider key name", input("po_key", { value: r.provider_key_name || "", list: "po-keys" })),
      field("Virtual key id", input("po_vk", { value: r.virtual_key_id || "", list: "po-vks" })),
      field("Match", h("select", { name: "po_match", id: "f-po_match" }, option("wildcard", "prefix (ends with *)", r.match_type), option("exact", "exact name", r.match_type))),
      field("Model pattern", input("po_pattern", { value: r.pattern, required: true, placeholder: "meta-llama/*" })),
      field("Input, $ per 1M tokens", input("po_input", { type: "number", min: "0", step: "any", value: rule ? String(r.input_price_per_million) : "" })),
      field("Output, $ per 1M tokens", input("po_output", { type: "number", min: "0", step: "any", value: rule ? String(r.output_price_per_million) : "" })),
      field("Audio, $ per second", input("po_second", { type: "number", min: "0", step: "any", value: rule && r.price_per_second ? String(r.price_per_second) : "" })),
    ),
    h("datalist", { id: "po-keys" }, ...providers.flatMap((p) => p.keys.map((k) => h("option", { value: k.name, label: p.name })))),
    h("datalist", { id: "po-vks" }, ...virtualKeys.map((k) => h("option", { value: k.id, label: k.name }))),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, rule ? "Save override" : "Add override"), rule ? h("button", { class: "secondary", type: "button", onclick: cancel }, "Cancel") : null),
    status,
  );
  // Only the fields the chosen scope uses are editable.
  const sync = () => { for (const name of ["po_provider", "po_key", "po_vk"]) form.elements.namedItem(name).disabled = !SCOPE_FIELDS[scope.value].includes(name); };
  scope.addEventListener("change", sync);
  sync();
  return form;
}

function overrideTable(rules, edit, remove) {
  if (!rules.length) return h("p", { class: "muted", id: "no-overrides", text: "No overrides: models the catalog knows are priced from it; others have no price." });
  return h("table", { id: "overrides" },
    h("thead", {}, h("tr", {}, ...["Name", "Applies to", "Model", "Input", "Output", "Audio", ""].map((t) => h("th", { text: t })))),
    h("tbody", {}, ...rules.map((rule) => h("tr", { "data-override": rule.name },
      h("td", { class: "wrap", text: rule.name }), h("td", { class: "wrap", text: scopeText(rule) }), h("td", { class: "wrap", text: (rule.match_type === "exact" ? "= " : "") + rule.pattern }),
      h("td", { text: per(rule.input_price_per_million) }), h("td", { text: per(rule.output_price_per_million) }), h("td", { text: perSecond(rule.price_per_second) }),
      h("td", {}, h("div", { class: "actions" },
        h("button", { class: "secondary", type: "button", onclick: () => edit(rule) }, "Edit"),
        h("button", { class: "danger", type: "button", onclick: () => remove(rule) }, "Delete"))),
    ))));
}

function priceTable(answer) {
  const cells = (price) => price ? [per(price.input_price_per_million), per(price.output_price_per_million), perSecond(price.price_per_second)] : null;
  return h("table", {}, h("thead", {}, h("tr", {}, ...["Key", "Served model", "Input", "Output", "Audio", "Source", "Catalog price"].map((t) => h("th", { text: t })))), h("tbody", {}, ...answer.keys.map((k) => {
    const catalog = k.catalog_price ? cells(k.catalog_price).slice(0, 2).join(", ") : "not in the catalog";
    return h("tr", {}, h("td", { text: k.key }), h("td", { class: "wrap", text: k.served_model }),
      ...(k.price
        ? [...cells(k.price).map((text) => h("td", { text })), h("td", { class: "wrap", text: priceSource(k.price.source) })]
        : [h("td", { colspan: "4", class: "error", text: "No price: refused under a dollar budget until priced" })]),
      h("td", { class: "muted", text: catalog }));
  })));
}

/** Overrides (list, create, edit, delete) and the lookup of the price in force, in one card. */
async function pricingCard(providers) {
  const [{ pricing_overrides }, { virtual_keys }] = await Promise.all([api("GET", "/api/governance/pricing-overrides"), api("GET", "/api/governance/virtual-keys?limit=100")]);
  const list = h("div", { id: "price-overrides" });
  const formSlot = h("div");
  const result = h("div", { id: "price-result" });
  let looked = null;
  const lookup = (q) => attempt(result, async () => {
    looked = q;
    result.replaceChildren(priceTable(await api("GET", "/api/governance/pricing-overrides/effective?provider=" + encodeURIComponent(q.provider) + "&model=" + encodeURIComponent(q.model))));
  });
  async function redraw(rules, note) {
    list.replaceChildren(overrideTable(rules, (rule) => drawForm(rule), remove));
    drawForm(undefined, note);
    if (looked) await lookup(looked);
  }
  async function reload(note) {
    await redraw((await api("GET", "/api/governance/pricing-overrides")).pricing_overrides, note);
  }
  function drawForm(rule, note) {
    const form = overrideForm(rule, providers, virtual_keys, (saved) => reload("Saved override " + saved.name + "."), () => drawForm());
    formSlot.replaceChildren(h("h3", { text: rule ? "Edit override " + rule.name : "Add an override" }), form);
    if (note) form.querySelector("#override-status").replaceChildren(message(note, "ok"));
    if (rule) form.querySelector("input").focus();
  }
  function remove(rule) {
    attempt(list, async () => { if (!confirm("Delete price override " + rule.name + "?")) return; await api("DELETE", "/api/governance/pricing-overrides/" + encodeURIComponent(rule.id)); await reload("Deleted override " + rule.name + "."); });
  }
  const lookupForm = h(
    "form",
    { class: "grid", id: "price-lookup", "aria-label": "Look up a model's price", onsubmit: (event) => { event.preventDefault(); lookup(formValues(event.target)); } },
    field("Provider", h("select", { name: "provider", id: "f-price-provider" }, ...providers.map((p) => h("option", { value: p.name, text: p.name })))),
    field("Model", input("model", { required: true, placeholder: "meta-llama/Llama-3.1-8B-Instruct" })),
    h("button", { class: "primary", type: "submit" }, "Show price"),
  );
  await redraw(pricing_overrides);
  return h("section", { class: "card", id: "prices" },
    h("h2", { text: "Prices" }),
    h("p", { class: "muted", text: "Overrides win over the bundled catalog of hosted-model prices; the model sent upstream is what is priced. The most specific scope wins, then an exact name over a prefix." }),
    list, formSlot,
    h("h3", { text: "Price in force" }), lookupForm, result);
}
`;
