import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Logging
import NBD

/// Reads disk images an admin exported from a VM into the VM's initial replica (`POST /v1/seed`).
///
/// Each image is served by `qemu-nbd --read-only`, which libnbd starts itself, so qcow2 and raw images read alike
/// and holes are not read. Chunks are staged under the job and promoted with one flush, as a sync's uploads are.
/// The point records no checkpoint: the VM's next sync is a consistency check against it, which sends only what
/// changed since the export.
struct Seeder: Sendable {
    /// One disk's image, open.
    struct Image: Sendable {
        let target: String
        let path: String
        let format: String
        let export: NBDExport
        /// The image, held open while qemu-nbd may read it.
        let file: PinnedFile
    }

    let catalog: Catalog
    let datastores: Datastores
    let logger: Logger

    /// Opens every image and checks it against the VM's disks: one image per disk, each an absolute path to a
    /// readable qcow2 or raw file of exactly the disk's size. Throws before any job exists.
    static func open(_ disks: [SeedRequest.Disk], vm: VMInfo, datastores: Datastores) async throws -> [Image] {
        let known = vm.disks.map(\.target)
        guard !disks.isEmpty else {
            throw APIError.invalid(
                "name an image for each disk of VM \(vm.reference) (\(known.joined(separator: ", "))): --disk TARGET=PATH")
        }
        var seen = Set<String>()
        for disk in disks where !seen.insert(disk.target).inserted {
            throw APIError.invalid("disk \(disk.target) is named twice; give one image per disk")
        }
        for disk in disks where !known.contains(disk.target) {
            throw APIError.invalid(
                "VM \(vm.reference) has no disk \(disk.target); its disks are \(known.joined(separator: ", "))")
        }
        let missing = known.filter { !seen.contains($0) }
        guard missing.isEmpty else {
            throw APIError.invalid(
                "VM \(vm.reference) also has disk \(missing.joined(separator: ", ")); give an image for every disk, so that the replica is the whole VM")
        }
        var images: [Image] = []
        for disk in disks {
            guard let vmDisk = vm.disks.first(where: { $0.target == disk.target }) else { continue }
            guard disk.path.hasPrefix("/") else {
                throw APIError.invalid(
                    "image path '\(disk.path)' of disk \(disk.target) is not absolute; give the image's full path on the server")
            }
            // bulwarkd reads the image as root: no link may make it read another file (the CA key, a catalog),
            // and qemu-nbd reads the very file checked here, through the descriptor, whatever happens to the path.
            let file: PinnedFile
            let header: DiskImageFormat
            let reference: String?
            do {
                let path = disk.path
                (file, header, reference) = try await datastores.blocking { () throws -> (PinnedFile, DiskImageFormat, String?) in
                    let file = try PinnedFile.open(path, flags: O_RDONLY)
                    guard try file.status().st_mode & S_IFMT == S_IFREG else {
                        throw PinnedFileError(.invalidPath, path: path, message: "\(path) is not a regular file")
                    }
                    let (bytes, size) = try DiskImageFormat.readHeader(descriptor: file.descriptor, path: path)
                    return (file, DiskImageFormat.parse(header: bytes, fileSize: size), DiskImageFormat.externalReference(header: bytes))
                }
            } catch let error as PinnedFileError where error.errno == ENOENT {
                throw APIError.invalid(
                    "there is no image file at \(disk.path) (disk \(disk.target)) on the server; copy the exported image there first")
            } catch let error as PinnedFileError {
                throw APIError.invalid("image \(disk.path) of disk \(disk.target) cannot be used: \(error.message)")
            } catch {
                throw APIError.invalid("bulwarkd cannot read \(disk.path) (disk \(disk.target)): \(error)")
            }
            if let reference {
                // QEMU would open that file too, with bulwarkd's rights, and put its bytes in the point.
                throw APIError.invalid(
                    "the image \(disk.path) (disk \(disk.target)) is a qcow2 with \(reference), which bulwarkd does not read; export the disk as one standalone image (`qemu-img convert -O qcow2 IMAGE NEW`)")
            }
            // Anything without the qcow2 magic is read as raw; the size check below catches a format that is neither.
            let format: String
            switch header {
            case .qcow2(_, _, corrupt: true):
                throw APIError.invalid(
                    "the image \(disk.path) (disk \(disk.target)) is a qcow2 marked corrupt; repair it (`qemu-img check -r all`) or export the disk again")
            case .qcow2: format = "qcow2"
            case .notQcow2: format = "raw"
            }
            let export: NBDExport
            do {
                export = try await NBDExport.open(
                    QemuNBD.command(["--read-only", "--format=\(format)", file.stablePath]),
                    metaContexts: [MetaContext.baseAllocation], connections: 1)
            } catch {
                throw APIError.invalid(
                    "cannot read \(disk.path) (disk \(disk.target)) as a \(format) image with qemu-nbd: \(error); check that it is a whole qcow2 or raw image and that no running VM uses it")
            }
            guard export.size == UInt64(vmDisk.capacityBytes) else {
                throw APIError.invalid(
                    "the image \(disk.path) is \(export.size) bytes but disk \(disk.target) of VM \(vm.reference) is \(vmDisk.capacityBytes) bytes; export the disk as it is now")
            }
            images.append(Image(target: disk.target, path: disk.path, format: format, export: export, file: file))
        }
        return images
    }

