-- Bulwark catalog, schema version 7: datastores on S3-compatible object storage.
--
-- `s3` holds, as JSON, where the datastore's durable copy lives (endpoint, bucket, region, key prefix, the path of
-- the credentials file on the server, the CA file, the cache size); NULL for a datastore that is its folder. The
-- keys themselves are never in the catalog: only the name of the file that holds them. `path` is then the folder
-- of the datastore's local cache.

ALTER TABLE datastore ADD COLUMN s3 TEXT CHECK (s3 IS NULL OR json_valid(s3));

-- `read_only`: a datastore attached while another server still writes to it (`datastore attach --read-only`):
-- restores only. No group keeps points in it, retention prunes none of its points, garbage collection and verify's
-- quarantine leave it alone, and no catalog copy is written into it, so two servers never collect each other's
-- chunks.
ALTER TABLE datastore ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1));
