/** The dashboard's core: admin API calls, sign-in, navigation and DOM helpers (plain browser JavaScript). */
export const DASHBOARD_SCRIPT = String.raw`
const TOKEN_KEY = "gateway-admin-token";
const state = { token: sessionStorage.getItem(TOKEN_KEY) || "", view: "overview" };
const main = document.getElementById("main");
const nav = document.getElementById("nav");

/** Builds an element: h("button", { class: "primary", onclick }, "Save"). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "text") el.textContent = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.authorization = "Bearer " + state.token;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error((data.error && data.error.message) || response.status + " " + response.statusText);
    error.status = response.status;
    // The field a 400 names, so a form can mark its input.
    error.param = (data.error && data.error.param) || null;
    throw error;
  }
  return data;
}

function field(label, input) {
  return h("label", {}, label, input);
}

function input(name, attrs) {
  return h("input", Object.assign({ name, id: "f-" + name }, attrs || {}));
}

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function message(text, kind) {
  return h("p", { class: kind || "muted", role: kind === "error" ? "alert" : "status", text });
}

/** Dollars with the precision they have: at least two decimals, up to nine ($0.000012, $2.50). */
function money(value) {
  const fixed = Number(value || 0).toFixed(9).replace(/0+$/, "");
  const [whole, fraction] = fixed.split(".");
  return "$" + whole + "." + (fraction || "").padEnd(2, "0");
}

/** Runs an action from a form or button and reports failure next to it instead of losing it; answers the failure. */
async function attempt(where, action) {
  try {
    await action();
  } catch (error) {
    where.replaceChildren(message(error.message, "error"));
    return error;
  }
}

const VIEWS = [
  ["overview", "Overview"],
  ["providers", "Providers"],
  ["keys", "Virtual keys"],
  ["teams", "Teams"],
  ["logs", "Logs"],
  ["usage", "Usage"],
];

function renderNav() {
  nav.hidden = false;
  nav.replaceChildren(
    ...VIEWS.map(([id, label]) =>
      h("button", { type: "button", "aria-current": state.view === id ? "page" : undefined, "data-view": id, onclick: () => show(id) }, label),
    ),
  );
}

async function show(view) {
  state.view = view;
  renderNav();
  main.replaceChildren(message("Loading…"));
  try {
    const content = await RENDER[view]();
    main.replaceChildren(...[content].flat());
  } catch (error) {
    if (error.status === 401 || error.status === 403) return signIn(error.message);
    main.replaceChildren(message(error.message, "error"));
  }
}

function signIn(problem) {
  nav.hidden = true;
  const token = input("token", { type: "password", autocomplete: "current-password" });
  const form = h(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        state.token = token.value.trim();
        try {
          await api("GET", "/api/providers");
          sessionStorage.setItem(TOKEN_KEY, state.token);
          show("overview");
        } catch (error) {
          status.replaceChildren(message(error.message, "error"));
        }
      },
    },
    h("h2", { text: "Sign in" }),
    field("Admin token", token),
    h("p", {}, h("button", { class: "primary", type: "submit" }, "Sign in")),
  );
  const status = h("div", {}, problem ? message(problem, "error") : null);
  main.replaceChildren(h("section", { class: "card signin" }, form, status));
  token.focus();
}

async function start() {
  try {
    await api("GET", "/api/providers");
    show("overview");
  } catch (error) {
    signIn(state.token ? error.message : "");
  }
}
`;
