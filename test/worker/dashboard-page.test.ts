/** The dashboard page is carried gzipped in the Worker and served as the HTML it was built from. */
import { describe, expect, it } from "vitest";
import { gateway } from "./helpers";

describe("the dashboard page", () => {
  it("is served as HTML, the same to every client, with its security headers", async () => {
    const pages = [];
    const variants: Record<string, string>[] = [{}, { "accept-encoding": "gzip, deflate, br" }, { "accept-encoding": "identity" }];
    for (const headers of variants) {
      const page = await gateway("/ui", { headers });
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
      pages.push(await page.text());
    }
    const [first] = pages;
    expect(first?.startsWith("<!doctype html>")).toBe(true);
    expect(first).toContain("<title>vLLM edge gateway</title>");
    expect(first?.trimEnd().endsWith("</html>")).toBe(true);
    expect(new Set(pages).size).toBe(1);
  });
});
