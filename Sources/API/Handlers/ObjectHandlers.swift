// /v1/volumes/{name}/objects: streamed PUT, GET/HEAD with ranges and preconditions, DELETE, list.
import Crypto
import Engine
import Foundation

struct ObjectHandlers {
    static let defaultContentType = "application/octet-stream"
    static let maxListLimit = 1000
    let engine: Engine

    func register(in router: inout Router) {
        router.add("GET", "/v1/volumes/{name}/objects") { [engine] request, context in
            try Self.list(engine, request, context)
        }
        router.addStreaming("PUT", "/v1/volumes/{name}/objects/{key...}") { [engine] request, context in
            try Self.openUpload(engine, request, context)
        }
        router.add("GET", "/v1/volumes/{name}/objects/{key...}") { [engine] request, context in
            try Self.get(engine, request, context)
        }
        router.add("DELETE", "/v1/volumes/{name}/objects/{key...}") { [engine] request, context in
            try Self.checkIOMode(request)
            try engine.deleteObject(volume: context.parameter("name"), key: context.parameter("key"))
            return .noContent()
        }
    }

    /// `?io=direct` is accepted (every transfer takes the direct path for now).
    static func checkIOMode(_ request: HTTPRequest) throws(HTTPError) {
        guard let entry = request.query.last(where: { $0.name == "io" }) else { return }
        guard entry.value == "direct" else {
            throw .badRequest("query parameter 'io' must be direct (buffered IO is not available yet)")
        }
    }

    static func openUpload(_ engine: Engine, _ request: HTTPRequest, _ context: RequestContext) throws -> any RequestBodySink {
        try checkIOMode(request)
        var length: Int64?
        if let raw = request.header("content-length") {
            guard let value = Int64(raw.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                throw HTTPError.badRequest("Content-Length must be a non-negative integer")
            }
            length = value
        }
        if request.header("transfer-encoding")?.lowercased().contains("chunked") == true { length = nil }
        let contentType = request.header("content-type") ?? defaultContentType
        guard contentType.utf8.count <= 256 else { throw HTTPError.badRequest("Content-Type is longer than 256 bytes") }
        let md5 = try request.header("content-md5").map { value throws(HTTPError) in
            guard let digest = Data(base64Encoded: value.trimmingCharacters(in: .whitespaces)), digest.count == 16 else {
                throw .badRequest("Content-MD5 must be the base64 of 16 bytes")
            }
            return digest
        }
        let sha256 = try request.header("x-checksum-sha256").map { value throws(HTTPError) in
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            if let digest = Data(hex: trimmed), digest.count == 32 { return digest }
            if let digest = Data(base64Encoded: trimmed), digest.count == 32 { return digest }
            throw .badRequest("x-checksum-sha256 must be 64 hex digits or the base64 of 32 bytes")
        }
        let writer = try engine.beginUpload(
            volume: context.parameter("name"), key: context.parameter("key"), contentType: contentType, length: length)
        return UploadSink(writer: writer, volume: context.parameter("name"), expectedMD5: md5, expectedSHA256: sha256)
    }

    static func get(_ engine: Engine, _ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        try checkIOMode(request)
        let reader = try engine.openObject(volume: context.parameter("name"), key: context.parameter("key"))
        let info = reader.info
        var headers: [(name: String, value: String)] = [
            ("ETag", quotedETag(info)), ("Last-Modified", HTTPDate.format(info.modifiedAt)), ("Accept-Ranges", "bytes"),
        ]
        switch evaluate(request, current: info) {
        case .failed:
            reader.close()
            return ErrorMapping.response(for: HTTPError.preconditionFailed("the object's ETag is \(quotedETag(info))"), context: context)
        case .notModified:
            reader.close()
            return HTTPResponse(status: 304, headers: headers)
        case .proceed:
            break
        }
        headers.append(("Content-Type", info.contentType ?? defaultContentType))
        switch parseRange(request.header("range"), size: info.size) {
        case .whole:
            return HTTPResponse(status: 200, headers: headers, stream: ObjectStream(reader: reader, start: 0, length: info.size))
        case .partial(let start, let end):
            headers.append(("Content-Range", "bytes \(start)-\(end)/\(info.size)"))
            return HTTPResponse(status: 206, headers: headers, stream: ObjectStream(reader: reader, start: start, length: end - start + 1))
        case .unsatisfiable:
            reader.close()
            var response = ErrorMapping.response(for: HTTPError.rangeNotSatisfiable(size: info.size), context: context)
            response.headers.append(("Content-Range", "bytes */\(info.size)"))
            return response
        }
    }

