-- Bulwark catalog, schema version 7: datastores on S3-compatible object storage.
--
-- `s3` holds, as JSON, where the datastore's durable copy lives (endpoint, bucket, region, key prefix, the path of
-- the credentials file on the server, the CA file, the cache size); NULL for a datastore that is its folder. The
-- keys themselves are never in the catalog: only the name of the file that holds them. `path` is then the folder
-- of the datastore's local cache.

ALTER TABLE datastore ADD COLUMN s3 TEXT CHECK (s3 IS NULL OR json_valid(s3));
