// swift-tools-version:6.2
import PackageDescription

/// Settings every Bulwark target shares: Swift 6 mode with strict concurrency, and warnings fail the build.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "Bulwark",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bulwarkd", targets: ["bulwarkd"]),
        .executable(name: "bulwark-agent", targets: ["bulwark-agent"]),
        .executable(name: "bulwark", targets: ["bulwark"]),
        .executable(name: "bulwark-guest-reader", targets: ["bulwark-guest-reader"]),
        .library(name: "Libvirt", targets: ["Libvirt"]),
        .library(name: "NBD", targets: ["NBD"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
    ],
    targets: [
        // C libraries, found through pkg-config; the providers tell SwiftPM which Debian package to suggest.
        .systemLibrary(name: "CLibvirt", pkgConfig: "libvirt", providers: [.apt(["libvirt-dev"])]),
        .systemLibrary(name: "CNBD", pkgConfig: "libnbd", providers: [.apt(["libnbd-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        // libvirt speaks XML; libxml2 (libvirt's own XML library) reads and writes it strictly.
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        // libext2fs (e2fsprogs) with an I/O manager over a recovery point: item-level recovery reads guest ext2/3/4
        // file systems straight from the datastore, without mounting anything.
        .target(
            name: "CExt2",
            linkerSettings: [.linkedLibrary("ext2fs"), .linkedLibrary("com_err")]),
        // Guest file systems inside a recovery point, for item-level recovery: no I/O of its own but the disk reads
        // it is given, and the writes into the target folder.
        // libguestfs (LVM, XFS, NTFS), opened with dlopen where it is installed: only its header is needed to build.
        .target(name: "CGuestfs"),
        .target(name: "GuestFiles", dependencies: ["CExt2", "CGuestfs", "NBDServer"], swiftSettings: swiftSettings),
        // Linux calls the C library has but Swift's Glibc module does not declare (syncfs).
        .systemLibrary(name: "CLinux"),

        // Domain XML read strictly, and the allow-list a recovery point's definition passes before any host runs it:
        // no I/O, so bulwarkd checks commits with it without linking libvirt.
        .target(name: "DomainXML", dependencies: ["CLibXML2"], swiftSettings: swiftSettings),
        .target(name: "Libvirt", dependencies: ["CLibvirt", "DomainXML"], swiftSettings: swiftSettings),
        .target(name: "NBD", dependencies: ["CNBD"], swiftSettings: swiftSettings),
        // The NBD server side (no library offers it to Swift): read-only exports of recovery points.
        .target(name: "NBDServer", swiftSettings: swiftSettings),
        .target(name: "Zstd", dependencies: ["CZstd"], swiftSettings: swiftSettings),
        .target(name: "BulwarkCore", swiftSettings: swiftSettings),
        // The datastore's formats without its I/O (digests, chunk files, fixed indexes, chunk plans, manifests):
        // what the agent needs to cut, hash and encode chunks and to check what it restores.
        .target(
            name: "ChunkFormat",
            dependencies: ["BulwarkCore", "Zstd", "CDeflate", "CLinux", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        .target(
            name: "BulwarkStore",
            dependencies: ["BulwarkCore", "ChunkFormat", "Zstd", "CLinux", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        .target(
            name: "BulwarkCatalog",
            dependencies: ["BulwarkCore", .product(name: "GRDB", package: "GRDB.swift")],
            resources: [.copy("Schema")],
            swiftSettings: swiftSettings),

        .target(name: "BulwarkAPI", dependencies: ["BulwarkCore"], swiftSettings: swiftSettings),
        .target(
            name: "BulwarkServer",
            dependencies: [
                "BulwarkCore", "BulwarkAPI", "BulwarkCatalog", "BulwarkStore", "NBD", "NBDServer", "GuestFiles", "DomainXML",
                "S3", "S3Datastore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "BulwarkClient",
            dependencies: [
                "BulwarkAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        // A small S3 client (SigV4 by hand, path-style, retries, deadlines) for datastores on S3-compatible buckets.
        .target(
            name: "S3",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings),

        // The seam between a datastore and an S3 bucket: BulwarkStore's object store over the S3 client.
        .target(name: "S3Datastore", dependencies: ["BulwarkStore", "S3"], swiftSettings: swiftSettings),

        .target(
            name: "BulwarkAgent",
            dependencies: [
                "BulwarkCore", "BulwarkAPI", "ChunkFormat", "Libvirt", "DomainXML", "NBD", "GuestFiles",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: swiftSettings),

        .executableTarget(
            name: "bulwarkd",
            dependencies: [
                "BulwarkCore", "BulwarkServer", "BulwarkStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "bulwark-agent",
            dependencies: [
                "BulwarkCore", "BulwarkAgent", "ChunkFormat", "Libvirt", "GuestFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
        // Parses guest file systems for bulwarkd and bulwark-agent in a sandbox, never in their own processes.
        .executableTarget(
            name: "bulwark-guest-reader",
            dependencies: ["GuestFiles", "NBD", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "bulwark",
            dependencies: [
                "BulwarkCore", "BulwarkAPI", "BulwarkClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),

        .executableTarget(
            name: "bulwark-bench",
            dependencies: [
                "NBD", "BulwarkStore", "BulwarkCatalog", "BulwarkCore", "BulwarkServer", "GuestFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/bulwark-bench",
            swiftSettings: swiftSettings),
        // The S3 client against `aws s3 cp`, for bench/s3-objects.
        .executableTarget(
            name: "bulwark-s3-bench",
            dependencies: ["S3", .product(name: "NIOCore", package: "swift-nio")],
            path: "bench/bulwark-s3-bench",
            swiftSettings: swiftSettings),

        // libFuzzer targets over what guests write (partition tables, ext2/3/4 folders). scripts/fuzz builds them
        // with -sanitize=fuzzer and FUZZING defined; a plain build makes a replayer of the same inputs.
        .systemLibrary(name: "CFuzzer", path: "Tests/Fuzz/CFuzzer"),
        .executableTarget(
            name: "GuestFilesFuzzer",
            dependencies: ["GuestFiles", "CFuzzer"],
            path: "Tests/Fuzz/GuestFilesFuzzer",
            swiftSettings: swiftSettings),

        .target(
            name: "TestSupport",
            dependencies: ["Libvirt", "NBD"],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings),
        .testTarget(name: "DomainXMLTests", dependencies: ["DomainXML"], swiftSettings: swiftSettings),
        .testTarget(name: "LibvirtTests", dependencies: ["Libvirt", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "NBDTests", dependencies: ["NBD", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "NBDServerTests", dependencies: ["NBDServer", "NBD", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "GuestFilesTests", dependencies: ["GuestFiles", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "S3Tests",
            dependencies: ["S3", "TestSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        .testTarget(name: "ZstdTests", dependencies: ["Zstd"], swiftSettings: swiftSettings),
        .testTarget(name: "BulwarkCoreTests", dependencies: ["BulwarkCore"], swiftSettings: swiftSettings),
        .testTarget(name: "BulwarkStoreTests", dependencies: ["BulwarkStore", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "S3DatastoreTests", dependencies: ["S3Datastore", "BulwarkStore", "S3", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BulwarkServerTests",
            dependencies: [
                "BulwarkServer", "BulwarkClient", "BulwarkAPI", "BulwarkCatalog", "BulwarkCore", "BulwarkStore",
                "TestSupport", "NBD", "GuestFiles", "S3",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BulwarkCatalogTests",
            dependencies: ["BulwarkCatalog", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BulwarkAgentTests",
            dependencies: [
                "BulwarkAgent", "BulwarkAPI", "BulwarkStore", "ChunkFormat", "BulwarkCore", "Libvirt", "TestSupport",
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Libvirt", "NBD", "TestSupport", "BulwarkAgent", "BulwarkServer", "BulwarkClient", "BulwarkAPI",
                "BulwarkStore", "BulwarkCore", "DomainXML", "S3", "S3Datastore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
    ]
)
