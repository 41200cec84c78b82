import BulwarkCore
import Foundation
import Testing

@Suite struct SizeAndDurationTests {
    static let sizes: [(String, Int64)] = [
        ("4M", 4_194_304), ("64K", 65_536), ("64k", 65_536), ("16MiB", 16_777_216), ("1G", 1_073_741_824),
        ("2GiB", 2_147_483_648), ("1T", 1_099_511_627_776), ("512", 512), ("512B", 512), ("4 MiB", 4_194_304),
    ]

    @Test(arguments: sizes)
    func parsesSizes(_ text: String, _ bytes: Int64) throws {
        #expect(try ByteCount.parse(text, field: "size") == bytes)
    }

    @Test(arguments: [("4MB", "ambiguous"), ("4X", "unknown unit"), ("M", "whole number"), ("", "whole number"),
                      ("-4M", "whole number"), ("99999999999T", "too large"), ("1.5M", "unknown unit")])
    func refusesBadSizes(_ text: String, _ rule: String) {
        #expect {
            try ByteCount.parse(text, field: "--chunk-size")
        } throws: { error in
            (error as? ValidationError).map { $0.rule.contains(rule) && $0.field == "--chunk-size" } ?? false
        }
    }

    @Test func formatsInTheLargestExactUnit() {
        #expect(ByteCount.format(4 << 20) == "4 MiB")
        #expect(ByteCount.format(65536) == "64 KiB")
        #expect(ByteCount.format(1536) == "1536 B")
        #expect(ByteCount.format(1000) == "1000 B")
        #expect(ByteCount.format(0) == "0 B")
    }

    @Test func chunkSizesArePowersOfTwoFrom64KiBTo16MiB() throws {
        #expect(ChunkSize.default.bytes == 4 << 20)
        #expect(try ChunkSize(parsing: "64K").bytes == 65536)
        #expect(try ChunkSize(parsing: "16MiB").bytes == 16 << 20)
        #expect(try ChunkSize(parsing: "4M") == .default)
        #expect(ChunkSize.default.description == "4MiB")
        #expect(try ChunkSize(parsing: ChunkSize.default.description) == .default)
        #expect(try ChunkSize(bytes: 1 << 20).bytes == 1 << 20)
        for (text, rule) in [("3M", "power of two"), ("32K", "64 KiB to 16 MiB"), ("32M", "64 KiB to 16 MiB"),
                             ("100000", "power of two"), ("0", "power of two")] {
            #expect {
                try ChunkSize(parsing: text)
            } throws: { error in
                (error as? ValidationError).map { $0.rule.contains(rule) && $0.value == text } ?? false
            }
        }
        let data = try JSONEncoder().encode(try ChunkSize(parsing: "1M"))
        #expect(try JSONDecoder().decode(ChunkSize.self, from: data).bytes == 1 << 20)
    }

    static let durations: [(String, Int64)] = [("30s", 30), ("30m", 1800), ("24h", 86_400), ("7d", 604_800), ("2w", 1_209_600)]

    @Test(arguments: durations)
    func parsesDurations(_ text: String, _ seconds: Int64) throws {
        #expect(try TimeSpan(parsing: text).seconds == seconds)
        #expect(try TimeSpan(parsing: TimeSpan(parsing: text).description).seconds == seconds)
    }

    @Test func printsDurationsInTheLargestExactUnit() {
        #expect(TimeSpan(seconds: 86_400).description == "1d")
        #expect(TimeSpan(seconds: 5400).description == "90m")
        #expect(TimeSpan(seconds: 61).description == "61s")
    }

    @Test(arguments: ["", "24", "h", "0h", "1.5h", "24H", "1y", "-1h", "1h30m", "99999999999999999w"])
    func refusesBadDurations(_ text: String) {
        #expect(throws: ValidationError.self) { try TimeSpan(parsing: text, field: "--expires") }
    }

    @Test func enrollmentTokensLiveFrom5MinutesTo30Days() throws {
        #expect(EnrollmentTokenLifetime.default.seconds == 86_400)
        #expect(try EnrollmentTokenLifetime.parse("5m").seconds == 300)
        #expect(try EnrollmentTokenLifetime.parse("30d").seconds == 30 * 86_400)
        #expect {
            try EnrollmentTokenLifetime.parse("31d")
        } throws: { error in
            (error as? ValidationError).map { $0.field == "--expires" && $0.rule.contains("5m to 30d") } ?? false
        }
        #expect(throws: ValidationError.self) { try EnrollmentTokenLifetime.parse("4m") }
    }

    @Test func absolutePathsAreCanonicalAndNest() throws {
        #expect(try AbsolutePath(parsing: "/srv//backup/./main/").path == "/srv/backup/main")
        #expect(try AbsolutePath(parsing: "/").path == "/")
        let parent = try AbsolutePath(parsing: "/srv/backup")
        #expect(parent.contains(try AbsolutePath(parsing: "/srv/backup/main")))
        #expect(parent.contains(parent))
        #expect(!parent.contains(try AbsolutePath(parsing: "/srv/backup2")))
        #expect(!(try AbsolutePath(parsing: "/srv/backup/main")).contains(parent))
        #expect(try AbsolutePath(parsing: "/").contains(parent))
        #expect(throws: ValidationError.self) { try AbsolutePath(parsing: "srv/backup") }
        #expect(throws: ValidationError.self) { try AbsolutePath(parsing: "/srv/../etc") }
        #expect(throws: ValidationError.self) { try AbsolutePath(parsing: "") }
    }
}
