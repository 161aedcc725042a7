// Virtual-host-style addressing (`https://bucket.s3.example.com/key`), which some SDKs and tools
// use by default: with `--s3-domain s3.example.com`, a Host of `<bucket>.s3.example.com` names the
// bucket, and the request is routed as `/<bucket>/key`. The signature still covers the path as
// sent (SigV4), or the bucket and path (SigV2's resource), as S3 computes them.
enum S3VirtualHost {
    /// The routed path of `path` sent to `host`; nil when the host names no bucket (the domain
    /// itself, an address, any other name): path-style as sent.
    static func path(_ path: String, host: String?, domain: String) -> String? {
        guard var name = host?.lowercased(), !name.hasPrefix("[") else { return nil }
        if let colon = name.lastIndex(of: ":") { name = String(name[..<colon]) }
        if name.hasSuffix(".") { name.removeLast() }
        let suffix = "." + domain
        guard name.utf8.count > suffix.utf8.count, name.hasSuffix(suffix) else { return nil }
        let bucket = name.dropLast(suffix.count)
        // Only a name a bucket could have: a Host with '/', '%' or the like is no bucket's (and is
        // left path-style, where it names nothing).
        guard bucket.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E }) else { return nil }
        return "/" + bucket + (path.hasPrefix("/") ? path : "/" + path)
    }
}
