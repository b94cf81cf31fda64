-- One row per inference request, written in batches off the request path. Kept for LOG_RETENTION_DAYS.
CREATE TABLE IF NOT EXISTS request_logs (
  id                 TEXT PRIMARY KEY,      -- the request id
  ts                 INTEGER NOT NULL,      -- start, ms since the epoch
  virtual_key_id     TEXT,
  virtual_key_name   TEXT,
  provider           TEXT,
  provider_key       TEXT,
  origin             TEXT,                  -- host of the origin that answered
  model              TEXT,
  endpoint           TEXT NOT NULL,
  stream             INTEGER NOT NULL,
  status             INTEGER NOT NULL,
  error_code         TEXT,
  prompt_tokens      INTEGER NOT NULL,
  completion_tokens  INTEGER NOT NULL,
  cost               REAL NOT NULL,         -- USD
  latency_ms         INTEGER NOT NULL,
  ttft_ms            INTEGER,
  attempts           INTEGER NOT NULL,
  fallback_index     INTEGER NOT NULL,
  request_body       TEXT,                  -- only with LOG_PAYLOADS=true
  response_body      TEXT
);
CREATE INDEX IF NOT EXISTS request_logs_by_time ON request_logs (ts);
CREATE INDEX IF NOT EXISTS request_logs_by_key ON request_logs (virtual_key_id, ts);
CREATE INDEX IF NOT EXISTS request_logs_by_model ON request_logs (model, ts);

-- Monotonic Prometheus counters and histogram buckets, summed across every isolate and location.
-- `labels` is the rendered label set, e.g. provider="vllm",model="x",virtual_key="team-a".
CREATE TABLE IF NOT EXISTS metric_counters (
  name    TEXT NOT NULL,
  labels  TEXT NOT NULL,
  value   REAL NOT NULL,
  PRIMARY KEY (name, labels)
);