    /// Reads the images into a recovery point and commits it; on any failure the job fails with the reason and
    /// no point is recorded (the chunks read so far are kept for the next attempt).
    func run(_ images: [Image], seed: SeedInfo) async {
        let id = seed.job.id
        var logger = logger
        logger[metadataKey: "job"] = "\(id)"
        logger[metadataKey: "vm"] = "\(seed.vm.reference)"
        let path = seed.datastorePath
        let job = id.description
        do {
            let store = try await datastores.store(at: path)
            guard store.chunkSize == seed.chunkSize else {
                throw ServerError(
                    .dataDirectory,
                    "the datastore at \(path) has \(store.chunkSize)-byte chunks but the catalog records \(seed.chunkSize); the folder was replaced")
            }
            let total = images.reduce(UInt64(0)) { $0 + $1.export.size }
            var done: UInt64 = 0
            var storedBytes: Int64 = 0
            var indexes: [String: FixedIndex] = [:]
            for image in images {
                let size = image.export.size
                let status = try await image.export.blockStatus(0..<size)
                let data = (status[MetaContext.baseAllocation] ?? []).filter { !$0.isZero }.map(\.range)
                let plan = ChunkPlan(
                    diskSize: size, chunkSize: store.chunkSize, data: ChunkPlan.merged(data), dirty: nil, base: nil,
                    zeroDigest: store.zeroDigest)
                var digests: [ChunkDigest] = []
                digests.reserveCapacity(plan.actions.count)
                for (index, action) in plan.actions.enumerated() {
                    let range = plan.range(ofChunk: index)
                    switch action {
                    case .zero: digests.append(store.zeroDigest)
                    case .carry(let digest): digests.append(digest)
                    case .read:
                        let bytes = try await image.export.read(
                            offset: range.lowerBound, length: Int(range.upperBound - range.lowerBound))
                        let result = try await datastores.blocking {
                            let chunk = EncodedChunk.encode(bytes, chunkSize: store.chunkSize)
                            return try store.stageEncodedChunk(chunk.bytes, digest: chunk.digest, job: job)
                        }
                        if result.isNew { storedBytes += Int64(result.storedBytes) }
                        digests.append(result.digest)
                    }
                    done += range.upperBound - range.lowerBound
                    if index % 64 == 63 {
                        _ = try await catalog.updateJob(id: id, JobUpdate(progress: Double(done) / Double(max(total, 1))))
                    }
                }
                indexes[image.target] = try FixedIndex(chunkSize: store.chunkSize, logicalSize: size, digests: digests)
                _ = try await catalog.appendJobLog(
                    id: id, level: .info,
                    message: "disk \(image.target): \(image.format) image \(image.path), \(plan.actions.count) chunks, \(plan.readCount) read")
            }
            let now = Date()
            let manifest = RecoveryPointManifest(
                pointID: RecoveryPointID.generate(), vmUUID: seed.vm.uuid, vmName: seed.vm.name, createdAt: now,
                domainXML: "", consistency: .crashConsistent, syncKind: .seed,
                labels: [
                    "job": job, "group": seed.group.rawValue,
                    "seeded-from": images.map { "\($0.target)=\($0.path)" }.joined(separator: ","),
                ], retainUntil: now.addingTimeInterval(TimeInterval(seed.retentionDays) * 86_400))
            let written = try await datastores.commitPoint(at: path, job: id, manifest: manifest, indexes: indexes)
            let point = NewRecoveryPoint(
                id: manifest.pointID, vmUUID: seed.vm.uuid, group: seed.group, datastore: seed.datastore,
                createdAt: written.createdAt, syncKind: .seed, consistency: .crashConsistent,
                logicalBytes: Int64(clamping: total), storedBytes: storedBytes, transferredBytes: 0,
                retainUntil: written.createdAt.addingTimeInterval(TimeInterval(seed.retentionDays) * 86_400))
            do {
                try await catalog.commitSeed(id: id, point: point)
            } catch {
                let reference = RecoveryPointRef(vm: seed.vm.uuid, point: manifest.pointID)
                try? await datastores.discardPoint(reference, at: path)
                throw error
            }
            logger.info("seeded the initial replica", metadata: ["point": "\(manifest.pointID)"])
        } catch {
            let reason = "seeding \(seed.vm.reference) from \(images.map(\.path).joined(separator: ", ")) failed: \(error)"
            logger.error("\(reason)")
            _ = try? await catalog.updateJob(id: id, JobUpdate(state: .failed, error: reason))
            await datastores.jobEnded(id, vm: seed.vm.uuid, at: path, logger: logger)
        }
    }
}
