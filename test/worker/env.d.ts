import type { D1Migration } from "cloudflare:test";
import type { Env as GatewayEnv } from "../../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends GatewayEnv {
      FAKE_VLLM_URL: string;
      REFUSED_URL: string;
      OTLP_COLLECTOR_URL: string;
      ALERT_RECEIVER_URL: string;
      ORIGIN_TOKEN: string;
      TEST_MIGRATIONS: D1Migration[];
    }
    interface GlobalProps {
      mainModule: typeof import("../../src/index");
    }
  }
}
