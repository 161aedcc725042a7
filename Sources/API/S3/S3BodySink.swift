// The body of an S3 PutObject or UploadPart: decodes aws-chunked when the payload says so, checks
// the signed payload digest, Content-MD5 and any `x-amz-checksum-*` (header or trailer) before
// the commit (the old version stays on a mismatch), and commits with the MD5 of the bytes as ETag.
import Crypto
import Engine
import Foundation

final class S3BodySink: RequestBodySink, @unchecked Sendable {
    // @unchecked: one worker drives an upload (UploadPump).
    enum Writer {
        case object(ObjectUpload)
        case part(ObjectWriter)

        func append(_ bytes: UnsafeRawBufferPointer) throws(EngineError) {
            switch self {
            case .object(let target): try target.append(bytes)
            case .part(let writer): try writer.append(bytes)
            }
        }

        func commit(etag: String, checksums: [String: String]) throws(EngineError) -> ObjectInfo {
            switch self {
            case .object(let upload):
                upload.checksums = checksums
                return try upload.commit(etag: etag)
            case .part(let writer):
                writer.checksums = checksums
                return try writer.commit(etag: etag)
            }
        }

        func abort() {
            switch self {
            case .object(let target): target.abort()
            case .part(let writer): writer.abort()
            }
        }
    }

    /// What the request says about its body, from its headers.
    struct Expectations {
        var payloadSHA256: String?
        var contentMD5: Data?
        /// The checksum to compute, and its value when sent as a header (nil: in a trailer).
        var checksum: (algorithm: S3ChecksumAlgorithm, expected: String?)?
        var chunked: AWSChunkedDecoder?
        var decodedLength: Int64?
    }

    private let writer: Writer
    private var expectations: Expectations
    private var md5 = Insecure.MD5()
    private var sha256 = SHA256()
    private var checksum: S3Checksum?
    private let digests = DigestBeside()
    private var finished = false
    private let respond: (ObjectInfo, _ checksums: [String: String]) -> HTTPResponse

    init(writer: Writer, expectations: Expectations, respond: @escaping (ObjectInfo, [String: String]) -> HTTPResponse) {
        self.writer = writer
        self.expectations = expectations
        self.respond = respond
        checksum = expectations.checksum.map { S3Checksum($0.algorithm) }
    }

    func consume(_ bytes: UnsafeRawBufferPointer) throws {
        if var decoder = expectations.chunked {
            defer { expectations.chunked = decoder }
            try decoder.feed(bytes) { try take($0) }
        } else {
            try take(bytes)
        }
    }

    private func take(_ bytes: UnsafeRawBufferPointer) throws {
        let hashSHA256 = expectations.payloadSHA256 != nil
        try digests.run(bytes, write: { try writer.append(bytes) }) { [self] bytes in
            md5.update(bufferPointer: bytes)
            if hashSHA256 { sha256.update(bufferPointer: bytes) }
            checksum?.update(bytes)
        }
    }

    func finish() throws -> HTTPResponse {
        digests.settle()
        do {
            var trailers: [(name: String, value: String)] = []
            if let decoder = expectations.chunked {
                guard decoder.isDone else { throw S3Error("IncompleteBody", 400, "The aws-chunked body ended before its final chunk") }
                if let length = expectations.decodedLength, decoder.decodedBytes != length {
                    throw S3Error(
                        "IncompleteBody", 400, "x-amz-decoded-content-length is \(length) but the chunks hold \(decoder.decodedBytes) bytes")
                }
                trailers = decoder.trailers
            }
            if let expected = expectations.payloadSHA256, Data(sha256.finalize()).hexString != expected {
                throw S3Error("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed.")
            }
            let digest = Data(md5.finalize())
            if let expected = expectations.contentMD5, expected != digest {
                throw S3Error.badDigest("The Content-MD5 you specified did not match what we received.")
            }
            var checksums: [String: String] = [:]
            if let checksum, let algorithm = expectations.checksum?.algorithm {
                let computed = checksum.finalize()
                guard let expected = expectations.checksum?.expected ?? trailers.first(where: { $0.name == algorithm.header })?.value else {
                    throw S3Error.invalidRequest("The trailer announced \(algorithm.header) but the body did not carry it")
                }
                guard expected == computed else {
                    throw S3Error.badDigest("The \(algorithm.rawValue) you specified did not match the calculated checksum.")
                }
                checksums[algorithm.rawValue] = computed
            }
            let info = try writer.commit(etag: digest.hexString, checksums: checksums)
            finished = true
            return respond(info, checksums)
        } catch {
            if !finished { writer.abort() }
            finished = true
            throw error
        }
    }

    func abort() {
        digests.settle()
        guard !finished else { return }
        finished = true
        writer.abort()
    }
}
