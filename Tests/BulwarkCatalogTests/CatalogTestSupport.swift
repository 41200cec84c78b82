import BulwarkCatalog
import BulwarkCore
import Foundation
import Testing
import TestSupport

/// A fixed moment (whole seconds: the catalog stores milliseconds) so tests never depend on the clock.
let t0 = Date(timeIntervalSince1970: 1_790_000_000)

/// Runs `body` with a fresh catalog in a temporary directory, removed afterwards.
func withCatalog(_ body: (Catalog, TemporaryDirectory) async throws -> Void) async throws {
    let directory = try TemporaryDirectory("bulwark-catalog")
    defer { directory.cleanUp() }
    let catalog = try await Catalog.open(path: directory.file("catalog.sqlite"))
    try await body(catalog, directory)
}

/// A distinct fake SHA-256 digest per seed.
func digest(_ seed: UInt8) -> TokenDigest {
    TokenDigest((0..<32).map { seed &+ UInt8($0) &* 7 })!
}

func name(_ text: String) -> ResourceName { try! ResourceName(text) }

func path(_ text: String) -> AbsolutePath { try! AbsolutePath(parsing: text) }

func vmRef(_ text: String) -> VMReference { try! VMReference(parsing: text) }

func reported(_ name: String, uuid: UUID = UUID(), disks: Int = 1, state: VMState = .running) -> ReportedVM {
    ReportedVM(
        uuid: uuid, name: name, state: state, guestAgentAnswering: true,
        disks: (0..<disks).map { index in
            VMDisk(
                target: "vd\(Character(UnicodeScalar(UInt8(97 + index))))", format: "qcow2",
                capacityBytes: Int64(index + 1) << 30, path: "/var/lib/libvirt/images/\(name)-\(index).qcow2")
        })
}

/// Enrolls `host` without a token.
@discardableResult
func addHost(_ catalog: Catalog, _ host: String) async throws -> AgentInfo {
    try await catalog.upsertAgent(
        AgentRegistration(host: host, certificateFingerprint: "fp-\(host)", certificatePEM: "PEM \(host)"), now: t0)
}

/// Expects `body` to fail with a ``CatalogError`` of `code` whose message holds every fragment.
func expectCatalogError<T>(
    _ code: CatalogError.Code, _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        Issue.record("expected a \(code) error, but the call succeeded", sourceLocation: sourceLocation)
    } catch let error as CatalogError {
        #expect(error.code == code, "\(error.code): \(error.message)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(error.message.contains(fragment), "'\(error.message)' lacks '\(fragment)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a CatalogError, got \(error)", sourceLocation: sourceLocation)
    }
}
