/// How Bulwark runs `qemu-nbd`, the NBD server of QEMU's block layer, on a disk image.
public enum QemuNBD {
    /// glibc settings for `qemu-nbd`: freed request buffers stay in its heap for the next requests.
    ///
    /// qemu-nbd allocates a buffer for every request, and glibc serves one of 256 KiB (the size Bulwark's reads and
    /// writes go out in) with `mmap` and unmaps it when the request ends, so every byte written landed in a page the
    /// kernel had just faulted in and zeroed: measured here, a third of qemu-nbd's CPU time for a restore.
    public static let tunables = "glibc.malloc.mmap_threshold=16777216:glibc.malloc.trim_threshold=268435456"

    /// The environment to add to qemu-nbd's own.
    public static var environment: [String: String] { ["GLIBC_TUNABLES": tunables] }

    /// A qemu-nbd that libnbd starts and talks to over a socket it passes on (``NBDEndpoint/command(_:)``).
    public static func command(_ arguments: [String]) -> NBDEndpoint {
        .command(["env", "GLIBC_TUNABLES=\(tunables)", "qemu-nbd"] + arguments)
    }
}
