-- Virtual keys and model prices. Live counters (budgets, rate limits, reservations) are not here: each virtual key's
-- Durable Object owns them.

CREATE TABLE IF NOT EXISTS virtual_keys (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  -- SHA-256 of the key value (hex); the value itself is never stored.
  value_hash  TEXT NOT NULL UNIQUE,
  -- The record (description, is_active, provider_configs, budgets, rate_limit, ...) as JSON.
  config      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS pricing_overrides (
  id          TEXT PRIMARY KEY,
  -- The rule (scope_kind, pattern, match_type, prices, ...) as JSON.
  config      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