    static func list(_ engine: Engine, _ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        func query(_ name: String) throws(HTTPError) -> String? {
            guard let entry = request.query.last(where: { $0.name == name }) else { return nil }
            guard let decoded = PercentDecoding.decode(entry.value ?? "", plusIsSpace: true) else {
                throw .badRequest("query parameter '\(name)' is not valid percent-encoded UTF-8")
            }
            return decoded
        }
        var limit = maxListLimit
        if let raw = try query("limit") {
            guard let value = Int(raw), (1...maxListLimit).contains(value) else {
                throw HTTPError.badRequest("query parameter 'limit' must be an integer from 1 to \(maxListLimit)")
            }
            limit = value
        }
        let startAfter = try query("start_after").flatMap { $0.isEmpty ? nil : $0 }
        let objects = try engine.listObjects(
            volume: context.parameter("name"), prefix: try query("prefix") ?? "", startAfter: startAfter, limit: limit + 1)
        let page = Array(objects.prefix(limit))
        let next = objects.count > limit ? page.last?.key : nil
        return .json(ObjectListJSON(objects: page.map(ObjectJSON.init), nextStartAfter: next))
    }
}

/// Streams an upload into the engine, checking optional digests before the commit.
final class UploadSink: RequestBodySink, @unchecked Sendable {
    // @unchecked: one connection thread drives an upload.
    private let writer: ObjectWriter
    private let volume: String
    private let expectedMD5: Data?
    private let expectedSHA256: Data?
    private var md5 = Insecure.MD5()
    private var sha256 = SHA256()

    init(writer: ObjectWriter, volume: String, expectedMD5: Data?, expectedSHA256: Data?) {
        self.writer = writer
        self.volume = volume
        self.expectedMD5 = expectedMD5
        self.expectedSHA256 = expectedSHA256
    }

    func consume(_ bytes: UnsafeRawBufferPointer) throws {
        try writer.append(bytes)
        if expectedMD5 != nil { md5.update(bufferPointer: bytes) }
        if expectedSHA256 != nil { sha256.update(bufferPointer: bytes) }
    }

    func finish() throws -> HTTPResponse {
        if let expectedMD5, Data(md5.finalize()) != expectedMD5 {
            writer.abort()
            throw HTTPError.badRequest("Content-MD5 does not match the body; the object is unchanged")
        }
        if let expectedSHA256, Data(sha256.finalize()) != expectedSHA256 {
            writer.abort()
            throw HTTPError.badRequest("x-checksum-sha256 does not match the body; the object is unchanged")
        }
        let info = try writer.commit()
        let key = info.key.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "?#"))) ?? info.key
        return .json(
            ObjectJSON(info), status: writer.replacesExisting ? 200 : 201,
            headers: [("ETag", ObjectHandlers.quotedETag(info)), ("Location", "/v1/volumes/\(volume)/objects/\(key)")])
    }

    func abort() { writer.abort() }
}

/// A GET's body: `length` bytes of the opened version from `start`.
final class ObjectStream: ResponseBodyStream, @unchecked Sendable {
    // @unchecked: MHD reads a response from one connection thread.
    private let reader: ObjectReader
    private let start: Int64
    let length: Int64

    init(reader: ObjectReader, start: Int64, length: Int64) {
        self.reader = reader
        self.start = start
        self.length = length
    }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try reader.read(at: start + offset, into: buffer)
    }

    func close() { reader.close() }
}

extension Data {
    init?(hex: String) {
        guard hex.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bytes)
    }
}
