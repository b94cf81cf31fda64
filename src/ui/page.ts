/**
 * GET /ui: the dashboard, served by the Worker itself — one HTML page with its styles and script inline, no CDN.
 * It signs in with the admin token (kept in sessionStorage) and talks to the admin API. The page is built from
 * page-source.ts by scripts/build-dashboard.mjs (its browser code minified) and carried gzipped, a quarter of its
 * size, so the Worker stays small; each load unzips it (a page an admin opens now and then, not a hot path), and the
 * platform compresses the answer for the browser as it does any other.
 */
import { DASHBOARD_GZIP_BASE64 } from "./dashboard.generated";

const HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'",
  "cache-control": "no-store",
};

/** The page's gzip bytes, decoded on first use (plain data: every request may read them). */
let gzipped: Uint8Array | undefined;

function pageBytes(): Uint8Array {
  gzipped ??= Uint8Array.from(atob(DASHBOARD_GZIP_BASE64), (char) => char.charCodeAt(0));
  return gzipped;
}

export function dashboardPage(): Response {
  return new Response(new Blob([pageBytes()]).stream().pipeThrough(new DecompressionStream("gzip")), { headers: HEADERS });
}
