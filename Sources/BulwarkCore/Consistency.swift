/// How consistent a recovery point's disks are. Raw values are stored: never change them.
public enum Consistency: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// As if the power had been cut: the guest was not frozen (no guest agent, `--quiesce never`, or shut off).
    case crashConsistent = "crash-consistent"
    /// The guest's filesystems were frozen through the QEMU guest agent while the checkpoint was made.
    case applicationConsistent = "application-consistent"

    public var description: String { rawValue }
}
