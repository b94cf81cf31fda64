/**
 * Runs the gateway as a real local Worker (wrangler's test harness: workerd with local D1/KV, migrations applied)
 * in front of the fake vLLM, so the official SDKs can be pointed at it over HTTP.
 */
import type { TestProject } from "vitest/node";
import { createTestHarness } from "wrangler";
import { FakeVllm, refusedUrl } from "../support/fake-vllm";

declare module "vitest" {
  export interface ProvidedContext {
    gatewayUrl: string;
    e2eFakeVllmUrl: string;
  }
}

export const E2E_ADMIN_TOKEN = "e2e-admin-token";

export default async function setup(project: TestProject) {
  const fake = new FakeVllm();
  const fakeUrl = await fake.start();
  const server = createTestHarness({
    workers: [
      {
        configPath: "./wrangler.toml",
        vars: { DEFAULT_VLLM_URL: `${fakeUrl}/o/default`, CONFIG_CACHE_SECONDS: "1", REFUSED_URL: await refusedUrl(), REQUIRE_VIRTUAL_KEY: "false" },
        secrets: { ADMIN_TOKEN: E2E_ADMIN_TOKEN, EPHEMERAL_TOKEN_SECRET: "e2e-ephemeral-secret-0123456789abcdef" },
      },
    ],
  });
  const { url } = await server.listen();
  await server.getWorker().applyD1Migrations("DB");
  project.provide("gatewayUrl", url.origin);
  project.provide("e2eFakeVllmUrl", fakeUrl);
  return async () => {
    await server.close();
    await fake.stop();
  };
}
