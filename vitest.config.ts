import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            remoteBindings: false,
            miniflare: {
              // A local stand-in for a Workers VPC service binding: requests reach the fake vLLM's "vpc" origin.
              serviceBindings: {
                TEST_VPC: async (request: Request) => {
                  const url = new URL(request.url);
                  return fetch(`${inject("fakeVllmUrl")}/o/vpc${url.pathname}`, { method: request.method, headers: request.headers, body: request.body, duplex: "half" } as RequestInit);
                },
              },
              bindings: {
                FAKE_VLLM_URL: inject("fakeVllmUrl"),
                REFUSED_URL: inject("refusedUrl"),
                OTLP_COLLECTOR_URL: inject("otlpCollectorUrl"),
                ALERT_RECEIVER_URL: inject("alertReceiverUrl"),
                ADMIN_TOKEN: "test-admin-token",
                DEFAULT_VLLM_URL: "",
                REQUIRE_VIRTUAL_KEY: "false",
                CIRCUIT_COOLDOWN_SECONDS: "1",
                SSE_KEEPALIVE_SECONDS: "1",
                EPHEMERAL_TOKEN_SECRET: "test-ephemeral-secret-0123456789abcdef",
                ORIGIN_TOKEN: "origin-secret-token",
                // The pool sets no_handle_cross_request_promise_resolution, under which a request woken by another's
                // limiter call would run on in that request's context: each operation is its own call here (the
                // grouping itself is tested apart, in limiter-line.test.ts, and in production mode by the e2e suite).
                GROUP_LIMITER_CALLS: "false",
                TEST_MIGRATIONS: await readD1Migrations("./migrations"),
              },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          setupFiles: ["test/worker/setup.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["test/e2e/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
