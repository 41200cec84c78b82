import GRDB

extension Catalog {
    /// Calls `onChange` after every committed transaction that changed a job or its log (queued, claimed, progress,
    /// finished, cancelled), whichever path made the change; until the returned observation is cancelled or freed.
    ///
    /// `onChange` runs on the catalog's writer thread right after the commit, so it must only hand the news on (wake
    /// a waiter), never read the catalog itself.
    public func observeJobChanges(_ onChange: @escaping @Sendable () -> Void) -> CatalogObservation {
        let observation = DatabaseRegionObservation(tracking: Table(JobRecord.databaseTableName), Table(JobLogRecord.databaseTableName))
        // An observation only fails when the tracked region cannot be read, which a migrated catalog rules out.
        return CatalogObservation(observation.start(in: pool, onError: { _ in }, onChange: { _ in onChange() }))
    }
}

/// A running catalog observation, stopped by ``cancel()`` or when it is freed.
public final class CatalogObservation: Sendable {
    private let cancellable: AnyDatabaseCancellable

    init(_ cancellable: AnyDatabaseCancellable) {
        self.cancellable = cancellable
    }

    public func cancel() {
        cancellable.cancel()
    }
}
