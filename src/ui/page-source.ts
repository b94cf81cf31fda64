/**
 * The dashboard page's sources: its styles, its browser script (the views) and the HTML around them. The Worker does
 * not import this: scripts/build-dashboard.mjs minifies the script and styles and writes the page to
 * dashboard.generated.ts, which page.ts serves.
 */
import { DASHBOARD_SCRIPT } from "./script";
import { DASHBOARD_VIEWS } from "./views";

export const PAGE_STYLE = `
  :root { --fg: #1c1f24; --muted: #5b6270; --line: #d8dce3; --accent: #2457c5; --bad: #b3261e; --good: #1e7b34; --bg: #f7f8fa; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .75rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 1.1rem; margin: 0; }
  nav { display: flex; flex-wrap: wrap; gap: .25rem; }
  nav button { background: none; border: 0; padding: .45rem .8rem; border-radius: 6px; font: inherit; cursor: pointer; color: var(--muted); }
  nav button[aria-current="page"] { background: #e8eefc; color: var(--accent); font-weight: 600; }
  main { max-width: 72rem; margin: 1.5rem auto; padding: 0 1.5rem; }
  section.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; margin-bottom: 1rem; overflow-x: auto; }
  h2 { font-size: 1.05rem; margin: 0 0 .75rem; }
  table { width: 100%; border-collapse: collapse; font-size: .9rem; }
  th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; }
  form.grid, div.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: .6rem 1rem; align-items: end; }
  label { display: flex; flex-direction: column; gap: .2rem; font-size: .85rem; color: var(--muted); }
  input, select { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: 6px; color: var(--fg); background: #fff; }
  fieldset { border: 1px solid var(--line); border-radius: 6px; margin: .8rem 0; padding: .4rem .9rem .8rem; min-width: 0; }
  legend { font-size: .85rem; font-weight: 600; padding: 0 .3rem; }
  .rows { display: flex; flex-direction: column; gap: .5rem; margin-bottom: .6rem; }
  .row { display: grid; grid-template-columns: minmax(8rem, 1fr) minmax(8rem, .8fr) minmax(12rem, 1.4fr) minmax(10rem, 1fr) auto; gap: .5rem 1rem; align-items: end; }
  .row > button { justify-self: start; }
  .row[data-row="budget"] { grid-template-columns: minmax(8rem, 13rem) minmax(8rem, 13rem) auto auto; justify-content: start; }
  @media (max-width: 50rem) { .row, .row[data-row="budget"] { grid-template-columns: 1fr 1fr; } }
  /* Phones: cards scroll sideways rather than squeeze tables, and charts keep a readable size. */
  @media (max-width: 40rem) { main { padding: 0 .6rem; } header { padding: .5rem .6rem; } section.card { padding: .8rem; } .row > *, input, select { min-width: 0; max-width: 100%; } svg.bars { min-width: 34rem; } td, th { white-space: nowrap; } }
  label.check { flex-direction: row; align-items: center; gap: .4rem; color: var(--fg); min-height: 2.1rem; }
  [aria-invalid="true"] { border-color: var(--bad); box-shadow: 0 0 0 1px var(--bad); }
  p.hint { margin: .1rem 0 .6rem; font-size: .85rem; }
  input:disabled { background: var(--bg); }
  button.primary, button.secondary, button.danger { font: inherit; padding: .4rem .9rem; border-radius: 6px; cursor: pointer; border: 1px solid transparent; }
  button.primary { background: var(--accent); color: #fff; }
  button.secondary { background: #fff; border-color: var(--line); }
  button.danger { background: #fff; border-color: #e8b4b0; color: var(--bad); }
  :focus-visible { outline: 3px solid #9db7f0; outline-offset: 1px; }
  .muted { color: var(--muted); }
  .error { color: var(--bad); }
  .ok { color: var(--good); }
  .actions { display: flex; gap: .4rem; flex-wrap: wrap; }
  .secret { font-family: ui-monospace, monospace; background: #fff8e1; border: 1px solid #f0d58c; padding: .6rem; border-radius: 6px; word-break: break-all; }
  .usage { margin: .25rem 0 .6rem; }
  .bar { display: flex; height: .6rem; background: #e9ecf1; border-radius: 4px; overflow: hidden; min-width: 8rem; }
  .bar > span { display: block; height: 100%; background: var(--accent); }
  .bar > span.reserved { background: #9db7f0; }
  .usage-text { display: flex; gap: 0 1rem; flex-wrap: wrap; font-size: .85rem; }
  .usage-text .resets { margin-left: auto; white-space: nowrap; }
  .card > .level { max-width: 40rem; }
  .levels { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: .5rem 1.5rem; margin: .5rem 0; }
  .level h3 { margin: 0 0 .3rem; }
  h2.list-head { margin: 1.5rem 0 .6rem; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr)); gap: 1rem; }
  .chart svg { width: 100%; height: 140px; }
  .signin { max-width: 26rem; margin: 4rem auto; }
  tr.clickable { cursor: pointer; }
  tr.clickable:hover, tr.clickable:focus { background: #f0f4fd; }
  td.wrap { overflow-wrap: anywhere; }
  #logs { margin-top: 1rem; }
  .pager { margin-top: .75rem; align-items: center; }
  .group-picker { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; }
  .detail-head { display: flex; justify-content: space-between; align-items: center; gap: 1rem; }
  .detail-head h2 { margin: 0; overflow-wrap: anywhere; }
  dl.detail { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .6rem 1.5rem; margin: .75rem 0; }
  dl.detail dt { color: var(--muted); font-size: .8rem; }
  dl.detail dd { margin: 0; overflow-wrap: anywhere; }
  .payloads { display: grid; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr)); gap: 1rem; }
  h3 { font-size: .95rem; margin: .5rem 0; }
  .warn { color: #8a5a00; }
  .stack { display: flex; flex-direction: column; gap: .1rem; }
  td.health { min-width: 12rem; font-size: .85rem; }
  tr.editor > td { background: var(--bg); padding: .75rem; }
  .key-result { margin-top: .3rem; font-size: .85rem; overflow-wrap: anywhere; }
  p.settings { margin: .2rem 0 .6rem; }
  table.keys td:first-child { white-space: nowrap; }
  #override-form .actions, #prices fieldset .actions, form[aria-label^="Edit provider"] .actions { margin-top: .6rem; }
  #prices h3 { margin-top: 1rem; }
  #override-form { margin-bottom: .5rem; }
  svg.bars { max-width: 100%; height: auto; display: block; margin: .25rem 0 .75rem; }
  pre.payload { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: .6rem; max-height: 24rem; overflow: auto; white-space: pre-wrap; word-break: break-all; font-size: .8rem; }
`;

export const PAGE_SCRIPT = `${DASHBOARD_SCRIPT}\n${DASHBOARD_VIEWS}\nstart();\n`;

export function pageHtml(script: string, style: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vLLM edge gateway</title>
<link rel="icon" href="data:,">
<style>${style}</style>
</head>
<body>
<header><h1>vLLM edge gateway</h1><nav id="nav" aria-label="Sections" hidden></nav><span id="who" class="muted"></span></header>
<main id="main"></main>
<script>${script}</script>
</body>
</html>`;
}
