// Listing: ListObjectsV2, ListObjects (v1) and ListObjectVersions (current objects only, version
// `null`), with prefix, delimiter (CommonPrefixes), max-keys, continuation-token / start-after /
// marker and `encoding-type=url`. Keys come in byte order from the catalog; a common prefix is
// skipped past in one step.
import Engine
import Foundation

extension S3Handlers {
    enum ListStyle { case v1, v2, versions }

    /// One listed entry: an object or a common prefix.
    enum ListEntry {
        case object(ObjectInfo)
        case prefix(String)
    }

    /// Past every key that starts with `prefix` (U+10FFFF is the largest scalar; no UTF-8 key
    /// continues a prefix with a larger lead byte).
    static func pastPrefix(_ prefix: String) -> String { prefix + "\u{10FFFF}" }

    /// Up to `limit` entries after `cursor` (exclusive), grouping by `delimiter`; and whether more follow.
    func collect(bucket: String, prefix: String, delimiter: String, after cursor: String?, limit: Int) throws -> (entries: [ListEntry], truncated: Bool, next: String?) {
        var entries: [ListEntry] = []
        var cursor = cursor
        // A marker inside a common prefix that is the prefix itself: continue past it.
        if let marker = cursor, !delimiter.isEmpty, marker.hasPrefix(prefix), marker.hasSuffix(delimiter),
            marker.dropFirst(prefix.count).contains(delimiter) {
            cursor = Self.pastPrefix(marker)
        }
        while true {
            let batch = try engine.listObjects(volume: bucket, prefix: prefix, startAfter: cursor, limit: Self.maxKeys + 1)
            if batch.isEmpty { return (entries, false, nil) }
            var index = 0
            while index < batch.count {
                let object = batch[index]
                let rest = object.key.dropFirst(prefix.count)
                if !delimiter.isEmpty, let range = rest.range(of: delimiter) {
                    let common = prefix + rest[..<range.upperBound]
                    if entries.count == limit { return (entries, true, cursor) }
                    entries.append(.prefix(common))
                    cursor = Self.pastPrefix(common)
                    // Skip what this batch holds under the same prefix; the next query starts past it.
                    while index < batch.count, batch[index].key.hasPrefix(common) { index += 1 }
                    continue
                }
                if entries.count == limit { return (entries, true, cursor) }
                entries.append(.object(object))
                cursor = object.key
                index += 1
            }
            if batch.count <= Self.maxKeys { return (entries, false, nil) }
        }
    }

    func listObjects(_ request: HTTPRequest, _ context: RequestContext, bucket: String, style: ListStyle) throws -> HTTPResponse {
        let principal = try require(.read, bucket, context)
        _ = try engine.volume(named: bucket)
        let prefix = try Self.query(request, "prefix") ?? ""
        let delimiter = try Self.query(request, "delimiter") ?? ""
        let maxKeys = try Self.count(request, "max-keys", cap: Self.maxKeys) ?? Self.maxKeys
        let urlEncoded: Bool
        switch try Self.query(request, "encoding-type") {
        case nil: urlEncoded = false
        case "url": urlEncoded = true
        default: throw S3Error.invalidArgument("Invalid Encoding Method specified in Request")
        }
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
        case .versions: cursor = try Self.query(request, "key-marker").flatMap { $0.isEmpty ? nil : $0 }
        }
        let (entries, truncated, next) = maxKeys == 0
            ? ([], !(try engine.listObjects(volume: bucket, prefix: prefix, startAfter: cursor, limit: 1)).isEmpty, cursor)
            : try collect(bucket: bucket, prefix: prefix, delimiter: delimiter, after: cursor, limit: maxKeys)
        var xml = S3XML()
        let root = style == .v2 ? "ListBucketResult" : style == .v1 ? "ListBucketResult" : "ListVersionsResult"
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
        case .versions:
            xml.element("KeyMarker", encode(try Self.query(request, "key-marker") ?? ""))
            xml.element("VersionIdMarker", try Self.query(request, "version-id-marker") ?? "")
        }
        xml.element("MaxKeys", maxKeys)
        if !delimiter.isEmpty { xml.element("Delimiter", encode(delimiter)) }
        if urlEncoded { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", truncated)
        if truncated, let next {
            switch style {
            case .v2: xml.element("NextContinuationToken", Data(next.utf8).base64EncodedString())
            case .v1: xml.element("NextMarker", encode(next))
            case .versions:
                xml.element("NextKeyMarker", encode(next))
                xml.element("NextVersionIdMarker", "null")
            }
        }
        let ownerWanted = try Self.query(request, "fetch-owner") == "true"
        let fetchOwner = style != .v2 || ownerWanted
        for entry in entries {
            switch entry {
            case .object(let info):
                xml.open(style == .versions ? "Version" : "Contents")
                xml.element("Key", encode(info.key))
                if style == .versions {
                    xml.element("VersionId", "null")
                    xml.element("IsLatest", true)
                }
                xml.element("LastModified", Self.iso8601(info.modifiedAt))
                xml.element("ETag", Self.quoted(info.etag))
                xml.element("Size", info.size)
                xml.element("StorageClass", "STANDARD")
                if fetchOwner { Self.owner(&xml, principal) }
                xml.close(style == .versions ? "Version" : "Contents")
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
