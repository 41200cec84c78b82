/// How long an agent enrollment token stays usable (`bulwark agent token --expires`): 5 minutes to 30 days,
/// 24 hours unless chosen.
///
/// A token is a bearer secret that makes a host trusted, so it should not outlive the installation it is made for;
/// 30 days covers shipping media to a remote site.
public enum EnrollmentTokenLifetime {
    public static let field = "--expires"
    public static let range = TimeSpan(seconds: 300)...TimeSpan(seconds: 30 * 86_400)
    public static let `default` = TimeSpan(seconds: 86_400)

    public static func parse(_ text: String) throws(ValidationError) -> TimeSpan {
        let span = try TimeSpan(parsing: text, field: field)
        guard range.contains(span) else {
            throw ValidationError(
                field: field, value: text, rule: "must be from 5m to 30d", fix: "choose e.g. 1h, 24h or 7d")
        }
        return span
    }
}
