// BulwarkStore: the datastore (see docs/architecture.md).
