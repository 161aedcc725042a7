// Versioning on the S3 endpoint: GetBucketVersioning / PutBucketVersioning (a volume's
// `versioning`), and ListObjectVersions: every version and delete marker of the bucket's keys,
// by key in byte order and newest first within a key, with prefix, delimiter (CommonPrefixes),
// max-keys and paging by key-marker / version-id-marker.
import Catalog
import Engine
import Foundation

extension S3Handlers {
    /// GetBucketVersioning: no Status while versioning was never enabled, as S3 answers.
    func getVersioning(bucket: String) throws -> HTTPResponse {
        let volume = try engine.volume(named: bucket)
        var xml = S3XML()
        xml.open("VersioningConfiguration", namespaced: true)
        switch volume.versioning {
        case .off: break
        case .enabled: xml.element("Status", "Enabled")
        case .suspended: xml.element("Status", "Suspended")
        }
        xml.close("VersioningConfiguration")
        return S3XML.response(xml)
    }

    /// PutBucketVersioning: `Status` Enabled or Suspended (MFA delete is not offered).
    func putVersioning(_ request: HTTPRequest, _ context: RequestContext, bucket: String) throws -> HTTPResponse {
        try require(.owner, bucket, context)
        _ = try engine.volume(named: bucket)
        let root = try XMLNode.parse(request.body)
        guard root.name == "VersioningConfiguration" else { throw S3Error.malformedXML("expected a VersioningConfiguration element") }
        if let mfa = root.child("MfaDelete")?.trimmedText, mfa != "Disabled" {
            guard mfa == "Enabled" else { throw S3Error.malformedXML("MfaDelete must be Enabled or Disabled") }
            throw S3Error.notImplemented("MFA delete")
        }
        guard let status = root.child("Status")?.trimmedText else { return HTTPResponse(status: 200) }
        let versioning: Versioning
        switch status {
        case "Enabled": versioning = .enabled
        case "Suspended": versioning = .suspended
        default: throw S3Error.malformedXML("Status must be Enabled or Suspended")
        }
        _ = try engine.setVersioning(named: bucket, versioning)
        return HTTPResponse(status: 200)
    }

    /// One entry of ListObjectVersions: a version, a delete marker (`info.deleteMarker`), or a common prefix.
    enum VersionEntry {
        case version(ObjectInfo)
        case prefix(String)
    }

    func listObjectVersions(_ request: HTTPRequest, _ context: RequestContext, bucket: String) throws -> HTTPResponse {
        let principal = try require(.read, bucket, context)
        _ = try engine.volume(named: bucket)
        let (prefix, delimiter, maxKeys, urlEncoded) = try Self.listParameters(request)
        func encode(_ text: String) -> String { urlEncoded ? SigV4.uriEncode(text, encodeSlash: false) : text }
        let keyMarker = try Self.query(request, "key-marker").flatMap { $0.isEmpty ? nil : $0 }
        let versionMarker = try Self.query(request, "version-id-marker").flatMap { $0.isEmpty ? nil : $0 }
        guard versionMarker == nil || keyMarker != nil else {
            throw S3Error.invalidArgument("A version-id marker cannot be specified without a key marker.")
        }
        let version = try versionMarker.map { raw in
            guard let version = VersionID(parsing: raw) else { throw S3Error.invalidArgument("Invalid version id marker") }
            return version
        }
        let (entries, next) = try collectVersions(
            bucket: bucket, prefix: prefix, delimiter: delimiter, after: keyMarker.map { ($0, version) }, limit: maxKeys)
        var xml = S3XML()
        xml.open("ListVersionsResult", namespaced: true)
        xml.element("Name", bucket)
        xml.element("Prefix", encode(prefix))
        xml.element("KeyMarker", encode(keyMarker ?? ""))
        xml.element("VersionIdMarker", versionMarker ?? "")
        xml.element("MaxKeys", maxKeys)
        if !delimiter.isEmpty { xml.element("Delimiter", encode(delimiter)) }
        if urlEncoded { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", next != nil)
        if let next {
            xml.element("NextKeyMarker", encode(next.key))
            if let version = next.version { xml.element("NextVersionIdMarker", version.description) }
        }
        for entry in entries {
            switch entry {
            case .version(let info):
                let element = info.deleteMarker ? "DeleteMarker" : "Version"
                xml.open(element)
                xml.element("Key", encode(info.key))
                xml.element("VersionId", info.versionID.description)
                xml.element("IsLatest", info.isLatest)
                xml.element("LastModified", Self.iso8601(info.modifiedAt))
                if !info.deleteMarker {
                    xml.element("ETag", Self.quoted(info.etag))
                    xml.element("Size", info.size)
                    xml.element("StorageClass", "STANDARD")
                }
                Self.owner(&xml, principal)
                xml.close(element)
            case .prefix(let common):
                xml.open("CommonPrefixes")
                xml.element("Prefix", encode(common))
                xml.close("CommonPrefixes")
            }
        }
        xml.close("ListVersionsResult")
        return S3XML.response(xml)
    }

    /// Up to `limit` entries after `marker` (a key, and a version of it: the older versions
    /// follow; without a version, the keys after it), grouped by `delimiter`; the marker to
    /// continue from when more follow (nil: this is the last page).
    func collectVersions(
        bucket: String, prefix: String, delimiter: String, after marker: (key: String, version: VersionID?)?, limit: Int
    ) throws -> (entries: [VersionEntry], next: (key: String, version: VersionID?)?) {
        var entries: [VersionEntry] = []
        var next: (key: String, version: VersionID?)?
        var cursor = marker
        /// The common prefix listed last: keys under it are skipped.
        var listed: String?
        // A marker that is a common prefix itself (as `next` gives it): that prefix was listed.
        if let marker, marker.version == nil, let common = Self.commonPrefix(marker.key, prefix: prefix, delimiter: delimiter),
            common.sameBytes(as: marker.key)
        {
            listed = common
            cursor = (Self.pastPrefix(common), nil)
        }
        while true {
            let batch = try engine.listVersions(volume: bucket, prefix: prefix, after: cursor, limit: Self.maxKeys + 1)
            var jumped = false
            for info in batch {
                // (Keys that continue a listed prefix with U+10FFFF sort past `pastPrefix`.)
                if let listed, info.key.utf8.starts(with: listed.utf8) {
                    cursor = (info.key, info.versionID)
                    continue
                }
                if entries.count == limit { return (entries, next) }
                if let common = Self.commonPrefix(info.key, prefix: prefix, delimiter: delimiter) {
                    entries.append(.prefix(common))
                    (listed, next) = (common, (common, nil))
                    // On from past the prefix: a new query (the rest of this batch is under it, or after).
                    if Engine.keyPrecedes(info.key, Self.pastPrefix(common)) {
                        cursor = (Self.pastPrefix(common), nil)
                        jumped = true
                        break
                    }
                    cursor = (info.key, info.versionID)
                    continue
                }
                entries.append(.version(info))
                next = (info.key, info.versionID)
                cursor = next
            }
            if !jumped, batch.count <= Self.maxKeys { return (entries, nil) }
        }
    }
}
