import ArgumentParser
import BulwarkAPI
import BulwarkClient
import Foundation

/// `bulwark datastore ...`: where recovery points are kept.
struct DatastoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datastore",
        abstract: "Create and inspect datastores, the deduplicating stores that hold recovery points.",
        subcommands: [Create.self, Attach.self, List.self, Show.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a datastore: a folder on the server, or a bucket of S3-compatible object storage.",
            discussion: """
                NAME: 2–50 characters, a letter first, then letters, digits and hyphens. The chunk size is fixed \
                for the datastore's life: a power of two from 64K to 16M (default 4M).

                Local: --path DIR, an empty or missing folder, writable by bulwarkd, not inside another datastore.

                S3 (Ceph RGW, MinIO, AWS S3, ...): --s3 https://HOST:PORT --bucket B --credentials-file FILE. The \
                bucket must exist and hold no datastore under --prefix. FILE is a file on the server, of mode 0600, \
                with the lines `access_key = ...` and `secret_key = ...`: keys never go on a command line or into \
                the catalog. --ca names the PEM file of the CA that signed the gateway's certificate (default: the \
                system's CAs). The server keeps every index and a name for every chunk in a local cache folder \
                (--cache, default under its data directory) and, with --cache-size, evicts chunk contents beyond \
                that size; nothing is written to the bucket that refers to what is not there yet. (Here --ca is \
                the gateway's CA; the Bulwark server's own CA is --server-ca.)

                Examples:
                  bulwark datastore create main --path /srv/bulwark/main
                  bulwark datastore create offsite --s3 https://rgw.example:7480 --bucket backups \\
                      --prefix site-a --credentials-file /etc/bulwark/s3.keys --ca /etc/bulwark/rgw-ca.pem --cache-size 50G
                """)

        @Argument(help: "The datastore's name.") var name: String
        @OptionGroup var location: DatastoreLocationOptions
        @Option(name: .long, help: "Chunk size, e.g. 1M, 4M, 16M.") var chunkSize: String?
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptionsWithServerCA

        func run() async throws {
            let request = location.request(name: name, chunkSize: chunkSize)
            let view: DatastoreView = try await server.withClient { client throws(ClientError) in
                try await client.post("/v1/datastores", request)
            }
            if json { return try printJSON(view) }
            if let s3 = view.s3 {
                print("created datastore \(view.name) in bucket \(s3.bucket) at \(s3.endpoint), cache at \(view.path)")
            } else {
                print("created datastore \(view.name) at \(view.path)")
            }
        }
    }

    struct Attach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring a datastore another server wrote into this server's catalog (disaster recovery).",
            discussion: """
                For a server rebuilt after losing its data directory: the datastore's points, read from their \
                manifests, are listed again and every recovery works from them. VMs the catalog does not know are \
                added without a host; the agent that reports them next takes them. Points keep the retention their \
                manifests record (30 days from now when they record none); they belong to no group until the VMs \
                are protected again, and the next sync of a VM is a full one. Give the datastore's folder (--path) \
                or its bucket (the S3 options of `datastore create`; a missing or empty --cache folder is made from \
                the bucket). Damaged manifests are listed and left out.

                A datastore whose writer's heartbeat (renewed with each catalog copy, hourly by default) is recent is \
                refused: two servers writing one datastore would collect each other's chunks. --read-only attaches \
                it for restores only: no group keeps points in it, and retention, garbage collection and verify's \
                quarantine leave it alone.

                Examples:
                  bulwark datastore attach main --path /srv/bulwark/main
                  bulwark datastore attach offsite --s3 https://rgw.example:7480 --bucket backups --prefix site-a \\
                      --credentials-file /etc/bulwark/s3.keys --ca /etc/bulwark/rgw-ca.pem
                """)

        @Argument(help: "The name the datastore gets in this server's catalog.") var name: String
        @OptionGroup var location: DatastoreLocationOptions
        @Flag(name: .long, help: "Restores only, while another server still writes to the datastore.") var readOnly = false
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptionsWithServerCA

        func run() async throws {
            var request = location.request(name: name, chunkSize: nil)
            request.readOnly = readOnly
            let result: DatastoreAttachResult = try await server.withClient { client throws(ClientError) in
                try await client.post("/v1/datastores/attach", request)
            }
            if json { return try printJSON(result) }
            print("attached datastore \(result.datastore.name) at \(result.datastore.path): \(result.points) points of \(result.vms) VMs")
            for problem in result.damaged { print("left out (damaged): \(problem)") }
            if !result.groups.isEmpty { print("groups restored: \(result.groups.joined(separator: ", "))") }
            for note in result.notes { print("note: \(note)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List datastores.")
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let views: [DatastoreView] = try await server.withClient { client throws(ClientError) in
                try await client.get("/v1/datastores")
            }
            if json { return try printJSON(views) }
            if views.isEmpty { return print("no datastores; create one with: bulwark datastore create NAME --path DIR") }
            printTable(
                ["NAME", "BACKEND", "WHERE", "CHUNK", "GROUPS"],
                views.map {
                    [
                        $0.name, $0.backend, $0.s3.map { "\($0.endpoint)/\($0.bucket)/\($0.prefix)" } ?? $0.path,
                        formatBytes(UInt64($0.chunkSize)), $0.groups.joined(separator: ","),
                    ]
                })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a datastore and its usage.")
        @Argument(help: "The datastore's name.") var name: String
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let view: DatastoreView = try await server.withClient { client throws(ClientError) in
                try await client.get("/v1/datastores/\(name.pathEscaped)")
            }
            if json { return try printJSON(view) }
            print("name          \(view.name)")
            print("backend       \(view.backend)\(view.readOnly ? ", attached read-only (restores only)" : "")")
            if let s3 = view.s3 {
                print("endpoint      \(s3.endpoint)")
                print("bucket        \(s3.bucket)\(s3.prefix.isEmpty ? "" : " (prefix \(s3.prefix))"), region \(s3.region)")
                let reachable = s3.reachable.map { $0 ? "yes" : "no" } ?? "unknown"
                print("reachable     \(reachable)")
                if let objects = s3.objects, let bytes = s3.bytes {
                    print("objects       \(objects), \(formatBytes(bytes))")
                }
                print("cache         \(view.path)\(s3.cacheSize.map { " (at most \(formatBytes($0)) of chunk data)" } ?? "")")
            } else {
                print("path          \(view.path)")
            }
            print("chunk size    \(formatBytes(UInt64(view.chunkSize)))")
            print("created       \(view.createdAt.formatted(.iso8601))")
            print("groups        \(view.groups.isEmpty ? "-" : view.groups.joined(separator: ", "))")
            if let usage = view.usage {
                print("points        \(usage.recoveryPoints)")
                print("logical       \(formatBytes(usage.logicalBytes))")
                let stored = view.s3 == nil ? "stored      " : "cached      "
                print("\(stored)  \(formatBytes(usage.storedBytes)) in \(usage.chunks) chunks")
                print("dedup         \(String(format: "%.2f", usage.dedupRatio))x")
                print("compression   \(String(format: "%.2f", usage.compressionRatio))x")
                if let free = usage.freeBytes { print("free          \(formatBytes(free))") }
            }
            print("catalog copy  \(view.catalogCopy.map { $0.formatted(.iso8601) } ?? "none yet")")
            if let problem = view.problem { print("problem       \(problem)") }
        }
    }
}

