/** The dashboard's providers view (plain browser JavaScript). */
export const CONFIG_VIEWS = String.raw`
const SELF_HOSTED = ["vllm", "ollama", "sgl"];

/** An inline form that edits a key's origin URL, models, weight and secret (PUT …/keys/{id}; other fields keep their values). */
function keyEditor(provider, key, where) {
  const url = key.vllm_key_config && key.vllm_key_config.url;
  const form = h(
    "form",
    {
      class: "grid", "aria-label": "Edit key " + key.name,
      onsubmit: (event) => {
        event.preventDefault();
        const v = formValues(event.target);
        const models = v.models.split(",").map((m) => m.trim()).filter(Boolean);
        const patch = { weight: Number(v.weight), models: models.length ? models : ["*"] };
        if (v.url) patch.vllm_key_config = Object.assign({}, key.vllm_key_config, { url: v.url });
        // A stored secret never follows its key to a new origin on its own: it is re-entered here (or env.NAME).
        if (v.secret) patch.value = v.secret;
        attempt(where, async () => { await api("PUT", "/api/providers/" + encodeURIComponent(provider) + "/keys/" + encodeURIComponent(key.id), patch); show("providers"); });
      },
    },
    url !== undefined ? field("Origin URL", input("url", { type: "url", value: url })) : null,
    field("Models (comma-separated; blank = all)", input("models", { value: key.models && !key.models.includes("*") ? key.models.join(", ") : "" })),
    field("Weight", input("weight", { type: "number", min: "0", step: "any", value: String(key.weight) })),
    field("Secret (blank = keep; re-enter when the origin changes)", input("secret", { type: "password", autocomplete: "off", placeholder: key.value || "none" })),
    h("button", { class: "primary", type: "submit" }, "Save"),
  );
  where.replaceChildren(form);
  form.querySelector("input").focus();
}

function keyRow(provider, key, baseUrl) {
  const result = h("span", { class: "muted" });
  const url = (key.vllm_key_config && key.vllm_key_config.url) || baseUrl || "—";
  return h(
    "tr",
    {},
    h("td", { text: key.name }),
    h("td", { text: url }),
    h("td", { text: key.models ? key.models.join(", ") : "all" }),
    h("td", { text: key.value || "(none)" }),
    h("td", { text: String(key.weight) }),
    h("td", { text: key.enabled ? "enabled" : "disabled" }),
    h(
      "td",
      {},
      h(
        "div",
        { class: "actions" },
        h("button", {
          class: "secondary", type: "button",
          onclick: () => attempt(result, async () => {
            result.replaceChildren("Testing…");
            const test = await api("POST", "/api/providers/" + encodeURIComponent(provider) + "/keys/" + encodeURIComponent(key.id) + "/test");
            result.replaceChildren(test.ok ? h("span", { class: "ok", text: "OK (" + test.latency_ms + " ms): " + test.models.join(", ") }) : h("span", { class: "error", text: test.error }));
          }),
        }, "Test connection"),
        h("button", { class: "secondary", type: "button", onclick: () => keyEditor(provider, key, result) }, "Edit"),
        h("button", { class: "secondary", type: "button", onclick: () => attempt(result, async () => { await api("PUT", "/api/providers/" + encodeURIComponent(provider) + "/keys/" + encodeURIComponent(key.id), { enabled: !key.enabled }); show("providers"); }) }, key.enabled ? "Disable" : "Enable"),
        h("button", { class: "danger", type: "button", onclick: () => attempt(result, async () => { if (!confirm("Delete key " + key.name + "?")) return; await api("DELETE", "/api/providers/" + encodeURIComponent(provider) + "/keys/" + encodeURIComponent(key.id)); show("providers"); }) }, "Delete"),
      ),
      result,
    ),
  );
}

function providerCard(p) {
  const status = h("div");
  const base = p.network_config && p.network_config.base_url;
  return h(
    "section",
    { class: "card", "data-provider": p.name },
    h("h2", {}, p.name, p.custom_provider_config ? h("span", { class: "muted", text: "  custom (OpenAI-compatible)" }) : null),
    base ? h("p", { class: "muted", text: "Base URL: " + base }) : null,
    h("table", {}, h("thead", {}, h("tr", {}, ...["Key", "Origin", "Models", "Secret", "Weight", "State", ""].map((t) => h("th", { text: t })))), h("tbody", {}, ...p.keys.map((k) => keyRow(p.name, k, base)))),
    h("p", {}, h("button", { class: "danger", type: "button", onclick: () => attempt(status, async () => { if (!confirm("Delete provider " + p.name + "?")) return; await api("DELETE", "/api/providers/" + encodeURIComponent(p.name)); show("providers"); }) }, "Delete provider")),
    status,
  );
}

/** Adds a key to an existing provider, or creates the provider: self-hosted names take the URL per key, others are custom OpenAI-compatible providers. */
async function addProviderKey(values, existing) {
  const models = values.models.split(",").map((m) => m.trim()).filter(Boolean);
  const key = { name: values.key_name || values.provider + "-key", value: values.key_value || "" };
  if (models.length) key.models = models;
  const selfHosted = SELF_HOSTED.includes(values.provider);
  if (selfHosted) key.vllm_key_config = { url: values.url };
  if (existing.includes(values.provider)) return api("POST", "/api/providers/" + encodeURIComponent(values.provider) + "/keys", key);
  const body = { provider: values.provider, keys: [key] };
  if (!selfHosted) Object.assign(body, { network_config: { base_url: values.url }, custom_provider_config: { base_provider_type: "openai" } });
  return api("POST", "/api/providers", body);
}

function priceSource(source) {
  if (source.kind === "catalog") return "catalog: " + source.model + " (" + source.catalog + ")";
  return "override '" + source.name + "' (" + source.scope_kind + ", " + source.pattern + (source.matched === "client_model" ? ", by the client's name" : "") + ")";
}

/** Looks up the price in force for a model on each key that serves it, and where that price comes from. */
function pricingCard(providers) {
  const result = h("div", { id: "price-result" });
  const form = h(
    "form",
    {
      class: "grid", id: "price-lookup", "aria-label": "Look up a model's price",
      onsubmit: (event) => {
        event.preventDefault();
        const v = formValues(event.target);
        attempt(result, async () => {
          const answer = await api("GET", "/api/governance/pricing-overrides/effective?provider=" + encodeURIComponent(v.provider) + "&model=" + encodeURIComponent(v.model));
          const per = (value) => "$" + value + " / 1M";
          result.replaceChildren(h("table", {}, h("thead", {}, h("tr", {}, ...["Key", "Served model", "Input", "Output", "Audio", "Source"].map((t) => h("th", { text: t })))), h("tbody", {}, ...answer.keys.map((k) =>
            h("tr", {}, h("td", { text: k.key }), h("td", { text: k.served_model }),
              ...(k.price
                ? [h("td", { text: per(k.price.input_price_per_million) }), h("td", { text: per(k.price.output_price_per_million) }), h("td", { text: k.price.price_per_second ? "$" + k.price.price_per_second + " / s" : "—" }), h("td", { text: priceSource(k.price.source) })]
                : [h("td", { colspan: "4", class: "error", text: "No price: refused under a dollar budget until priced" })]),
            )))));
        });
      },
    },
    field("Provider", h("select", { name: "provider", id: "f-price-provider" }, ...providers.map((p) => h("option", { value: p.name, text: p.name })))),
    field("Model", input("model", { required: true, placeholder: "meta-llama/Llama-3.1-8B-Instruct" })),
    h("button", { class: "primary", type: "submit" }, "Show price"),
  );
  return h("section", { class: "card" }, h("h2", { text: "Prices" }), h("p", { class: "muted", text: "Overrides win over the bundled catalog of hosted-model prices; the model sent upstream is what is priced." }), form, result);
}

async function renderProviders() {
  const { providers } = await api("GET", "/api/providers");
  const status = h("div");
  const form = h(
    "form",
    {
      class: "grid", id: "add-provider", "aria-label": "Add a provider or key",
      onsubmit: (event) => {
        event.preventDefault();
        attempt(status, async () => { await addProviderKey(formValues(event.target), providers.map((p) => p.name)); show("providers"); });
      },
    },
    field("Provider name", input("provider", { required: true, placeholder: "vllm, or a custom name" })),
    field("Origin URL", input("url", { required: true, type: "url", placeholder: "http://localhost:8000" })),
    field("Key name", input("key_name", { placeholder: "gpu-a" })),
    field("Key value (origin's API key)", input("key_value", { type: "password", autocomplete: "off" })),
    field("Models (comma-separated; blank = all)", input("models")),
    h("button", { class: "primary", type: "submit" }, "Add"),
  );
  return [h("section", { class: "card" }, h("h2", { text: "Add a provider or key" }), form, status), ...providers.map(providerCard), pricingCard(providers)];
}
`;
