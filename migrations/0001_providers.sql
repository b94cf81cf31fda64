-- Providers and their keys: the system of record for routing configuration.
-- Reads never hit these tables on the hot path: the Worker serves a snapshot
-- from isolate memory, revalidated from KV, rebuilt from here on admin writes.

CREATE TABLE IF NOT EXISTS providers (
  name        TEXT PRIMARY KEY,
  -- The provider object (network_config, custom_provider_config, ...) without its keys, as JSON.
  config      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS provider_keys (
  id          TEXT PRIMARY KEY,
  provider    TEXT NOT NULL REFERENCES providers(name) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  -- Order of the key inside its provider, as configured.
  position    INTEGER NOT NULL,
  -- The key object (value, models, weight, vllm_key_config, aliases, ...) as JSON.
  config      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  UNIQUE (provider, name)
);

CREATE INDEX IF NOT EXISTS provider_keys_by_provider ON provider_keys (provider, position);

-- Small gateway-wide facts, e.g. whether the default configuration was installed.
CREATE TABLE IF NOT EXISTS settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
