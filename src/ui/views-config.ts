/**
 * The dashboard's Providers page (plain browser JavaScript): each provider with its keys, their health and actions
 * (test connection, edit, enable, delete), the add form, and the Prices card (views-pricing.ts). Edit forms are in
 * views-provider-edit.ts, health text in views-health.ts.
 */
export const CONFIG_VIEWS = String.raw`
const SELF_HOSTED = ["vllm", "ollama", "sgl"];

const KEY_COLUMNS = ["Key", "Origin", "Models", "Secret", "Weight", "State", "Health", ""];

function keyRow(provider, key, baseUrl, health, probing) {
  const result = h("div", { class: "key-result" });
  const url = (key.vllm_key_config && key.vllm_key_config.url) || baseUrl || "—";
  const row = h(
    "tr",
    { "data-key-id": key.id },
    h("td", { text: key.name }),
    h("td", { class: "wrap", text: url }),
    h("td", { class: "wrap", text: key.models ? key.models.join(", ") : "all" }),
    h("td", { text: key.value || "(none)" }),
    h("td", { text: String(key.weight) }),
    h("td", { text: key.enabled ? "enabled" : "disabled" }),
    healthCell(health, probing),
    h(
      "td",
      {},
      h(
        "div",
        { class: "actions" },
        h("button", {
          class: "secondary", type: "button",
          onclick: () => attempt(result, async () => {
            result.replaceChildren(message("Testing…"));
            result.replaceChildren(testResultText(await api("POST", keyPath(provider, key) + "/test")));
          }),
        }, "Test connection"),
        h("button", { class: "secondary", type: "button", onclick: () => keyEditor(provider, key, row, KEY_COLUMNS.length) }, "Edit"),
        h("button", { class: "secondary", type: "button", onclick: () => attempt(result, async () => { await api("PUT", keyPath(provider, key), { enabled: !key.enabled }); show("providers"); }) }, key.enabled ? "Disable" : "Enable"),
        h("button", { class: "danger", type: "button", onclick: () => attempt(result, async () => { if (!confirm("Delete key " + key.name + "?")) return; await api("DELETE", keyPath(provider, key)); show("providers"); }) }, "Delete"),
      ),
      result,
    ),
  );
  return row;
}

/** A provider's settings in one line: what differs from the defaults. */
function settingsSummary(p) {
  const n = p.network_config || {};
  const parts = [];
  if (n.base_url) parts.push("base URL " + n.base_url);
  if (n.default_request_timeout_in_seconds) parts.push("timeout " + n.default_request_timeout_in_seconds + " s");
  if (n.first_byte_timeout_in_seconds) parts.push("first byte " + n.first_byte_timeout_in_seconds + " s");
  if (n.max_retries !== undefined) parts.push(n.max_retries + (n.max_retries === 1 ? " retry" : " retries"));
  if (n.session_affinity) parts.push("affinity " + n.session_affinity);
  if (p.reasoning_field && p.reasoning_field !== "passthrough") parts.push("reasoning as " + p.reasoning_field);
  return parts.join(" · ");
}

function providerCard(p, health) {
  const status = h("div", { class: "provider-status" });
  const editor = h("div");
  const base = p.network_config && p.network_config.base_url;
  const byKey = new Map(((health && health.keys) || []).map((k) => [k.key_id, k]));
  const probing = (health && health.probe) || {};
  return h(
    "section",
    { class: "card", "data-provider": p.name },
    h("div", { class: "detail-head" },
      h("h2", {}, p.name, p.custom_provider_config ? h("span", { class: "muted", text: "  custom (OpenAI-compatible)" }) : null),
      h("div", { class: "actions" },
        h("button", { class: "secondary", type: "button", onclick: () => providerEditor(p, editor) }, "Edit settings"),
        h("button", { class: "danger", type: "button", onclick: () => attempt(status, async () => { if (!confirm("Delete provider " + p.name + "?")) return; await api("DELETE", providerPath(p.name)); show("providers"); }) }, "Delete provider"),
      ),
    ),
    p.description ? h("p", { text: p.description }) : null,
    settingsSummary(p) ? h("p", { class: "muted settings", text: settingsSummary(p) }) : null,
    editor,
    h("table", { class: "keys" }, h("thead", {}, h("tr", {}, ...KEY_COLUMNS.map((t) => h("th", { text: t })))), h("tbody", {}, ...p.keys.map((k) => keyRow(p.name, k, base, byKey.get(k.id), probing)))),
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
  if (existing.includes(values.provider)) return api("POST", providerPath(values.provider) + "/keys", key);
  const body = { provider: values.provider, keys: [key] };
  if (!selfHosted) Object.assign(body, { network_config: { base_url: values.url }, custom_provider_config: { base_provider_type: "openai" } });
  return api("POST", "/api/providers", body);
}

async function renderProviders() {
  const { providers } = await api("GET", "/api/providers");
  // A provider whose health cannot be read still shows, without its Health column.
  const health = await Promise.all(providers.map((p) => api("GET", providerPath(p.name) + "/health").catch(() => null)));
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
  return [h("section", { class: "card" }, h("h2", { text: "Add a provider or key" }), form, status), ...providers.map((p, i) => providerCard(p, health[i])), await pricingCard(providers)];
}
`;
