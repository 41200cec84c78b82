/// Text for a terminal: control characters a VM's or a file's name may carry (a guest names its files, an agent
/// its VMs) are shown as `\u{1B}` escapes instead of reaching the terminal, where an escape sequence could rewrite
/// the screen, hide a line or set the window title. Line feeds and tabs, which Bulwark's own output uses, stay.
public enum TerminalText {
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isEscaped) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            if isEscaped(scalar) {
                result += scalar.escaped(asASCII: true)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func isEscaped(_ scalar: Unicode.Scalar) -> Bool {
        scalar != "\n" && scalar != "\t" && scalar.properties.generalCategory == .control
    }
}
