-- Responses API state: a stored response (store: true, the default) and the input items it answered, so a
-- conversation continues through previous_response_id on whichever origin the router picks. A response belongs to
-- the virtual key that created it ('keyless' for keyless requests); rows expire after RESPONSE_RETENTION_DAYS.
CREATE TABLE IF NOT EXISTS stored_responses (
  id          TEXT PRIMARY KEY,
  owner       TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  input_items TEXT NOT NULL,
  response    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stored_responses_by_expiry ON stored_responses (expires_at);
