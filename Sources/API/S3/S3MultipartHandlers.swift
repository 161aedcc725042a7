// Multipart uploads: CreateMultipartUpload, CompleteMultipartUpload (idempotent on retry),
// ListParts, ListMultipartUploads (UploadPart and AbortMultipartUpload are in the object
// handlers). The object's ETag is the MD5 of the parts' MD5s with `-N`; a checksum chosen at
// Create, when every part carried it, is combined the same way (S3's composite checksum).
import Catalog
import Crypto
import Engine
import Foundation

extension S3Handlers {
    func createUpload(_ request: HTTPRequest, _ context: RequestContext, bucket: String, key: String) throws -> HTTPResponse {
        try require(.write, bucket, context)
        let contentType = Self.contentType(request)
        let metadata = try Self.metadata(from: request)
        var algorithm: String?
        if let raw = request.header("x-amz-checksum-algorithm") {
            guard let known = S3ChecksumAlgorithm(name: raw.trimmingCharacters(in: .whitespaces)) else {
                throw S3Error.invalidRequest("Checksum algorithm \(raw) is not supported")
            }
            algorithm = known.rawValue
        }
        let upload = try engine.createUpload(volume: bucket, key: key, contentType: contentType, metadata: metadata, checksumAlgorithm: algorithm)
        var xml = S3XML()
        xml.open("InitiateMultipartUploadResult", namespaced: true)
        xml.element("Bucket", bucket)
        xml.element("Key", key)
        xml.element("UploadId", upload.id)
        xml.close("InitiateMultipartUploadResult")
        var headers: [(name: String, value: String)] = []
        if let algorithm { headers.append(("x-amz-checksum-algorithm", algorithm)) }
        return S3XML.response(xml, headers: headers)
    }

    func completeUpload(_ request: HTTPRequest, _ context: RequestContext, bucket: String, key: String, uploadID: String) throws -> HTTPResponse {
        try require(.write, bucket, context)
        let root = try XMLNode.parse(request.body)
        guard root.name == "CompleteMultipartUpload" else { throw S3Error.malformedXML("expected CompleteMultipartUpload") }
        var parts: [(number: Int64, etag: String)] = []
        for part in root.all("Part") {
            guard let number = part.child("PartNumber").flatMap({ WireNumber.bounded($0.trimmedText, limit: Engine.maxPartNumber) }),
                let etag = part.child("ETag")?.trimmedText
            else {
                throw S3Error.malformedXML("each Part needs a PartNumber and an ETag")
            }
            parts.append((number, etag))
        }
        guard !parts.isEmpty else { throw S3Error.malformedXML("The XML you provided did not list any part") }
        let upload = try? engine.upload(volume: bucket, key: key, id: uploadID)
        let algorithm = upload?.checksumAlgorithm.flatMap(S3ChecksumAlgorithm.init(name:))
        let (object, _) = try engine.completeUpload(
            volume: bucket, key: key, uploadID: uploadID, parts: parts, minimumPartSize: Self.minimumPartSize,
            conditions: Self.writeConditions(request)
        ) { chosen in
            var md5 = Insecure.MD5()
            for part in chosen { md5.update(data: Data(hex: part.etag) ?? Data(part.etag.utf8)) }
            var checksums: [String: String] = [:]
            if let algorithm, algorithm != .crc64nvme {
                let values = chosen.compactMap { $0.checksums[algorithm.rawValue].flatMap { Data(base64Encoded: $0) } }
                if values.count == chosen.count {
                    checksums[algorithm.rawValue] = S3Checksum.of(algorithm, values.flatMap { Array($0) }) + "-\(chosen.count)"
                }
            }
            return (Data(md5.finalize()).hexString + "-\(chosen.count)", checksums)
        }
        var xml = S3XML()
        xml.open("CompleteMultipartUploadResult", namespaced: true)
        xml.element("Location", "/\(bucket)/\(SigV4.uriEncode(key, encodeSlash: false))")
        xml.element("Bucket", bucket)
        xml.element("Key", key)
        xml.element("ETag", Self.quoted(object.etag))
        for (name, value) in object.checksums {
            if let known = S3ChecksumAlgorithm(name: name) { xml.element("Checksum" + known.rawValue, value) }
        }
        xml.close("CompleteMultipartUploadResult")
        var response = S3XML.response(xml)
        if object.versionID != .null { response.headers.append(("x-amz-version-id", object.versionID.description)) }
        return response
    }

