import Testing
import Zstd

@Suite struct ZstdTests {
    @Test func roundTripsCompressibleAndRandomData() throws {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        let packed = try Zstd.compress(zeros)
        #expect(packed.count < 1024)
        #expect(try Zstd.decompress(packed, expectedLength: zeros.count) == zeros)

        var generator = SystemRandomNumberGenerator()
        let random = (0..<65536).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(try Zstd.decompress(try Zstd.compress(random), expectedLength: random.count) == random)
    }

    @Test func rejectsCorruptFramesAndWrongLengths() throws {
        let packed = try Zstd.compress([UInt8](repeating: 7, count: 4096))
        #expect(throws: Zstd.Error.self) { try Zstd.decompress(packed, expectedLength: 4095) }
        #expect(throws: Zstd.Error.self) { try Zstd.decompress(packed, expectedLength: 4097) }
        var broken = packed
        broken[0] ^= 0xff
        #expect(throws: Zstd.Error.self) { try Zstd.decompress(broken, expectedLength: 4096) }
    }
}