/// Where a datastore is: a folder on the server, or a bucket of S3-compatible object storage.
struct DatastoreLocationOptions: ParsableArguments {
    @Option(name: .long, help: "Absolute path of the folder on the server (local datastores).") var path: String?
    @Option(name: .customLong("s3"), help: "The S3 endpoint, http(s)://HOST[:PORT] (path-style addressing).")
    var endpoint: String?
    @Option(name: .long, help: "The bucket (S3).") var bucket: String?
    @Option(name: .long, help: "The region signatures are made for (S3, default us-east-1).") var region: String?
    @Option(name: .long, help: "A key prefix, so that datastores can share a bucket (S3).") var prefix: String?
    @Option(name: .long, help: "A file on the server, mode 0600, with access_key and secret_key (S3).")
    var credentialsFile: String?
    @Option(name: .customLong("ca"), help: "PEM file on the server of the CA of the gateway's certificate (S3).")
    var caFile: String?
    @Option(name: .customLong("cache"), help: "Folder on the server for the local cache (S3).") var cache: String?
    @Option(name: .long, help: "Chunk data the local cache keeps, e.g. 20G (S3, default: all).") var cacheSize: String?

    func validate() throws {
        if let endpoint {
            guard bucket != nil, credentialsFile != nil else {
                throw ValidationError(
                    "--s3 \(endpoint) needs --bucket NAME and --credentials-file FILE (a file on the server, mode 0600)")
            }
            guard path == nil else {
                throw ValidationError("--path is for local datastores; an S3 datastore's cache folder is --cache DIR")
            }
        } else {
            let s3Only = [
                ("--bucket", bucket), ("--region", region), ("--prefix", prefix),
                ("--credentials-file", credentialsFile), ("--ca", caFile), ("--cache", cache), ("--cache-size", cacheSize),
            ].filter { $0.1 != nil }.map(\.0)
            guard s3Only.isEmpty else {
                throw ValidationError("\(s3Only.joined(separator: ", ")) need --s3 URL (a datastore on S3)")
            }
            guard path != nil else {
                throw ValidationError("give --path DIR for a local datastore, or --s3 URL --bucket B --credentials-file FILE")
            }
        }
    }

    func request(name: String, chunkSize: String?) -> DatastoreCreateRequest {
        let s3 = endpoint.map {
            DatastoreCreateRequest.S3(
                endpoint: $0, bucket: bucket ?? "", region: region, prefix: prefix, credentialsFile: credentialsFile ?? "",
                caFile: caFile, cacheSize: cacheSize)
        }
        return DatastoreCreateRequest(name: name, path: path ?? cache, chunkSize: chunkSize, s3: s3)
    }
}
