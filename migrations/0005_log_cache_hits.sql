-- Requests answered from the exact-match response cache: logged (and charged $0) like any other, marked as hits.
ALTER TABLE request_logs ADD COLUMN cache_hit INTEGER NOT NULL DEFAULT 0;
