// Listing: ListObjectsV2 and ListObjects (v1) (ListObjectVersions: S3VersionHandlers.swift), with prefix, delimiter (CommonPrefixes), max-keys, continuation-token / start-after /
// marker and `encoding-type=url`. Keys come in byte order from the catalog and are grouped on their
// bytes; a common prefix is skipped past in one step.
import Engine
import Foundation

extension S3Handlers {
    enum ListStyle { case v1, v2 }

    /// One listed entry: an object or a common prefix.
    enum ListEntry {
        case object(ObjectInfo)
        case prefix(String)
    }

    /// Past every key that starts with `prefix` (U+10FFFF is the largest scalar; only a key that
    /// continues `prefix` with U+10FFFF itself sorts after it, and `collect` skips those).
    static func pastPrefix(_ prefix: String) -> String { prefix + "\u{10FFFF}" }

    /// The common prefix `key` is listed under: `prefix` and the rest of the key up to and
    /// including the first `delimiter`; nil when the key is listed as itself. On UTF-8 bytes, as
    /// the catalog orders and matches keys: Swift's `hasPrefix` and `range(of:)` compare
    /// characters (`"e\u{301}"` does not start with `"e"`; `"\r\n"` is one character).
    static func commonPrefix(_ key: String, prefix: String, delimiter: String) -> String? {
        let bytes = Array(key.utf8)
        let (prefixBytes, delimiterBytes) = (Array(prefix.utf8), Array(delimiter.utf8))
        guard !delimiterBytes.isEmpty, bytes.starts(with: prefixBytes) else { return nil }
        var start = prefixBytes.count
        while start + delimiterBytes.count <= bytes.count {
            if bytes[start..<start + delimiterBytes.count].elementsEqual(delimiterBytes) {
                // UTF-8 is self-synchronizing: a match of a whole-scalar delimiter ends on a scalar boundary.
                return String(decoding: bytes[..<(start + delimiterBytes.count)], as: UTF8.self)
            }
            start += 1
        }
        return nil
    }

    /// Up to `limit` entries after `marker` (exclusive), grouping by `delimiter`; whether more
    /// follow, and the marker to continue from (the last key, or the last common prefix, listed).
    /// Every comparison is on UTF-8 bytes; each catalog query starts strictly past the previous one.
    func collect(bucket: String, prefix: String, delimiter: String, after marker: String?, limit: Int) throws -> (
        entries: [ListEntry], truncated: Bool, next: String?
    ) {
        var entries: [ListEntry] = []
        var next: String?
        var cursor = marker
        /// The common prefix listed last: keys under it are skipped.
        var listed: String?
        // A marker that is a common prefix itself (as `next` gives it): that prefix was listed.
        if let marker, let common = Self.commonPrefix(marker, prefix: prefix, delimiter: delimiter), common.sameBytes(as: marker) {
            listed = common
            cursor = Self.pastPrefix(common)
        }
        func advance(to key: String) {
            if cursor.map({ Engine.keyPrecedes($0, key) }) ?? true { cursor = key }
        }
        while true {
            let batch = try engine.listObjects(volume: bucket, prefix: prefix, startAfter: cursor, limit: Self.maxKeys + 1)
            for object in batch {
                if let listed, object.key.utf8.starts(with: listed.utf8) {
                    advance(to: object.key)
                    continue
                }
                if entries.count == limit { return (entries, true, next) }
                if let common = Self.commonPrefix(object.key, prefix: prefix, delimiter: delimiter) {
                    entries.append(.prefix(common))
                    (listed, next) = (common, common)
                    // The next query starts past the prefix (the rest of this batch is skipped above).
                    cursor = Self.pastPrefix(common)
                } else {
                    entries.append(.object(object))
                    next = object.key
                }
                advance(to: object.key)
            }
            if batch.count <= Self.maxKeys { return (entries, false, nil) }
        }
    }

    /// What every listing takes: prefix, delimiter, max-keys (capped), and encoding-type=url.
    static func listParameters(_ request: HTTPRequest) throws -> (prefix: String, delimiter: String, maxKeys: Int, urlEncoded: Bool) {
        let prefix = try query(request, "prefix") ?? ""
        let delimiter = try query(request, "delimiter") ?? ""
        let maxKeys = try count(request, "max-keys", cap: maxKeys) ?? maxKeys
        switch try query(request, "encoding-type") {
        case nil: return (prefix, delimiter, maxKeys, false)
        case "url": return (prefix, delimiter, maxKeys, true)
        default: throw S3Error.invalidArgument("Invalid Encoding Method specified in Request")
        }
    }

    func listObjects(_ request: HTTPRequest, _ context: RequestContext, bucket: String, style: ListStyle) throws -> HTTPResponse {
        let principal = try require(.read, bucket, context)
        _ = try engine.volume(named: bucket)
        let (prefix, delimiter, maxKeys, urlEncoded) = try Self.listParameters(request)
        func encode(_ text: String) -> String { urlEncoded ? SigV4.uriEncode(text, encodeSlash: false) : text }
        var cursor: String?
        let token = try Self.query(request, "continuation-token")
        switch style {
        case .v2:
            if let token {
                guard let data = Data(base64Encoded: token), let decoded = String(data: data, encoding: .utf8) else {
                    throw S3Error.invalidArgument("The continuation token provided is incorrect")
                }
                cursor = decoded
            } else {
                cursor = try Self.query(request, "start-after").flatMap { $0.isEmpty ? nil : $0 }
            }
        case .v1: cursor = try Self.query(request, "marker").flatMap { $0.isEmpty ? nil : $0 }
        }
        let (entries, truncated, next) =
            maxKeys == 0
            ? ([], !(try engine.listObjects(volume: bucket, prefix: prefix, startAfter: cursor, limit: 1)).isEmpty, cursor)
            : try collect(bucket: bucket, prefix: prefix, delimiter: delimiter, after: cursor, limit: maxKeys)
        var xml = S3XML()
        let root = "ListBucketResult"
        xml.open(root, namespaced: true)
        xml.element("Name", bucket)
        xml.element("Prefix", encode(prefix))
        switch style {
        case .v2:
            if let token { xml.element("ContinuationToken", token) }
            if let startAfter = try Self.query(request, "start-after") { xml.element("StartAfter", encode(startAfter)) }
            xml.element("KeyCount", entries.count)
        case .v1:
            xml.element("Marker", encode(try Self.query(request, "marker") ?? ""))
        }
        xml.element("MaxKeys", maxKeys)
        if !delimiter.isEmpty { xml.element("Delimiter", encode(delimiter)) }
        if urlEncoded { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", truncated)
        if truncated, let next {
            switch style {
            case .v2: xml.element("NextContinuationToken", Data(next.utf8).base64EncodedString())
            case .v1: xml.element("NextMarker", encode(next))
            }
        }
        let ownerWanted = try Self.query(request, "fetch-owner") == "true"
        let fetchOwner = style != .v2 || ownerWanted
        for entry in entries {
            switch entry {
            case .object(let info):
                xml.open("Contents")
                xml.element("Key", encode(info.key))
                xml.element("LastModified", Self.iso8601(info.modifiedAt))
                xml.element("ETag", Self.quoted(info.etag))
                xml.element("Size", info.size)
                xml.element("StorageClass", "STANDARD")
                if fetchOwner { Self.owner(&xml, principal) }
                xml.close("Contents")
            case .prefix(let common):
                xml.open("CommonPrefixes")
                xml.element("Prefix", encode(common))
                xml.close("CommonPrefixes")
            }
        }
        xml.close(root)
        return S3XML.response(xml)
    }
}
