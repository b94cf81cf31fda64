/** The built gateway behind an nginx origin, warmed up and ready for wrk: what the profiling scripts measure. */
import { startNginxOrigin } from "./nginx-origin.mjs";
import { ROOT, freePort } from "./tools.mjs";
import { startGateway } from "./workers.mjs";
import { runWrk, wrkScript } from "./wrk.mjs";

/** Request headers carrying a new virtual key with a dollar budget, created through the gateway's admin API. */
async function budgetedKeyHeaders(gatewayUrl, name) {
  const created = await fetch(`${gatewayUrl}/api/governance/virtual-keys/${name}`, {
    method: "PUT",
    headers: { authorization: "Bearer bench-admin", "content-type": "application/json" },
    body: JSON.stringify({ name, provider_configs: [{ provider: "vllm", weight: 1 }], budget: { max_limit: 1e9, reset_duration: "1d" } }),
  });
  if (!created.ok) throw new Error(`creating the bench key failed: ${created.status} ${await created.text()}`);
  return { authorization: `Bearer ${(await created.json()).virtual_key.value}` };
}

/**
 * Serves `bundle` (keyless, or `mode` "vk": every request with a budgeted virtual key), sends it two seconds of load,
 * and returns the URL and wrk script of one non-stream chat request, the origin's URL, and how to stop everything.
 */
export async function warmGateway(bundle, dir, mode) {
  const origin = await startNginxOrigin(dir, await freePort());
  const gateway = await startGateway(bundle, ROOT, origin.url).catch(async (error) => {
    await origin.stop();
    throw error;
  });
  const stop = async () => {
    await gateway.mf.dispose();
    await origin.stop();
  };
  try {
    const headers = mode === "vk" ? await budgetedKeyHeaders(gateway.direct, "bench-profile-vk") : {};
    const script = await wrkScript(dir, "post", { model: "vllm/m", messages: [{ role: "user", content: "Hello" }] }, headers);
    const url = `${gateway.direct}/v1/chat/completions`;
    await runWrk(url, script, 8, 2);
    return { url, script, origin: origin.url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
