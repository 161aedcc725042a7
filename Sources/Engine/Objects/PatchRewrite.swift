// A PATCH in a volume that keeps versions. The version patched must stay as it is, so the PATCH
// cannot splice its range over that version's extents (ExtentSplice would leave two rows sharing
// blocks): it is a new version written whole by the direct writer — the patched version's bytes
// before the range, the PATCH's body, its bytes after the range — with a new random ETag. The
// patched version is read as it was when the PATCH opened (a reader pins it); a write that lands
// meanwhile becomes the version before this one, kept like any other.
import Catalog

final class PatchRewrite {
    let writer: ObjectWriter
    private let source: ObjectReader
    private let end: Int64
    private var finished = false

    init(engine: Engine, volume: String, key: String, offset: Int64, length: Int64) throws(EngineError) {
        try Engine.validate(offset: offset, length: length)
        source = try engine.openObject(volume: volume, key: key)
        end = offset + length
        do throws(EngineError) {
            let size = max(source.info.size, end)
            writer = try engine.beginUpload(
                volume: volume, key: key, contentType: source.info.contentType, length: size, metadata: source.info.metadata)
            do throws(EngineError) {
                try copy(from: 0, to: min(offset, source.info.size))
                try zeros(max(0, offset - source.info.size))
            } catch {
                writer.abort()
                throw error
            }
        } catch {
            source.close()
            throw error
        }
    }

    deinit { abort() }

    /// The bytes after the range, then the commit: the new version's info.
    func commit() throws(EngineError) -> ObjectInfo {
        precondition(!finished, "PATCH committed twice")
        defer { abort() }
        try copy(from: end, to: source.info.size)
        let info = try writer.commit(etag: nil)
        finished = true
        source.close()
        return info
    }

    func abort() {
        guard !finished else { return }
        finished = true
        writer.abort()
        source.close()
    }

    private func copy(from start: Int64, to stop: Int64) throws(EngineError) {
        guard stop > start else { return }
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var position = start
        while position < stop {
            let want = Int(min(Int64(chunk), stop - position))
            let n = try source.read(at: position, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
            guard n > 0 else { throw .dataUnavailable(key: source.info.key, detail: "the version patched ended early") }
            try writer.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            position += Int64(n)
        }
    }

    private func zeros(_ count: Int64) throws(EngineError) {
        guard count > 0 else { return }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { chunk.deallocate() }
        chunk.initializeMemory(as: UInt8.self, repeating: 0)
        var left = count
        while left > 0 {
            let n = Int(min(Int64(chunk.count), left))
            try writer.append(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            left -= Int64(n)
        }
    }
}
