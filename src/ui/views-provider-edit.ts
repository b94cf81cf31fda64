/**
 * The Providers page's edit forms (plain browser JavaScript): a provider's network settings (PUT /api/providers/{name})
 * and one key (PUT …/keys/{id}). Each sends what it shows and keeps what it does not (extra header values, access
 * tokens, a secret left blank); a blank number means "the default".
 */
export const PROVIDER_EDIT_VIEWS = String.raw`
const providerPath = (provider) => "/api/providers/" + encodeURIComponent(provider);
const keyPath = (provider, key) => providerPath(provider) + "/keys/" + encodeURIComponent(key.id);
const textOf = (value) => (value === null || value === undefined ? "" : String(value));

/** A form in a table row of its own under the row it edits, so it has the table's full width. */
function editorRow(row, columns, form) {
  const next = row.nextElementSibling;
  if (next && next.classList.contains("editor")) next.remove();
  const editor = h("tr", { class: "editor" }, h("td", { colspan: String(columns) }, form));
  row.after(editor);
  form.querySelector("input").focus();
  return editor;
}

function cancelButton(where) {
  return h("button", { class: "secondary", type: "button", onclick: () => where.remove() }, "Cancel");
}

/** Edits a key's name, origin URL, served model name, models, weight, description and secret. */
function keyEditor(provider, key, row, columns) {
  const config = key.vllm_key_config;
  const status = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    {
      class: "grid", "aria-label": "Edit key " + key.name,
      onsubmit: (event) => {
        event.preventDefault();
        const v = formValues(event.target);
        const patch = { name: v.name.trim(), weight: numberOf(form.elements.namedItem("weight")), description: v.description, models: commaList(v.models), blacklisted_models: commaList(v.blocked) };
        if (!patch.models.length) patch.models = ["*"];
        if (config) {
          patch.vllm_key_config = { url: v.url.trim() };
          if (v.model_name.trim()) patch.vllm_key_config.model_name = v.model_name.trim();
        }
        // A stored secret never follows its key to a new origin on its own: it is re-entered here (or env.NAME).
        if (v.secret) patch.value = v.secret;
        status.replaceChildren(message("Saving…"));
        attempt(status, async () => { await api("PUT", keyPath(provider, key), patch); show("providers"); });
      },
    },
    field("Name", input("name", { required: true, value: key.name, id: undefined })),
    config ? field("Origin URL", input("url", { type: "url", required: true, value: textOf(config.url), id: undefined })) : null,
    config ? field("Served model name (blank = as asked)", input("model_name", { value: textOf(config.model_name), id: undefined })) : null,
    field("Models (comma-separated; blank = all)", input("models", { value: key.models && !key.models.includes("*") ? key.models.join(", ") : "", id: undefined })),
    field("Blocked models", input("blocked", { value: joined(key.blacklisted_models), id: undefined })),
    field("Weight (0 = standby)", input("weight", { type: "number", min: "0", step: "any", value: String(key.weight), id: undefined })),
    field("Description", input("description", { value: textOf(key.description), id: undefined })),
    field("Secret (blank = keep; re-enter when the origin changes)", input("secret", { type: "password", autocomplete: "off", placeholder: key.value || "none", id: undefined })),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Save key"), null),
  );
  const editor = editorRow(row, columns, h("div", {}, form, status));
  form.querySelector(".actions").append(cancelButton(editor));
}

const NETWORK_FIELDS = [
  ["default_request_timeout_in_seconds", "Request timeout, s", "1", "3600"],
  ["first_byte_timeout_in_seconds", "First-byte timeout, s", "1", "3600"],
  ["stream_idle_timeout_in_seconds", "Stream idle timeout, s", "5", "3600"],
  ["max_retries", "Retries", "0", "10"],
];

/** Edits a provider's base URL, timeouts, retries, backoff, session affinity, stream assembly, reasoning field and description. */
function providerEditor(p, where) {
  const network = p.network_config || {};
  const status = h("div", { "aria-live": "polite" });
  const select = (name, value, options) => h("select", { name }, ...options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
  const form = h(
    "form",
    {
      "aria-label": "Edit provider " + p.name,
      onsubmit: (event) => {
        event.preventDefault();
        const v = formValues(event.target);
        // The whole section goes back (extra header values masked: the gateway keeps the stored ones).
        const next = Object.assign({}, network);
        const set = (name, value) => { if (value === "" || value === null) delete next[name]; else next[name] = value; };
        if (form.elements.namedItem("base_url")) set("base_url", v.base_url.trim());
        for (const [name] of NETWORK_FIELDS) set(name, numberOf(form.elements.namedItem(name)));
        for (const name of ["retry_backoff_initial", "retry_backoff_max"]) set(name, /^\d+$/.test(v[name].trim()) ? Number(v[name].trim()) : v[name].trim());
        set("session_affinity", v.session_affinity);
        set("stream_for_json", v.stream_for_json === "" ? "" : v.stream_for_json === "on");
        status.replaceChildren(message("Saving…"));
        attempt(status, async () => {
          const saved = await api("PUT", providerPath(p.name), { network_config: next, reasoning_field: v.reasoning_field, description: v.description });
          await show("providers");
          const card = document.querySelector('[data-provider="' + CSS.escape(p.name) + '"] .provider-status');
          if (card) card.replaceChildren(message("Saved provider " + p.name + ".", "ok"), ...(saved.warnings || []).map((w) => message(w, "error")));
        });
      },
    },
    h("div", { class: "grid" },
      p.custom_provider_config || network.base_url !== undefined ? field("Base URL", h("input", { name: "base_url", type: "url", value: textOf(network.base_url) })) : null,
      ...NETWORK_FIELDS.map(([name, label, min, max]) => field(label, h("input", { name, type: "number", min, max, step: "1", value: textOf(network[name]), placeholder: "default" }))),
      field("Retry backoff, first", h("input", { name: "retry_backoff_initial", value: textOf(network.retry_backoff_initial), placeholder: "e.g. 500ms" })),
      field("Retry backoff, longest", h("input", { name: "retry_backoff_max", value: textOf(network.retry_backoff_max), placeholder: "e.g. 5s" })),
      field("Session affinity", select("session_affinity", network.session_affinity || "", [["", "default (x-session-id)"], ["header", "x-session-id header"], ["prompt_prefix", "header or prompt prefix"], ["none", "none"]])),
      field("Assemble JSON from streams", select("stream_for_json", network.stream_for_json === undefined ? "" : network.stream_for_json ? "on" : "off", [["", "default"], ["on", "on"], ["off", "off"]])),
      field("Reasoning field", select("reasoning_field", p.reasoning_field || "passthrough", [["passthrough", "as the origin sends it"], ["reasoning", "reasoning"], ["reasoning_content", "reasoning_content"]])),
      field("Description", h("input", { name: "description", value: textOf(p.description) })),
    ),
    hint("Blank fields use the gateway's defaults. Extra headers and key secrets are kept as stored."),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Save provider"), h("button", { class: "secondary", type: "button", onclick: () => where.replaceChildren() }, "Cancel")),
    status,
  );
  where.replaceChildren(h("fieldset", {}, h("legend", { text: "Settings of " + p.name }), form));
  form.querySelector("input, select").focus();
}
`;
