// The body of object downloads (GET): an opened version, direct or cached, read as MHD sends.
import Engine
import Foundation

/// An opened object version, direct or through the cache.
extension PinnedPages: ResponseBodySegments {}

/// A GET's body: `length` bytes of the opened version from `start`.
final class ObjectStream: ResponseBodyStream, @unchecked Sendable {
    // @unchecked: one worker reads a response (DownloadPump).
    private let reader: any ObjectSource
    private let start: Int64
    let length: Int64

    /// The first bytes, read when the response is built.
    private let head: [UInt8]
    static let headBytes = 256 << 10

    init(reader: any ObjectSource, start: Int64, length: Int64) throws(EngineError) {
        self.reader = reader
        self.start = start
        self.length = length
        let count = Int(min(length, Int64(Self.headBytes)))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        defer { buffer.deallocate() }
        var filled = 0
        while filled < count {
            let n = try reader.read(at: start + Int64(filled), into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<count]))
            if n == 0 { break }
            filled += n
        }
        head = Array(buffer[0..<filled])
    }

    /// The whole body, when the head read covered all of it.
    var wholeBody: [UInt8]? { Int64(head.count) == length ? head : nil }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if offset < Int64(head.count) {
            let n = min(buffer.count, head.count - Int(offset))
            head.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset) + n])) }
            return n
        }
        return try reader.read(at: start + offset, into: buffer)
    }

    func close() { reader.close() }
}

/// A body that is never sent (304, HEAD): only its length is announced.
final class EmptyStream: ResponseBodyStream, @unchecked Sendable {
    let length: Int64
    init(length: Int64) { self.length = length }
    var mayBlock: Bool { false }
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int { 0 }
    func close() {}
}
