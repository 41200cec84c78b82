extension S3Client {
    /// Every object whose key starts with `prefix`, in key order, following continuation tokens past S3's 1000 keys
    /// per page. Keys come back relative to the configuration's key prefix, like the keys given to ``put(key:body:ifNoneMatch:)-(_,[UInt8],_)``.
    public func list(prefix: String = "") async throws(S3Error) -> [S3Object] {
        var objects: [S3Object] = []
        var token: String?
        repeat {
            let page = try await listPage(prefix: prefix, continuationToken: token)
            objects += page.objects
            token = page.nextContinuationToken
        } while token != nil
        return objects
    }

    /// One page of ``list(prefix:)``: up to `maxKeys` objects from where `continuationToken` (from the previous
    /// page) says.
    public func listPage(prefix: String = "", continuationToken: String? = nil, maxKeys: Int = 1000)
        async throws(S3Error) -> S3ListPage
    {
        guard (1...1000).contains(maxKeys) else {
            throw S3Error(.invalidArgument, "a listing page holds 1 to 1000 keys, not \(maxKeys)")
        }
        let fullPrefix = configuration.keyPrefix + prefix
        var query: [(name: String, value: String)] = [("list-type", "2"), ("max-keys", "\(maxKeys)")]
        if !fullPrefix.isEmpty { query.append(("prefix", fullPrefix)) }
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        let what = "list objects under \"\(fullPrefix)\""
        let response = try await send(.GET, query: query, what: what)
        try check(response, what)
        var page = try S3ListPage(xml: response.bodyBytes)
        // By bytes, not characters: a key's first character could combine with the prefix's last into one.
        let cut = configuration.keyPrefix.utf8.count
        page.objects = page.objects.map { object in
            let key = String(decoding: object.key.utf8.dropFirst(cut), as: UTF8.self)
            return S3Object(key: key, size: object.size, etag: object.etag)
        }
        return page
    }
}
