import BulwarkCore
import Testing

@Suite struct TerminalTextTests {
    @Test(arguments: [
        ("web1", "web1"),
        ("web\u{1b}]0;owned\u{07}1", "web\\u{1B}]0;owned\\u{07}1"),
        ("a\rb", "a\\rb"),
        ("lines\nand\ttabs", "lines\nand\ttabs"),
        ("c1\u{9b}31m", "c1\\u{009B}31m"),
        ("héllo 名前", "héllo 名前"),
    ])
    func controlCharactersAreEscaped(text: String, shown: String) {
        #expect(TerminalText.escaped(text) == shown)
    }
}
