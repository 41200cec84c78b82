import Foundation

/// Writes one line to standard error: diagnostics stay out of output that scripts parse.
public func printError(_ line: String) {
    FileHandle.standardError.write(Data((TerminalText.escaped(line) + "\n").utf8))
}
