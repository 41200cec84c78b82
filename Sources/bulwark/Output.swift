import BulwarkCore
import Foundation

/// Writes `text` and a line feed to standard output, with control characters escaped (``TerminalText``): every
/// line this CLI prints goes through here, since names of VMs and guest files come from hosts and guests.
func print(_ text: String, terminator: String = "\n") {
    Swift.print(TerminalText.escaped(text), terminator: terminator)
}

/// Prints rows under a header, each column as wide as its widest cell.
func printTable(_ header: [String], _ rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
    for row in all {
        let cells = row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }
        print(cells.joined(separator: "  "))
    }
}

/// Bytes in binary units, e.g. `4.0 MiB`.
func formatBytes(_ bytes: UInt64) -> String {
    ByteCount.approximate(Int64(clamping: bytes))
}

extension String {
    /// The string as one URL path segment.
    var pathEscaped: String {
        addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? self
    }
}

extension String {
    /// The string as one URL query value.
    var queryEscaped: String {
        addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+?/"))) ?? self
    }
}
