// Decodes `aws-chunked` request bodies as they stream: `hex-size[;chunk-signature=sig]\r\n`, the
// chunk's bytes, `\r\n`, …, a zero-size chunk, then trailing headers (checksums and, when signed,
// `x-amz-trailer-signature`) and an empty line. Recognized by `x-amz-content-sha256`:
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD (each chunk signed), …-PAYLOAD-TRAILER (chunks and trailer
// signed), STREAMING-UNSIGNED-PAYLOAD-TRAILER. Payload bytes pass through without a copy; each
// chunk's signature is checked when the chunk ends (before the upload can commit).
package import Crypto
import Foundation

package struct AWSChunkedDecoder {
    package enum Form: String {
        case signed = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        case signedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
        case unsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

        package var signsChunks: Bool { self != .unsignedTrailer }
    }

    /// What signs the chunks: the request's signing key, date, scope and seed signature.
    package struct Signer {
        var key: SymmetricKey
        var amzDate: String
        var scope: String
        var previous: String

        package init(key: SymmetricKey, amzDate: String, scope: String, previous: String) {
            (self.key, self.amzDate, self.scope, self.previous) = (key, amzDate, scope, previous)
        }
    }

    private enum State {
        case sizeLine
        case data(remaining: Int)
        case dataEnd
        case trailer
        case done
    }

    static let maxLine = 8192
    let form: Form
    private var signer: Signer?
    private var state = State.sizeLine
    private var line: [UInt8] = []
    private var chunkSignature: String?
    private var chunkHash = SHA256()
    private var lastChunk = false
    /// Trailing headers (lower-cased names), without the trailer signature.
    package private(set) var trailers: [(name: String, value: String)] = []
    private var trailerSignature: String?
    package private(set) var decodedBytes: Int64 = 0

    package init(form: Form, signer: Signer?) {
        self.form = form
        self.signer = signer
    }

    package var isDone: Bool { if case .done = state { true } else { false } }

    /// Feeds encoded bytes; decoded payload goes to `emit`.
    package mutating func feed(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var i = 0
        while i < bytes.count {
            switch state {
            case .data(let remaining):
                let n = min(remaining, bytes.count - i)
                let piece = UnsafeRawBufferPointer(rebasing: bytes[i..<i + n])
                if form.signsChunks { chunkHash.update(bufferPointer: piece) }
                try emit(piece)
                decodedBytes += Int64(n)
                i += n
                state = remaining == n ? .dataEnd : .data(remaining: remaining - n)
                if remaining == n { try endChunk() }
            case .sizeLine, .dataEnd, .trailer:
                let byte = bytes[i]
                i += 1
                line.append(byte)
                guard line.count <= Self.maxLine else { throw Self.malformed("a chunk header line is too long") }
                guard line.count >= 2, line[line.count - 2] == 13, line[line.count - 1] == 10 else { continue }
                let text = String(decoding: line.dropLast(2), as: UTF8.self)
                line.removeAll(keepingCapacity: true)
                try takeLine(text)
            case .done:
                throw Self.malformed("bytes after the end of the aws-chunked body")
            }
        }
    }

    private mutating func takeLine(_ text: String) throws {
        switch state {
        case .dataEnd:
            guard text.isEmpty else { throw Self.malformed("a chunk is longer than its declared size") }
            state = lastChunk ? .trailer : .sizeLine
        case .sizeLine:
            let parts = text.split(separator: ";", maxSplits: 1)
            guard let sizeText = parts.first, let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                throw Self.malformed("a chunk size is not hexadecimal")
            }
            chunkSignature = nil
            if parts.count == 2 {
                let extensionText = parts[1].trimmingCharacters(in: .whitespaces)
                if extensionText.hasPrefix("chunk-signature=") { chunkSignature = String(extensionText.dropFirst("chunk-signature=".count)) }
            }
            if form.signsChunks, chunkSignature == nil { throw S3Error.signatureMismatch }
            chunkHash = SHA256()
            if size == 0 {
                lastChunk = true
                try endChunk()
                state = .trailer
            } else {
                state = .data(remaining: size)
            }
        case .trailer:
            if text.isEmpty {
                try checkTrailerSignature()
                state = .done
                return
            }
            guard let colon = text.firstIndex(of: ":") else { throw Self.malformed("a trailer line has no ':'") }
            let name = text[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "x-amz-trailer-signature" { trailerSignature = value } else { trailers.append((name, value)) }
        case .data, .done:
            preconditionFailure("not a line state")
        }
    }

    /// A chunk's bytes are all in: its signature must chain from the previous one.
    private mutating func endChunk() throws {
        guard form.signsChunks, var signer else { return }
        let expected = SigV4.chunkSignature(
            key: signer.key, amzDate: signer.amzDate, scope: signer.scope, previous: signer.previous,
            chunkSHA256: Data(chunkHash.finalize()).hexString)
        guard let given = chunkSignature, SigV4.signatureMatches(expected: expected, given: given) else { throw S3Error.signatureMismatch }
        signer.previous = expected
        self.signer = signer
    }

    private func checkTrailerSignature() throws {
        guard form == .signedTrailer, let signer else { return }
        guard let given = trailerSignature else { throw S3Error.signatureMismatch }
        let text = trailers.map { "\($0.name):\($0.value)\n" }.joined()
        let expected = SigV4.trailerSignature(key: signer.key, amzDate: signer.amzDate, scope: signer.scope, previous: signer.previous, trailer: text)
        guard SigV4.signatureMatches(expected: expected, given: given) else { throw S3Error.signatureMismatch }
    }

    static func malformed(_ detail: String) -> S3Error {
        S3Error("IncompleteBody", 400, "The aws-chunked body is malformed: \(detail)")
    }
}
