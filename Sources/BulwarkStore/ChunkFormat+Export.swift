// Every user of a datastore handles its formats (digests, indexes, manifests, the datastore's errors): importing
// BulwarkStore brings them, as it did before they moved to their own module for the agent.
@_exported public import ChunkFormat
