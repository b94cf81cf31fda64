-- Teams and customers: groups of virtual keys with their own budgets and rate limits (customer → team → key). Their
-- live counters belong to one Durable Object each, like a key's.

CREATE TABLE IF NOT EXISTS governance_groups (
  kind        TEXT NOT NULL CHECK (kind IN ('team', 'customer')),
  id          TEXT NOT NULL,
  name        TEXT NOT NULL,
  -- The record (customer_id, budgets, rate_limit, lease_share, ...) as JSON.
  config      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (kind, id),
  UNIQUE (kind, name)
);
