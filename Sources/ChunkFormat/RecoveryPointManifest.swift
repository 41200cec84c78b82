public import BulwarkCore
public import Foundation

/// `manifest.json` of a recovery point: what the point is, which disks it holds and how it was made.
///
/// The manifest is written after every index, so its presence is what makes a point complete; it carries enough
/// (VM, domain XML, disks, checkpoint) for a catalog to be rebuilt from the datastore alone.
public struct RecoveryPointManifest: Codable, Hashable, Sendable {
    /// Whether the guest's file systems were quiesced when the point was taken.
    public enum Consistency: String, Codable, Hashable, Sendable {
        /// Like pulling the plug: what was on the disks at one instant.
        case crashConsistent = "crash-consistent"
        /// The guest agent froze the file systems (`fsfreeze`) while the checkpoint was made.
        case appConsistent = "app-consistent"
    }

    /// The kind of sync that made the point.
    public enum SyncKind: String, Codable, Hashable, Sendable {
        /// Every allocated block was read and sent (first backup of a disk).
        case full
        /// Only blocks the checkpoint's dirty bitmap marked were read.
        case incremental
        /// Every allocated block was read and compared with the previous index, because change tracking could
        /// not be trusted (checkpoint missing or inconsistent, disk resized, raw disk).
        case consistencyCheck = "consistency-check"
        /// A sync run just before a scheduled recovery point (MABS's express full backup).
        case expressFull = "express-full"
        /// Read from exported disk images by the server.
        case seed
    }

    /// One disk of the point.
    public struct Disk: Codable, Hashable, Sendable {
        /// The disk's target in the domain XML (`vda`); also the index file's name.
        public var target: String
        /// The disk's size in bytes.
        public var logicalSize: UInt64
        /// The index file in the point's folder (`vda.fidx`).
        public var indexFile: String
        /// SHA-256 (hex) of the whole index file.
        public var indexChecksum: String

        public init(target: String, logicalSize: UInt64, indexFile: String, indexChecksum: String) {
            self.target = target
            self.logicalSize = logicalSize
            self.indexFile = indexFile
            self.indexChecksum = indexChecksum
        }
    }

    /// The manifest format this build writes.
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    public var pointID: RecoveryPointID
    /// The VM's libvirt UUID.
    public var vmUUID: UUID
    /// The VM's libvirt name when the point was taken.
    public var vmName: String
    public var createdAt: Date
    /// The domain definition as libvirt gave it, for recovery.
    public var domainXML: String
    /// Filled in by ``Datastore/writeRecoveryPoint(manifest:indexes:)`` from the indexes it writes.
    public var disks: [Disk]
    public var consistency: Consistency
    public var syncKind: SyncKind
    /// The libvirt checkpoint the point was taken with; the next incremental sync starts from it.
    public var checkpointName: String?
    /// Free-form labels (protection group, who asked for the point, ...).
    public var labels: [String: String]
    /// Until when retention keeps the point, as its commit set it: with the labels (`host`, `group`, `kind`), what a
    /// server rebuilt from the datastore alone needs. Absent in points written before it was recorded.
    public var retainUntil: Date?

    public init(
        pointID: RecoveryPointID, vmUUID: UUID, vmName: String, createdAt: Date, domainXML: String,
        disks: [Disk] = [], consistency: Consistency, syncKind: SyncKind, checkpointName: String? = nil,
        labels: [String: String] = [:], retainUntil: Date? = nil
    ) {
        self.retainUntil = retainUntil
        formatVersion = Self.currentFormatVersion
        self.pointID = pointID
        self.vmUUID = vmUUID
        self.vmName = vmName
        self.createdAt = createdAt
        self.domainXML = domainXML
        self.disks = disks
        self.consistency = consistency
        self.syncKind = syncKind
        self.checkpointName = checkpointName
        self.labels = labels
    }

    /// The disk with target `target`, if the point has it.
    public func disk(_ target: String) -> Disk? {
        disks.first { $0.target == target }
    }
}
