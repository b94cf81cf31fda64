/**
 * What a provider name means. Self-hosted engines (vllm, ollama, sgl) need an origin URL on each key or on the
 * provider; hosted OpenAI-compatible APIs have a default base URL; any other name is a custom provider and must
 * say so with custom_provider_config. Provider types that do not speak the OpenAI API are refused clearly.
 */
import { GatewayError } from "../http/errors";
import type { ProviderKeyInput, ProviderSettings } from "./schema";

export const SELF_HOSTED_PROVIDERS = new Set(["vllm", "ollama", "sgl"]);

/** Hosted providers with an OpenAI-compatible API; the value is the base URL that `/v1/...` is appended to. */
export const HOSTED_OPENAI_COMPATIBLE: Readonly<Record<string, string>> = {
  openai: "https://api.openai.com",
  anthropic: "https://api.anthropic.com",
  groq: "https://api.groq.com/openai",
  mistral: "https://api.mistral.ai",
  openrouter: "https://openrouter.ai/api",
  xai: "https://api.x.ai",
  cerebras: "https://api.cerebras.ai",
  deepseek: "https://api.deepseek.com",
  together: "https://api.together.xyz",
  fireworks: "https://api.fireworks.ai/inference",
};

/** The default base URL of a hosted provider; own keys only, so names like `constructor` are just names. */
export function hostedBaseUrl(name: string): string | undefined {
  return Object.hasOwn(HOSTED_OPENAI_COMPATIBLE, name) ? HOSTED_OPENAI_COMPATIBLE[name] : undefined;
}

/** Bifrost provider types whose native APIs are not OpenAI-compatible. */
const UNSUPPORTED_PROVIDER_TYPES = new Set([
  "azure",
  "bedrock",
  "cohere",
  "vertex",
  "gemini",
  "huggingface",
  "replicate",
  "elevenlabs",
  "perplexity",
  "nebius",
  "parasail",
  "runway",
]);

export function isKnownProviderName(name: string): boolean {
  return SELF_HOSTED_PROVIDERS.has(name) || hostedBaseUrl(name) !== undefined || UNSUPPORTED_PROVIDER_TYPES.has(name);
}

function invalid(message: string): GatewayError {
  return new GatewayError(400, message, "invalid_provider_config");
}

/** The base URL a key's requests go to: its own vllm_key_config.url wins over the provider's base URL. */
export function keyOriginUrl(providerName: string, settings: Omit<ProviderSettings, "keys">, key: ProviderKeyInput): string | undefined {
  return key.vllm_key_config?.url ?? settings.network_config?.base_url ?? hostedBaseUrl(providerName);
}

/**
 * Everywhere a key's requests — and with them its secrets and the provider's extra headers — can go: its origin URL
 * and every absolute URL among the provider's path overrides, each with the VPC binding that carries it.
 */
export function keyDestinations(providerName: string, settings: Omit<ProviderSettings, "keys">, key: ProviderKeyInput): string[] {
  const via = key.vpc_binding === undefined ? "" : ` (through binding ${key.vpc_binding})`;
  const base = (keyOriginUrl(providerName, settings, key) ?? "").replace(/\/+$/, "");
  const absolute = Object.values(settings.custom_provider_config?.request_path_overrides ?? {}).filter((path) => !path.startsWith("/"));
  return [base, ...absolute].map((url) => url + via);
}

/** Every destination of a provider's requests: its keys' and, for a key-less provider, its base URL's. */
export function providerDestinations(providerName: string, settings: Omit<ProviderSettings, "keys">, keys: readonly ProviderKeyInput[]): Set<string> {
  const all = keys.flatMap((key) => keyDestinations(providerName, settings, key));
  if (settings.custom_provider_config?.is_key_less) all.push(...keyDestinations(providerName, settings, { value: "", weight: 1, enabled: true }));
  return new Set(all);
}

/** Checks the rules zod cannot see on its own: provider kind, origin URLs, key names. Throws a 400 naming the problem. */
export function validateProvider(name: string, settings: ProviderSettings): void {
  if (UNSUPPORTED_PROVIDER_TYPES.has(name) && !settings.custom_provider_config) {
    throw invalid(
      `provider type '${name}' is not supported: this gateway speaks the OpenAI-compatible API only. ` +
        `To reach an OpenAI-compatible endpoint under this name, add custom_provider_config {"base_provider_type":"openai"} and network_config.base_url.`,
    );
  }
  const known = SELF_HOSTED_PROVIDERS.has(name) || hostedBaseUrl(name) !== undefined;
  if (!known && !settings.custom_provider_config) {
    throw invalid(
      `'${name}' is not a known provider type (${[...SELF_HOSTED_PROVIDERS, ...Object.keys(HOSTED_OPENAI_COMPATIBLE)].join(", ")}); ` +
        `a custom provider needs custom_provider_config {"base_provider_type":"openai"} and network_config.base_url`,
    );
  }
  const keys = settings.keys ?? [];
  const keyLess = settings.custom_provider_config?.is_key_less === true;
  if (keyLess && keys.length > 0) {
    throw invalid(`provider '${name}' is key-less (custom_provider_config.is_key_less) and cannot hold keys`);
  }
  if (keyLess && !settings.network_config?.base_url) {
    throw invalid(`key-less provider '${name}' needs network_config.base_url`);
  }
  const seenNames = new Set<string>();
  const seenIds = new Set<string>();
  keys.forEach((key, index) => {
    const label = key.name ?? key.id ?? `#${index}`;
    if (!keyOriginUrl(name, settings, key)) {
      throw invalid(
        `key '${label}' of provider '${name}' has no origin URL: set vllm_key_config.url on the key or network_config.base_url on the provider`,
      );
    }
    if (key.name !== undefined) {
      if (seenNames.has(key.name)) throw invalid(`provider '${name}' has two keys named '${key.name}'`);
      seenNames.add(key.name);
    }
    if (key.id !== undefined) {
      if (seenIds.has(key.id)) throw invalid(`provider '${name}' has two keys with id '${key.id}'`);
      seenIds.add(key.id);
    }
  });
}
