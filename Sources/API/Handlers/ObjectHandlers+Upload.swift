// The body sink of object uploads (PUT, PATCH): streams into the engine, checks digests, commits.
import Crypto
import Engine
import Foundation

/// Streams an upload into the engine, checking optional digests before the commit.
final class UploadSink: RequestBodySink, @unchecked Sendable {
    // @unchecked: one worker drives an upload (UploadPump).
    private let writer: ObjectUpload
    private let volume: String
    private let expectedMD5: Data?
    private let expectedSHA256: Data?
    private let created: Int
    /// A PUT's ETag is the hex MD5 of its bytes (what S3 clients compare); a PATCH gets a new
    /// random one (its MD5 would need the whole object read back).
    private let md5ETag: Bool
    private var md5 = Insecure.MD5()
    private var sha256 = SHA256()
    private let digests = DigestBeside()

    init(target: ObjectUpload, volume: String, expectedMD5: Data?, expectedSHA256: Data?, created: Int, md5ETag: Bool) {
        writer = target
        self.md5ETag = md5ETag
        self.volume = volume
        self.expectedMD5 = expectedMD5
        self.expectedSHA256 = expectedSHA256
        self.created = created
    }

    func consume(_ bytes: UnsafeRawBufferPointer) throws {
        let hashMD5 = md5ETag || expectedMD5 != nil
        let hashSHA256 = expectedSHA256 != nil
        guard hashMD5 || hashSHA256 else { return try writer.append(bytes) }
        try digests.run(bytes, write: { try writer.append(bytes) }) { [self] bytes in
            if hashMD5 { md5.update(bufferPointer: bytes) }
            if hashSHA256 { sha256.update(bufferPointer: bytes) }
        }
    }

    func finish() throws -> HTTPResponse {
        digests.settle()
        let digest = Data(md5.finalize())
        if let expectedMD5, digest != expectedMD5 {
            writer.abort()
            throw HTTPError.badRequest("Content-MD5 does not match the body; the object is unchanged")
        }
        if let expectedSHA256, Data(sha256.finalize()) != expectedSHA256 {
            writer.abort()
            throw HTTPError.badRequest("x-checksum-sha256 does not match the body; the object is unchanged")
        }
        let info = try writer.commit(etag: md5ETag ? digest.hexString : nil)
        let key = PercentEncoding.encode(info.key, encodeSlash: false)
        return .json(
            ObjectJSON(info), status: writer.replacesExisting ? 200 : created,
            headers: [("ETag", ObjectHandlers.quotedETag(info)), ("Location", "/v1/volumes/\(volume)/objects/\(key)")])
    }

    func abort() {
        digests.settle()
        writer.abort()
    }
}

extension Data {
    var hexString: String { withUnsafeBytes { SigV4.hex($0) } }

    init?(hex: String) {
        guard hex.count % 2 == 0, hex.allSatisfy(\.isHexDigit) else { return nil }
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