    func listParts(_ request: HTTPRequest, _ context: RequestContext, bucket: String, key: String, uploadID: String) throws -> HTTPResponse {
        let principal = try require(.read, bucket, context)
        let (upload, parts) = try engine.listParts(volume: bucket, key: key, uploadID: uploadID)
        let maxParts = try Self.count(request, "max-parts", cap: 1000) ?? 1000
        let marker = Int64(try Self.count(request, "part-number-marker", cap: Int(Int32.max)) ?? 0)
        let after = parts.filter { $0.number > marker }
        let page = Array(after.prefix(maxParts))
        var xml = S3XML()
        xml.open("ListPartsResult", namespaced: true)
        xml.element("Bucket", bucket)
        xml.element("Key", key)
        xml.element("UploadId", uploadID)
        Self.owner(&xml, principal, tag: "Initiator")
        Self.owner(&xml, principal)
        xml.element("StorageClass", "STANDARD")
        xml.element("PartNumberMarker", marker)
        if let last = page.last { xml.element("NextPartNumberMarker", last.number) }
        xml.element("MaxParts", maxParts)
        xml.element("IsTruncated", after.count > page.count)
        if let algorithm = upload.checksumAlgorithm { xml.element("ChecksumAlgorithm", algorithm) }
        for part in page {
            xml.open("Part")
            xml.element("PartNumber", part.number)
            xml.element("LastModified", Self.iso8601(part.modifiedAt))
            xml.element("ETag", Self.quoted(part.etag))
            xml.element("Size", part.size)
            for (name, value) in part.checksums {
                if let known = S3ChecksumAlgorithm(name: name) { xml.element("Checksum" + known.rawValue, value) }
            }
            xml.close("Part")
        }
        xml.close("ListPartsResult")
        return S3XML.response(xml)
    }

    func listUploads(_ request: HTTPRequest, _ context: RequestContext, bucket: String) throws -> HTTPResponse {
        let principal = try require(.read, bucket, context)
        let prefix = try Self.query(request, "prefix") ?? ""
        let maxUploads = try Self.count(request, "max-uploads", cap: 1000) ?? 1000
        let keyMarker = try Self.query(request, "key-marker").flatMap { $0.isEmpty ? nil : $0 }
        let uploadIDMarker = try Self.query(request, "upload-id-marker").flatMap { $0.isEmpty ? nil : $0 }
        let uploads = try engine.listUploads(
            volume: bucket, prefix: prefix, keyMarker: keyMarker, uploadIDMarker: uploadIDMarker, limit: maxUploads + 1)
        let page = Array(uploads.prefix(maxUploads))
        var xml = S3XML()
        xml.open("ListMultipartUploadsResult", namespaced: true)
        xml.element("Bucket", bucket)
        xml.element("KeyMarker", keyMarker ?? "")
        xml.element("UploadIdMarker", uploadIDMarker ?? "")
        if uploads.count > page.count, let last = page.last {
            xml.element("NextKeyMarker", last.key)
            xml.element("NextUploadIdMarker", last.id)
        }
        xml.element("Prefix", prefix)
        xml.element("MaxUploads", maxUploads)
        xml.element("IsTruncated", uploads.count > page.count)
        for upload in page {
            xml.open("Upload")
            xml.element("Key", upload.key)
            xml.element("UploadId", upload.id)
            Self.owner(&xml, principal, tag: "Initiator")
            Self.owner(&xml, principal)
            xml.element("StorageClass", "STANDARD")
            xml.element("Initiated", Self.iso8601(upload.createdAt))
            xml.close("Upload")
        }
        xml.close("ListMultipartUploadsResult")
        return S3XML.response(xml)
    }
}
