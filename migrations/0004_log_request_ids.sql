-- Log rows belong to the server: `id` is generated for every row, and the request's id (the client's X-Request-Id
-- when it sent a sane one, else the gateway's own) is kept in its own column. A client can no longer overwrite or
-- erase a row by reusing an id.
ALTER TABLE request_logs ADD COLUMN request_id TEXT;
UPDATE request_logs SET request_id = id WHERE request_id IS NULL;
CREATE INDEX IF NOT EXISTS request_logs_by_request_id ON request_logs (request_id);
