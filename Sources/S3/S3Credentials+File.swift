#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension S3Credentials {
    /// Reads credentials from a file of `access_key = ...` and `secret_key = ...` lines (blank lines and `#` comments
    /// ignored).
    ///
    /// The file must be a regular file (not a symlink) owned by the running user with mode 0600 or 0400: anyone else
    /// who can read it can use the bucket, and anyone who can write it can point us at their own keys.
    public static func load(file path: String) throws(S3Error) -> S3Credentials {
        // O_NOFOLLOW and fstat on the opened descriptor: the checks hold for the very file read, not a swapped one.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let number = errno
            if number == ELOOP {
                throw S3Error(
                    .credentialsFile,
                    "the S3 credentials file \(path) is a symlink; refer to the real file instead, so that its owner and "
                        + "mode are the ones checked")
            }
            throw S3Error(
                .credentialsFile,
                "cannot open the S3 credentials file \(path): \(String(cString: strerror(number))); create it with "
                    + "lines `access_key = ...` and `secret_key = ...` and `chmod 600` it")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw S3Error(.credentialsFile, "cannot stat the S3 credentials file \(path): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw S3Error(.credentialsFile, "the S3 credentials file \(path) is not a regular file")
        }
        guard info.st_uid == geteuid() else {
            throw S3Error(
                .credentialsFile,
                "the S3 credentials file \(path) belongs to uid \(info.st_uid), not to the user running this (uid "
                    + "\(geteuid())); `chown` it to that user")
        }
        let mode = info.st_mode & 0o777
        guard mode == 0o600 || mode == 0o400 else {
            throw S3Error(
                .credentialsFile,
                "the S3 credentials file \(path) has mode \(String(mode, radix: 8)): others may read or change the "
                    + "keys; run `chmod 600 \(path)`")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw S3Error(.credentialsFile, "cannot read the S3 credentials file \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
            guard bytes.count <= 64 << 10 else {
                throw S3Error(.credentialsFile, "the S3 credentials file \(path) is over 64 KiB: it is not a credentials file")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw S3Error(.credentialsFile, "the S3 credentials file \(path) is not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    /// Parses the credentials file's text; errors name lines by number, never by content, which may be the secret.
    static func parse(_ text: String, path: String) throws(S3Error) -> S3Credentials {
        let format = "lines `access_key = ...` and `secret_key = ...`"
        var values: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw S3Error(.credentialsFile, "line \(index + 1) of the S3 credentials file \(path) has no `=`; write \(format)")
            }
            let name = line[..<equals].trimmingSpaces
            let value = line[line.index(after: equals)...].trimmingSpaces
            guard name == "access_key" || name == "secret_key" else {
                throw S3Error(
                    .credentialsFile,
                    "line \(index + 1) of the S3 credentials file \(path) sets an unknown name; write \(format)")
            }
            guard values[name] == nil else {
                throw S3Error(.credentialsFile, "the S3 credentials file \(path) sets \(name) twice (line \(index + 1))")
            }
            guard !value.isEmpty, !value.contains(where: { $0 == " " || $0 == "\t" }) else {
                throw S3Error(
                    .credentialsFile,
                    "\(name) on line \(index + 1) of the S3 credentials file \(path) is empty or has spaces inside")
            }
            values[name] = value
        }
        guard let accessKey = values["access_key"], let secretKey = values["secret_key"] else {
            let missing = values["access_key"] == nil ? "access_key" : "secret_key"
            throw S3Error(.credentialsFile, "the S3 credentials file \(path) has no \(missing); write \(format)")
        }
        return S3Credentials(accessKey: accessKey, secretKey: secretKey)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" || first == "\r" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" { slice.removeLast() }
        return String(slice)
    }
}
