/// The version every Bulwark program reports with `--version`.
public enum BulwarkVersion {
    public static let current = "0.1.0-dev"
}
