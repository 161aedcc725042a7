// Server-side copies: CopyObject and UploadPartCopy read the source version through the engine and
// write a new version (or part) from it; the bytes never travel back through HTTP. The copy-source
// conditionals are checked against the version opened, which is the one copied.
import Crypto
import Engine
import Foundation

extension S3Handlers {
    /// `x-amz-copy-source`: `bucket/key` or `/bucket/key`, URL-encoded, maybe `?versionId=`.
    static func copySource(_ header: String) throws(S3Error) -> (bucket: String, key: String) {
        var raw = header.trimmingCharacters(in: .whitespaces)
        if let question = raw.firstIndex(of: "?") {
            let version = raw[raw.index(after: question)...]
            guard version == "versionId=null" || version.isEmpty else { throw .notImplemented("copying a version other than null") }
            raw = String(raw[..<question])
        }
        guard let decoded = PercentDecoding.decode(raw) else { throw .invalidArgument("x-amz-copy-source is not valid percent-encoded UTF-8") }
        let trimmed = decoded.hasPrefix("/") ? String(decoded.dropFirst()) : decoded
        guard let slash = trimmed.firstIndex(of: "/"), slash != trimmed.startIndex, trimmed.index(after: slash) < trimmed.endIndex else {
            throw .invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
        }
        return (String(trimmed[..<slash]), String(trimmed[trimmed.index(after: slash)...]))
    }

    /// Opens the copy source after checking the key may read it and its conditionals.
    func openCopySource(_ request: HTTPRequest, _ context: RequestContext, _ header: String) throws -> BufferedReader {
        let (bucket, key) = try Self.copySource(header)
        try require(.read, bucket, context)
        let reader = try engine.openBuffered(volume: bucket, key: key)
        do {
            if try Self.evaluate(request, reader.info, prefix: "x-amz-copy-source-") != .proceed {
                throw HTTPError.preconditionFailed("a copy-source condition does not hold for \(bucket)/\(key)")
            }
        } catch {
            reader.close()
            throw error
        }
        return reader
    }

    /// Reads `length` bytes from `start` of `reader` into `append`; returns their MD5 (hex).
    static func pump(_ reader: BufferedReader, start: Int64, length: Int64, into append: (UnsafeRawBufferPointer) throws -> Void) throws -> String {
        var md5 = Insecure.MD5()
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < length {
            let want = Int(min(Int64(chunk), length - done))
            let n = try reader.read(at: start + done, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
            guard n > 0 else { throw EngineError.dataUnavailable(key: reader.info.key, detail: "the source ended early") }
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            md5.update(bufferPointer: bytes)
            try append(bytes)
            done += Int64(n)
        }
        return Data(md5.finalize()).hexString
    }

    func copyObject(_ request: HTTPRequest, _ context: RequestContext, bucket: String, key: String, source: String) throws -> HTTPResponse {
        let reader = try openCopySource(request, context, source)
        defer { reader.close() }
        let info = reader.info
        let (sourceBucket, sourceKey) = try Self.copySource(source)
        let directive = request.header("x-amz-metadata-directive")?.uppercased() ?? "COPY"
        guard directive == "COPY" || directive == "REPLACE" else { throw S3Error.invalidArgument("Unknown metadata directive \(directive)") }
        if directive == "COPY", sourceBucket == bucket, sourceKey == key {
            throw S3Error.invalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
        }
        let contentType = directive == "COPY" ? info.contentType : Self.contentType(request)
        let metadata = directive == "COPY" ? info.metadata : try Self.metadata(from: request)
        let writer = try engine.beginUpload(
            volume: bucket, key: key, contentType: contentType, length: info.size, cacheThrough: true, metadata: metadata, checksums: info.checksums)
        do {
            let md5 = try Self.pump(reader, start: 0, length: info.size) { try writer.append($0) }
            // A copy of a multipart object is one part: its ETag is the MD5 of the bytes.
            let copied = try writer.commit(etag: md5)
            var xml = S3XML()
            xml.open("CopyObjectResult", namespaced: true)
            xml.element("LastModified", Self.iso8601(copied.modifiedAt))
            xml.element("ETag", Self.quoted(copied.etag))
            xml.close("CopyObjectResult")
            return S3XML.response(xml)
        } catch {
            writer.abort()
            throw error
        }
    }

    func copyPart(
        _ request: HTTPRequest, _ context: RequestContext, bucket: String, key: String, uploadID: String, partNumber: String, source: String
    ) throws -> HTTPResponse {
        guard let number = WireNumber.bounded(partNumber, limit: Engine.maxPartNumber), number >= 1 else {
            throw S3Error.invalidArgument("Part number must be an integer between 1 and \(Engine.maxPartNumber), inclusive")
        }
        let reader = try openCopySource(request, context, source)
        defer { reader.close() }
        let size = reader.info.size
        var (start, length) = (Int64(0), size)
        if let range = request.header("x-amz-copy-source-range") {
            guard case .partial(let first, let last) = ObjectHandlers.parseRange(range, size: size), range.contains("-"),
                !range.hasPrefix("bytes=-"), let end = WireNumber.bounded(range.split(separator: "-").last ?? ""), end < size
            else {
                throw S3Error("InvalidArgument", 400, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy, within the source")
            }
            (start, length) = (first, last - first + 1)
        }
        let writer = try engine.beginPart(volume: bucket, key: key, uploadID: uploadID, number: number, length: length)
        do {
            let md5 = try Self.pump(reader, start: start, length: length) { try writer.append($0) }
            let part = try writer.commit(etag: md5)
            var xml = S3XML()
            xml.open("CopyPartResult", namespaced: true)
            xml.element("LastModified", Self.iso8601(part.modifiedAt))
            xml.element("ETag", Self.quoted(part.etag))
            xml.close("CopyPartResult")
            return S3XML.response(xml)
        } catch {
            writer.abort()
            throw error
        }
    }
}
