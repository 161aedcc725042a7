// aws-chunked bodies (AWSChunkedDecoder), in each form, fed in pieces of fuzzed sizes: either
// the fuzzer's bytes as they are, or its payload encoded (and signed) as a client would, which
// must decode back to the payload.
import API
import Crypto

enum AWSChunkedFuzz {
    static let amzDate = "20150830T123600Z"
    static let seed = String(repeating: "ab", count: 32)
    static let credential = SigV4.Credential("AKFUZZ/20150830/us-east-1/s3/aws4_request")!
    /// The signing key's bytes (SymmetricKey is not Sendable).
    static let keyBytes = SigV4.signingKey(secret: "fuzz-secret", credential: credential).withUnsafeBytes { Array($0) }
    static var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    /// Flags (form: the value mod 3; 4: a signer; 8: encode the payload), a line of piece sizes
    /// (each byte + 1; also the chunk sizes when encoding), then the body or payload.
    static func decode(_ input: inout FuzzInput) {
        let flags = input.byte()
        let form = [AWSChunkedDecoder.Form.signed, .signedTrailer, .unsignedTrailer][Int(flags % 3)]
        let pieces = Array(input.line()).map { Int($0) + 1 }
        let rest = input.rest()
        let encode = flags & 8 != 0
        let body = encode ? encoded(rest, form: form, chunks: pieces) : rest
        let signer =
            encode || flags & 4 != 0
            ? AWSChunkedDecoder.Signer(key: key, amzDate: amzDate, scope: credential.scope, previous: seed) : nil
        var decoder = AWSChunkedDecoder(form: form, signer: signer)
        var decoded: [UInt8] = []
        var offset = 0
        var turn = 0
        do {
            while offset < body.count {
                let size = pieces.isEmpty ? body.count : min(pieces[turn % pieces.count], body.count - offset)
                turn += 1
                try body[offset..<offset + size].withUnsafeBytes { piece in
                    try decoder.feed(piece) { decoded += $0 }
                }
                offset += size
            }
        } catch {
            ParserFuzzing.require(!encode, "a body the harness encoded (\(form)) was refused: \(error)")
            return
        }
        ParserFuzzing.require(decoder.decodedBytes == Int64(decoded.count), "decodedBytes \(decoder.decodedBytes), emitted \(decoded.count)")
        ParserFuzzing.require(decoded.count <= body.count, "more bytes decoded than fed")
        if encode {
            ParserFuzzing.require(decoder.isDone && decoded == rest, "a body the harness encoded (\(form)) did not decode to its payload")
            ParserFuzzing.require(decoder.trailers.map(\.name) == (form == .signed ? [] : ["x-amz-checksum-crc32"]), "trailers \(decoder.trailers)")
        }
    }

    /// `payload` as aws-chunked, in chunks of the given sizes (the whole of it when none).
    static func encoded(_ payload: [UInt8], form: AWSChunkedDecoder.Form, chunks: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        var previous = seed
        func chunk(_ bytes: ArraySlice<UInt8>) {
            out += Array(String(bytes.count, radix: 16).utf8)
            if form.signsChunks {
                previous = SigV4.chunkSignature(
                    key: key, amzDate: amzDate, scope: credential.scope, previous: previous, chunkSHA256: SigV4.sha256Hex(Array(bytes)))
                out += Array(";chunk-signature=\(previous)".utf8)
            }
            out += [13, 10]
            if !bytes.isEmpty { out += bytes + [13, 10] }
        }
        var offset = 0
        var turn = 0
        while offset < payload.count {
            let size = chunks.isEmpty ? payload.count : min(chunks[turn % chunks.count], payload.count - offset)
            turn += 1
            chunk(payload[offset..<offset + size])
            offset += size
        }
        chunk([])
        if form != .signed {
            let trailer = "x-amz-checksum-crc32:AAAAAA=="
            out += Array((trailer + "\r\n").utf8)
            if form == .signedTrailer {
                let signature = SigV4.trailerSignature(
                    key: key, amzDate: amzDate, scope: credential.scope, previous: previous, trailer: trailer + "\n")
                out += Array("x-amz-trailer-signature:\(signature)\r\n".utf8)
            }
        }
        out += [13, 10]
        return out
    }
}
