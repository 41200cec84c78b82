import Foundation
import GuestFiles

#if FUZZING
import CFuzzer
#endif

/// The libFuzzer targets for what a guest writes and Bulwark parses: `GuestFilesFuzzer TARGET [libFuzzer
/// arguments]`, built by `scripts/fuzz` with `-sanitize=fuzzer` and `FUZZING` defined. A plain build makes it a
/// replayer instead: `GuestFilesFuzzer TARGET FILE-OR-FOLDER...` runs each input once, as the corpus test does.
@main
enum GuestFilesFuzzer {
    static let targets: [String: @Sendable ([UInt8]) -> Void] = [
        "partition-table": FuzzTargets.partitionTable,
        "ext2-directories": FuzzTargets.ext2Directories,
    ]

    /// The target libFuzzer's callback runs: set once in `main`, before the driver starts its only thread.
    nonisolated(unsafe) static var selected: @Sendable ([UInt8]) -> Void = { _ in }

    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2, let target = targets[arguments[1]] else {
            FileHandle.standardError.write(Data("usage: GuestFilesFuzzer \(targets.keys.sorted().joined(separator: "|")) [inputs or libFuzzer arguments]\n".utf8))
            exit(2)
        }
        selected = target
        #if FUZZING
        // libFuzzer sees the arguments after the target's name, under the program's own name.
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup(arguments[0])] + arguments.dropFirst(2).map { strdup($0) } + [nil]
        var argc = CInt(argv.count - 1)
        let status = argv.withUnsafeMutableBufferPointer { buffer in
            var pointer = buffer.baseAddress
            return LLVMFuzzerRunDriver(&argc, &pointer, fuzz)
        }
        exit(status)
        #else
        var inputs = 0
        for path in arguments.dropFirst(2) {
            for file in files(path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("cannot read \(file)\n".utf8))
                    exit(1)
                }
                target([UInt8](data))
                inputs += 1
            }
        }
        print("\(arguments[1]): \(inputs) inputs replayed")
        #endif
    }

    /// `path` itself, or the files in it when it is a folder.
    static func files(_ path: String) -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else { return [path] }
        return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
    }
}

#if FUZZING
/// libFuzzer's entry point, by the name its own (unused) main refers to: one input to the selected target.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    GuestFilesFuzzer.selected(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
#endif
