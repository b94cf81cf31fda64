/**
 * The dashboard's long lists (plain browser JavaScript): virtual keys, customers and teams are read a page at a time,
 * with a name search and a pager, so a deployment with thousands of them shows every one and loads only a page.
 */
export const LIST_VIEWS = String.raw`
/** Where each list is: its name search and the index of its page's first entry. */
const listStates = { keys: { search: "", offset: 0 }, customers: { search: "", offset: 0 }, teams: { search: "", offset: 0 } };
const LIST_PAGE = 100;

/**
 * One page of a list endpoint answering { [field]: [...], total_count } (with the extra query parameters given); back
 * to the first page when this one emptied.
 */
async function listPage(name, path, field, extra = {}) {
  const at = listStates[name];
  const read = async () => {
    const query = new URLSearchParams({ ...extra, limit: String(LIST_PAGE), offset: String(at.offset) });
    if (at.search) query.set("search", at.search);
    return api("GET", path + "?" + query);
  };
  let page = await read();
  if (page[field].length === 0 && at.offset > 0) {
    at.offset = 0;
    page = await read();
  }
  return { items: page[field], total: page.total_count };
}

/** A list's heading (with the count of all that match), its search form and, past one page, its pager. */
function listHead(name, title, page, redraw) {
  const at = listStates[name];
  const move = (by) => () => { at.offset = Math.max(0, at.offset + by); redraw(); };
  const search = h("input", { type: "search", name: "search", id: name + "-search", value: at.search, placeholder: "name contains", "aria-label": "Search " + title.toLowerCase() });
  const form = h("form", { class: "actions pager", role: "search", "aria-label": "Search " + title.toLowerCase(), onsubmit: (event) => { event.preventDefault(); at.search = search.value.trim(); at.offset = 0; redraw(); } },
    search, h("button", { class: "secondary", type: "submit" }, "Search"),
    at.search ? h("button", { class: "secondary", type: "button", onclick: () => { at.search = ""; at.offset = 0; redraw(); } }, "Show all") : null);
  const first = page.total ? at.offset + 1 : 0;
  const pager = page.total > LIST_PAGE || at.offset > 0
    ? h("div", { class: "actions pager" },
      h("button", { class: "secondary", type: "button", disabled: at.offset === 0, onclick: move(-LIST_PAGE) }, "Previous"),
      h("button", { class: "secondary", type: "button", disabled: at.offset + LIST_PAGE >= page.total, onclick: move(LIST_PAGE) }, "Next"),
      h("span", { class: "muted", id: name + "-range", text: first + "–" + (at.offset + page.items.length) + " of " + page.total }))
    : null;
  // Spread into replaceChildren, where a null would be written out as the text "null".
  const head = [h("h2", { class: "list-head", id: name + "-head", text: title + " (" + page.total + ")" }), form];
  return pager ? [...head, pager] : head;
}

/** What an empty page of a list says. */
function emptyList(name) {
  const search = listStates[name].search;
  return search ? "No name contains " + JSON.stringify(search) + "." : "None yet.";
}

/** A card's members as a list answer with members=true counts them: the first names, "and N more" past them. */
function memberText(sample) {
  if (sample.count === 0) return "none";
  const more = sample.count - sample.names.length;
  return sample.names.join(", ") + (more > 0 ? " and " + more + " more" : "");
}
`;
