import ArgumentParser
import Foundation
import GuestFiles

#if canImport(Glibc)
import Glibc
#endif

/// Reads a recovery point's guest file systems for bulwarkd or bulwark-agent, inside the sandbox they start it in
/// (see `GuestReaderSandbox`): the point's disks come from the parent's read-only NBD socket, requests arrive on
/// stdin and answers leave on stdout as `GuestReaderWire` frames. Not meant to be run by hand.
@main
struct GuestReaderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulwark-guest-reader",
        abstract: "Read guest file systems of a recovery point for bulwarkd, in a sandbox (not run by hand).")

    @Option(help: "The unix socket of the parent's NBD server.")
    var socket: String

    @Option(help: "A disk to read, by its export name (vda); repeat for each disk.")
    var disk: [String] = []

    @Flag(help: .hidden)
    var testFaults = false

    func run() throws {
        // The answers own stdout: whatever a library prints there goes to stderr instead.
        let answers = dup(1)
        dup2(2, 1)
        let channel = GuestReaderChannel(input: 0, output: answers)
        let browser: GuestBrowser
        do {
            let disks = try disk.map { try NBDGuestDisk(socket: socket, target: $0) }
            browser = try GuestBrowser(disks: disks, workFolder: "/tmp")
        } catch {
            // Every request is answered with why nothing can be read.
            let failure = (error as? GuestFilesError) ?? GuestFilesError(.corrupt, "cannot read the point's disks: \(error)")
            let payload = (try? JSONEncoder().encode(GuestReaderFailure(failure))).map { [UInt8]($0) } ?? []
            while let _ = try? channel.receive() {
                guard channel.send(.failure, payload) else { break }
            }
            return
        }
        GuestReaderService(browser: browser, channel: channel, testFaults: testFaults).run()
    }
}
