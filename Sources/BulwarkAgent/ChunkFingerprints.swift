public import Foundation

/// Where the agent keeps its fingerprint key and one `FingerprintMemo` per protected disk:
/// `<state>/fingerprints/key` and `<state>/fingerprints/<vm-uuid>/<disk>.memo`.
///
/// Everything here can be lost without harm: a missing, damaged or stale memo only means the next sync of that disk
/// computes every SHA-256 itself.
public struct ChunkFingerprints: Sendable {
    public let directory: String
    public let key: FingerprintKey

    /// Opens the folder, making it (mode 0700) and the key the first time.
    public static func open(directory: String) throws(AgentError) -> ChunkFingerprints {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw AgentError(.local, "cannot make the fingerprint folder \(directory)", cause: error)
        }
        let path = "\(directory)/key"
        if let bytes = FileManager.default.contents(atPath: path).map(Array.init),
            let key = FingerprintKey(fileBytes: bytes)
        {
            return ChunkFingerprints(directory: directory, key: key)
        }
        // No key, or not a key: a new one. Memos made under another key just never match.
        let (key, bytes) = FingerprintKey.random()
        try AgentIdentity.writeAtomically(Data(bytes), to: path, mode: 0o600)
        return ChunkFingerprints(directory: directory, key: key)
    }

    /// The memo file of disk `target` of VM `vm`.
    func path(vm: UUID, disk target: String) -> String {
        // Targets are libvirt's device names (vda, sdb); anything else is spelled in hex rather than trusted in a path.
        let plain = !target.isEmpty && !target.hasPrefix(".")
            && target.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) }
        let name = plain ? target : "x" + target.utf8.map { String(format: "%02x", $0) }.joined()
        return "\(directory)/\(vm.uuidString.lowercased())/\(name).memo"
    }

    /// The memo of a disk, or an empty one of `count` chunks; `problem` says why a memo on disk was dropped.
    public func memo(
        vm: UUID, disk target: String, chunkSize: Int, count: Int
    ) async -> (memo: FingerprintMemo, problem: String?) {
        let path = path(vm: vm, disk: target)
        return await runOffCooperativePool { () -> (FingerprintMemo, String?) in
            // No memo yet, or one an older agent made (after an upgrade): every chunk is hashed this once, and the
            // commit keeps a memo of this version.
            guard let data = FileManager.default.contents(atPath: path), !FingerprintMemo.isOlderVersion(Array(data)) else {
                return (FingerprintMemo(chunkSize: chunkSize, count: count), nil)
            }
            do {
                var memo = try FingerprintMemo(decoding: Array(data), chunkSize: chunkSize)
                memo.resize(to: count)
                return (memo, nil)
            } catch {
                return (FingerprintMemo(chunkSize: chunkSize, count: count), "fingerprint memo \(path): \(error)")
            }
        }
    }

    /// Keeps `memo` as the disk's, replacing the file in one rename.
    public func save(_ memo: FingerprintMemo, vm: UUID, disk target: String) async throws(AgentError) {
        let path = path(vm: vm, disk: target)
        let bytes = memo.encoded()
        try await runOffCooperativePool { () throws(AgentError) in
            do {
                try FileManager.default.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            } catch {
                throw AgentError(.local, "cannot make the folder of \(path)", cause: error)
            }
            try AgentIdentity.writeAtomically(Data(bytes), to: path, mode: 0o600)
        }
    }

}
