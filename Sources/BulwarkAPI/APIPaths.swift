/// Where a local server keeps what its clients need, inside its data directory.
public enum DataDirectoryLayout {
    /// The server's address as a URL (`https://127.0.0.1:9443`), written on start.
    public static let addressFile = "address"
    /// The certificate of the server's own CA, which clients trust.
    public static let caCertificateFile = "ca.pem"
    /// The admin token for local use (mode 0600).
    public static let adminTokenFile = "admin.token"
    /// The default data directory.
    public static let defaultPath = "/var/lib/bulwark"
}
