// Server-side copies: CopyObject and UploadPartCopy map their headers (source, directive, range,
// copy-source conditions) to Engine.copyObject / copyPart, which copy inside the engine (the bytes
// never travel back through HTTP) and check the conditions against the version copied.
import Catalog
import Crypto
import Engine
import Foundation

extension S3Handlers {
    /// `x-amz-copy-source`: `bucket/key` or `/bucket/key`, URL-encoded, maybe `?versionId=`.
    static func copySource(_ header: String) throws(S3Error) -> (bucket: String, key: String, version: VersionID?) {
        var raw = header.trimmingCharacters(in: .whitespaces)
        var version: VersionID?
        if let question = raw.firstIndex(of: "?") {
            let query = raw[raw.index(after: question)...]
            if !query.isEmpty {
                guard query.hasPrefix("versionId=") else { throw .invalidArgument("Invalid version id specified") }
                version = try versionID(parsing: String(query.dropFirst("versionId=".count)))
            }
            raw = String(raw[..<question])
        }
        guard let decoded = PercentDecoding.decode(raw) else { throw .invalidArgument("x-amz-copy-source is not valid percent-encoded UTF-8") }
        let trimmed = decoded.hasPrefix("/") ? String(decoded.dropFirst()) : decoded
        guard let slash = trimmed.firstIndex(of: "/"), slash != trimmed.startIndex, trimmed.index(after: slash) < trimmed.endIndex else {
            throw .invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
        }
        return (String(trimmed[..<slash]), String(trimmed[trimmed.index(after: slash)...]), version)
    }

    /// The copy source, after checking the key may read it.
    func copySourceReadable(_ context: RequestContext, _ header: String) throws -> (volume: String, key: String, version: VersionID?) {
        let (bucket, key, version) = try Self.copySource(header)
        try require(.read, bucket, context)
        return (bucket, key, version)
    }

    func copyObject(_ request: HTTPRequest, _ context: RequestContext, bucket: String, key: String, source: String) throws -> HTTPResponse {
        let from = try copySourceReadable(context, source)
        let directive = request.header("x-amz-metadata-directive")?.uppercased() ?? "COPY"
        guard directive == "COPY" || directive == "REPLACE" else { throw S3Error.invalidArgument("Unknown metadata directive \(directive)") }
        if directive == "COPY", from.volume == bucket, from.key == key, from.version == nil {
            throw S3Error.invalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            )
        }
        let metadata: CopyMetadata =
            directive == "COPY" ? .copy : .replace(contentType: Self.contentType(request), metadata: try Self.metadata(from: request))
        let (copied, source) = try engine.copyObject(
            from: (from.volume, from.key), version: from.version, if: Self.conditions(request, prefix: "x-amz-copy-source-"),
            to: (bucket, key), metadata: metadata, digest: MD5Digest())
        var response = Self.copyResult("CopyObjectResult", copied)
        if from.version != nil || source.versionID != .null {
            response.headers.append(("x-amz-copy-source-version-id", source.versionID.description))
        }
        if copied.versionID != .null { response.headers.append(("x-amz-version-id", copied.versionID.description)) }
        return response
    }

    /// A copy's answer: `element` (CopyObjectResult, CopyPartResult) with the new version's date and ETag.
    static func copyResult(_ element: String, _ copied: ObjectInfo) -> HTTPResponse {
        var xml = S3XML()
        xml.open(element, namespaced: true)
        xml.element("LastModified", iso8601(copied.modifiedAt))
        xml.element("ETag", quoted(copied.etag))
        xml.close(element)
        return S3XML.response(xml)
    }

    func copyPart(
        _ request: HTTPRequest, _ context: RequestContext, bucket: String, key: String, uploadID: String, partNumber: String, source: String
    ) throws -> HTTPResponse {
        guard let number = WireNumber.bounded(partNumber, limit: Engine.maxPartNumber), number >= 1 else {
            throw S3Error.invalidArgument("Part number must be an integer between 1 and \(Engine.maxPartNumber), inclusive")
        }
        let from = try copySourceReadable(context, source)
        let range = try request.header("x-amz-copy-source-range").map(Self.copySourceRange)
        let part = try engine.copyPart(
            from: (from.volume, from.key), version: from.version, if: Self.conditions(request, prefix: "x-amz-copy-source-"),
            range: { size throws(EngineError) in
                guard let (first, last) = range else { return (0, size) }
                // A well-formed range outside the source: InvalidRange, as S3 answers.
                guard last < size else { throw .rangeNotSatisfiable(field: "x-amz-copy-source-range", size: size) }
                return (first, last - first + 1)
            }, to: (bucket, key), uploadID: uploadID, number: number, digest: MD5Digest())
        return Self.copyResult("CopyPartResult", part)
    }

    /// `x-amz-copy-source-range: bytes=first-last`, both offsets given, first ≤ last.
    static func copySourceRange(_ header: String) throws(S3Error) -> (first: Int64, last: Int64) {
        let value = header.trimmingCharacters(in: .whitespaces)
        let bounds = value.hasPrefix("bytes=") ? value.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false) : []
        guard bounds.count == 2, let first = WireNumber.bounded(bounds[0]), let last = WireNumber.bounded(bounds[1]), first <= last else {
            throw .invalidArgument(
                "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
            )
        }
        return (first, last)
    }
}

/// The S3 ETag of copied bytes: their MD5, hex.
final class MD5Digest: ObjectDigest {
    private var md5 = Insecure.MD5()

    func update(_ bytes: UnsafeRawBufferPointer) { md5.update(bufferPointer: bytes) }

    func finish() -> String { Data(md5.finalize()).hexString }

    func reset() { md5 = Insecure.MD5() }

    /// A single-part object's ETag is the MD5 of its bytes already (S3's PUT names it so; a
    /// native PATCH's random one is kept, the same bytes under the same name); a multipart
    /// object's is not, and S3 names its copy, one part, by the MD5 of the bytes.
    func etag(ofCopyOf source: ObjectInfo) -> String? { source.parts.isEmpty ? source.etag : nil }
}
