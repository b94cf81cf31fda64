/**
 * POST /api/config/import takes a Bifrost config.json and upserts its providers and virtual keys (with their budgets
 * and rate limits); GET /api/config exports the providers in the same shape (secrets masked — key values, Access
 * tokens, extra header values — and a masked value re-imported keeps the stored secret, at the same origin only).
 */
import { routeGroup, type App } from "../http/apps";
import * as z from "zod/mini";
import { configProviderSchema, providerName } from "../config/schema";
import { deleteProvider, loadProviders, publishSnapshot, saveProvider } from "../config/store";
import { parseOrThrow } from "../config/validation";
import type { AppEnv } from "../env";
import { readJsonObject } from "../http/body";
import { jsonResponse } from "../http/errors";
import { exportConfig, exportedProviders } from "./config-export";
import { checkGovernanceLinks, governanceSchema, importGovernance } from "./governance-import";
import { buildProviderRecord } from "./records";
import { asVersionTwo } from "./config-version";

const IMPORT_BODY_LIMIT = 8 * 1024 * 1024;

/** Top-level config.json sections this gateway does not take from a file, each with the reason it gives. */
const SECTIONS_NOT_IMPORTED: Record<string, string> = {
  $schema: "",
  encryption_key: "provider secrets belong in Worker secrets, referenced as env.NAME",
  auth_config: "the admin API is guarded by the ADMIN_TOKEN secret",
  client: "gateway settings are Worker variables (see README)",
  framework: "its pricing datasheet is not used: prices come from the bundled catalog and governance.pricing_overrides",
  mcp: "MCP is not supported",
  vector_store: "semantic caching is not supported",
  config_store: "configuration lives in D1",
  logs_store: "not supported",
  plugins: "plugins are not supported",
  websocket: "not supported",
  guardrails_config: "guardrails are not supported",
  audit_logs: "not supported",
  cluster_config: "every Worker location shares the same state; there is no cluster to configure",
  load_balancer_config: "not supported",
  large_payload_optimization: "not supported",
  scim_config: "not supported",
  access_profiles: "not supported",
  // What Bifrost's own export (GET /api/config/export) adds around the sections above.
  source_of_truth: "configuration lives in D1; the admin API and imports write it",
  server: "the Worker's address and listener are Cloudflare's",
  env_label: "not supported",
  alerting: "budget alerts are set with ALERT_WEBHOOK_URL and ALERT_THRESHOLDS (see README)",
  feature_flags: "not supported",
  circuit_breaker_config: "the circuit breaker is set with CIRCUIT_FAILURE_THRESHOLD and CIRCUIT_COOLDOWN_SECONDS",
};

const configFileSchema = z.strictObject({
  providers: z.optional(z.record(providerName, configProviderSchema)),
  governance: z.optional(governanceSchema),
  ...Object.fromEntries(Object.keys(SECTIONS_NOT_IMPORTED).map((section) => [section, z.optional(z.unknown())])),
});

export const configRoutes = routeGroup();

configRoutes.post("/import", async (c) => {
  const warnings: string[] = [];
  const file = parseOrThrow(configFileSchema, asVersionTwo(await readJsonObject(c.req.raw, IMPORT_BODY_LIMIT), warnings), "config.json");
  const replace = c.req.query("replace") === "true";
  const existing = await loadProviders(c.env);
  for (const [section, why] of Object.entries(SECTIONS_NOT_IMPORTED)) {
    if (why && (file as Record<string, unknown>)[section] !== undefined) warnings.push(`${section} was not imported: ${why}`);
  }
  // Validate everything before writing anything, so a bad provider or link leaves the stored config untouched.
  if (file.governance) await checkGovernanceLinks(c.env, file.governance);
  const built = Object.entries(file.providers ?? {}).map(([name, settings]) =>
    buildProviderRecord(name, settings, existing.find((record) => record.name === name)),
  );
  for (const { record, warnings: providerWarnings } of built) {
    await saveProvider(c.env, record);
    warnings.push(...providerWarnings);
  }
  const imported = built.map(({ record }) => record.name);
  const removed: string[] = [];
  if (replace) {
    for (const record of existing) {
      if (!imported.includes(record.name) && (await deleteProvider(c.env, record.name))) removed.push(record.name);
    }
  }
  await publishSnapshot(c.env);
  const governance = file.governance ? await importGovernance(c.env, file.governance) : { imported: [], teams: [], customers: [], pricingOverrides: [], generatedValues: {}, warnings: [] };
  if (file.governance) await publishSnapshot(c.env);
  warnings.push(...governance.warnings);
  return jsonResponse({
    message: "configuration imported",
    imported,
    removed,
    virtual_keys: governance.imported,
    teams: governance.teams,
    customers: governance.customers,
    pricing_overrides: governance.pricingOverrides,
    // Keys the file gave no value get one here, shown this once.
    generated_virtual_key_values: governance.generatedValues,
    warnings,
  });
});

configRoutes.get("/", async (c) => jsonResponse({ providers: await exportedProviders(c.env) }));

/** The whole configuration, governance included, as a config.json the import takes back (config-export.ts). */
configRoutes.get("/export", async (c) => jsonResponse(await exportConfig(c.env)));
