/**
 * GET /ui: the dashboard, served by the Worker itself — one HTML page with its styles and script inline, no CDN.
 * It signs in with the admin token (kept in sessionStorage) and talks to the admin API. The page is built from
 * page-source.ts by scripts/build-dashboard.mjs (its browser code minified), so the Worker carries it small.
 */
import { DASHBOARD_HTML } from "./dashboard.generated";

export function dashboardPage(): Response {
  return new Response(DASHBOARD_HTML, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'",
      "cache-control": "no-store",
    },
  });
}
