/// `POST /v1/seed`: make a VM's initial replica from disk images exported from it and brought to the server
/// (replica creation `manual`). The server reads the images itself; the VM's next sync is a consistency check that
/// sends only what changed since the export.
public struct SeedRequest: Codable, Sendable, Hashable {
    /// One disk's image.
    public struct Disk: Codable, Sendable, Hashable {
        /// The disk's target on the VM, such as `vda`.
        public var target: String
        /// The image file's absolute path on the server.
        public var path: String

        public init(target: String, path: String) {
            self.target = target
            self.path = path
        }
    }

    /// The VM: HOST/NAME, its UUID, or NAME when that is unique.
    public var vm: String
    /// One image for every disk of the VM.
    public var disks: [Disk]

    public init(vm: String, disks: [Disk]) {
        self.vm = vm
        self.disks = disks
    }
}
