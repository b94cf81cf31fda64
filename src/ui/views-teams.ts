/**
 * The dashboard's Teams page (plain browser JavaScript): customers and teams — the groups virtual keys belong to —
 * each with its members and the live usage of its budgets and rate limits, and one form that creates a team or a
 * customer (POST) or edits one (PUT, loaded from GET …/{id}). The API's errors show next to the form (a 400 also
 * marks the input it names) or on the card (a delete refused while the group has members). Values go in as text.
 */
export const TEAM_VIEWS = String.raw`
const groupPath = (kind, id) => "/api/governance/" + kind + "s" + (id === undefined ? "" : "/" + encodeURIComponent(id));

/** The request body: every field is sent, so an edit replaces what is stored with what is shown. */
function groupBody(form, kind) {
  const get = (name) => form.elements.namedItem(name);
  const body = { name: get("name").value.trim(), description: get("description").value, budgets: budgetsBody(form), rate_limit: rateLimitBody(form), lease_share: numberOf(get("lease_share")) };
  if (kind === "team") body.customer_id = get("customer").value || null;
  return body;
}

/** The create form (g undefined: a team or a customer, chosen in the form) or the edit form of one group. */
function groupForm(kind, customers, g, onSaved) {
  const editing = !!g;
  const v = g || { budgets: [] };
  const status = h("div", { id: "group-form-status", "aria-live": "polite" });
  const kindSelect = editing ? null : h("select", { name: "kind", id: "f-kind" }, h("option", { value: "team", text: "Team" }), h("option", { value: "customer", text: "Customer" }));
  const customerSelect = h("select", { name: "customer", id: "f-customer" },
    h("option", { value: "", text: "none" }),
    ...customers.map((c) => h("option", { value: c.id, selected: c.id === v.customer_id, text: c.name })),
    // A customer past the first page of the list stays chosen, so saving never unlinks the team by accident.
    v.customer_id && !customers.some((c) => c.id === v.customer_id) ? h("option", { value: v.customer_id, selected: true, text: v.customer_id }) : null);
  // A customer has no customer of its own: the select only applies while "Team" is chosen.
  if (kindSelect) kindSelect.addEventListener("change", () => { customerSelect.disabled = kindSelect.value !== "team"; });
  const title = editing ? "Edit " + kind + " " + g.name : "Create a team or customer";
  const form = h(
    "form",
    {
      id: editing ? "edit-group" : "create-group", "aria-label": title, novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        const chosen = editing ? kind : kindSelect.value;
        return submitLimitsForm(form, status, "group-form-status", editing ? "Saving…" : "Creating…", async () => {
          const body = groupBody(form, chosen);
          const answer = editing ? await api("PUT", groupPath(chosen, g.id), body) : await api("POST", groupPath(chosen), body);
          await onSaved(chosen, answer[chosen], editing);
        });
      },
    },
    h("div", { class: "grid" },
      kindSelect ? field("Kind", kindSelect) : null,
      textField("name", "Name", v.name, { required: true, autocomplete: "off" }),
      textField("description", "Description", v.description),
      kind === "customer" ? null : field("Customer (teams only)", customerSelect),
    ),
    budgetsFieldset(v.budgets),
    h("fieldset", {}, h("legend", { text: "Limits (blank = none)" }),
      hint("Shared by every key in the group (and, for a customer, by its teams' keys). Lease share 0 makes every request ask the group's limiter."),
      h("div", { class: "grid" }, ...rateLimitFields(v.rate_limit || {}), leaseShareField(v.lease_share))),
    durationList(),
    h("div", { class: "actions" },
      h("button", { class: "primary", type: "submit" }, editing ? "Save changes" : "Create"),
      editing ? h("button", { class: "secondary", type: "button", onclick: () => show("teams") }, "Cancel") : null,
    ),
    status,
  );
  return h("section", { class: "card", id: "group-form-card" }, h("h2", { text: title }), form);
}

/**
 * One team's or customer's card: what it holds (its members counted by the list answer, so none is missed), its usage
 * bars, and its actions.
 */
async function groupCard(kind, g, edit, knownCustomers) {
  const status = h("div", { class: "group-status" });
  const [usage, customer] = await Promise.all([
    api("GET", groupPath(kind, g.id) + "/usage"),
    g.customer_id ? customerOf(g.customer_id, knownCustomers) : null,
  ]);
  const facts = [
    "id " + g.id,
    kind === "team" ? "customer: " + (customer ? customer.name : g.customer_id || "none") : "teams: " + memberText(g.members.teams),
    "keys: " + memberText(g.members.virtual_keys),
    "lease share: " + (g.lease_share === null || g.lease_share === undefined ? "gateway default" : String(g.lease_share)),
  ];
  const remove = async () => {
    if (!confirm("Delete " + kind + " " + g.name + "?")) return;
    await api("DELETE", groupPath(kind, g.id));
    show("teams");
  };
  return h(
    "section",
    { class: "card", "data-group-kind": kind, "data-group": g.name },
    h("h2", {}, g.name, h("span", { class: "muted", text: "  " + kind })),
    g.description ? h("p", { text: g.description }) : null,
    h("p", { class: "muted", text: facts.join(" · ") }),
    levelUsage(kind, null, usage.usage),
    h("div", { class: "actions" },
      h("button", { class: "secondary", type: "button", onclick: () => attempt(status, () => edit(kind, g.id)) }, "Edit"),
      h("button", { class: "danger", type: "button", onclick: () => attempt(status, remove) }, "Delete")),
    status,
  );
}

/** A team's customer: from the first page of customers already read, else read on its own (null if it is gone). */
async function customerOf(id, knownCustomers) {
  return (await knownCustomers).find((c) => c.id === id) || api("GET", groupPath("customer", id)).then((answer) => answer.customer, () => null);
}

/** One kind's cards, of the page its list is at, under its heading, search and pager; a new page redraws only it. */
async function groupList(kind, title, edit, knownCustomers) {
  const name = kind + "s";
  const box = h("div", { id: name + "-list" });
  const fill = async () => {
    const page = await listPage(name, groupPath(kind), name, { members: "true" });
    const cards = await Promise.all(page.items.map((g) => groupCard(kind, g, edit, knownCustomers)));
    box.replaceChildren(...listHead(name, title, page, () => attempt(box, fill)), ...(cards.length ? cards : [message(emptyList(name))]));
  };
  await fill();
  return box;
}

/** Customers, then teams; and the customers a team may belong to, for the form. */
async function groupLists(edit) {
  const firstCustomers = api("GET", groupPath("customer") + "?limit=100").then((answer) => answer.customers);
  const [customers, ...elements] = await Promise.all([firstCustomers, groupList("customer", "Customers", edit, firstCustomers), groupList("team", "Teams", edit, firstCustomers)]);
  return { customers, elements };
}

async function renderTeams() {
  /** Redraws the page: the form (create, or edit of one group) above the lists; 'after' fills the form's status. */
  async function draw(kind, record, after) {
    const lists = await groupLists(edit);
    const form = groupForm(kind, lists.customers, record, saved);
    main.replaceChildren(form, ...lists.elements);
    if (after) document.getElementById("group-form-status").replaceChildren(...after);
    return form;
  }
  async function edit(kind, id) {
    const answer = await api("GET", groupPath(kind, id));
    const form = await draw(kind, answer[kind]);
    form.scrollIntoView();
    document.getElementById("f-name").focus();
  }
  async function saved(kind, record, editing) {
    const done = h("p", { class: "ok", role: "status", text: (editing ? "Saved " : "Created ") + kind + " " + record.name + "." });
    await draw(editing ? kind : undefined, editing ? record : undefined, [done]);
  }
  const lists = await groupLists(edit);
  return [groupForm(undefined, lists.customers, undefined, saved), ...lists.elements];
}
`;
