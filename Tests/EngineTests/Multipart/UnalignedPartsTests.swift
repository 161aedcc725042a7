// A multipart object whose parts (but the last) are not multiples of 4 KiB: the next part's
// extents begin inside a page of the object. Reading such a page through the cache stopped the
// process ("unaligned page fill"): a GET of 5 MiB + 17-byte parts, as any client may send, took the
// server down. Every read path, a PATCH across a part boundary, a copy, a restart and the check.
import Foundation
import Testing

@testable import Engine

@Suite struct UnalignedPartsTests {
    static func buffered(_ engine: Engine, _ key: String, offset: Int64, count: Int) throws -> [UInt8] {
        let reader = try engine.openBuffered(volume: "vol", key: key)
        defer { reader.close() }
        return try Scratch.readAll(count: count, chunk: 300_000) { at, buffer in try reader.read(at: offset + at, into: buffer) }
    }

    @Test func partsThatEndInsideAPageReadPatchAndCopyWhole() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        var (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 256 << 20, volume: "vol", capacity: 128 << 20, replicas: 2)
        let sizes = [(5 << 20) + 17, (5 << 20) + 4095, 513, 1234]
        let parts = sizes.enumerated().map { Scratch.splitMixBytes($0.element, seed: UInt64($0.offset + 1)) }
        var whole = parts.flatMap { $0 }
        let upload = try engine.createUpload(volume: "vol", key: "mp", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        var listed: [(Int64, String)] = []
        for (index, part) in parts.enumerated() {
            listed.append((Int64(index + 1), try MultipartTests.upload(engine, "vol", "mp", upload.id, number: Int64(index + 1), part)))
        }
        _ = try engine.completeUpload(
            volume: "vol", key: "mp", uploadID: upload.id, parts: listed, minimumPartSize: 0, combine: MultipartTests.combine)

        #expect(try Self.buffered(engine, "mp", offset: 0, count: whole.count) == whole, "through the cache, whole")
        #expect(try Scratch.readObject(engine, "vol", "mp") == whole, "direct, whole")
        var generator = SplitMix(state: 5)
        for _ in 0..<40 {
            let offset = Int(generator.next() % UInt64(whole.count))
            let count = 1 + Int(generator.next() % UInt64(min(whole.count - offset, 3 << 20)))
            let expected = Array(whole[offset..<offset + count])
            #expect(try Self.buffered(engine, "mp", offset: Int64(offset), count: count) == expected, "cache, \(offset)+\(count)")
            #expect(try Scratch.readObject(engine, "vol", "mp", offset: Int64(offset), count: count) == expected, "direct, \(offset)+\(count)")
        }
        // A PATCH across the boundary of parts 1 and 2 (inside one page), and one across 3 and 4.
        for (offset, count) in [((5 << 20) + 10, 100), (sizes[0] + sizes[1] + 500, 40)] {
            let bytes = Scratch.splitMixBytes(count, seed: UInt64(offset))
            let patch = try engine.openPatch(volume: "vol", key: "mp", offset: Int64(offset), length: Int64(count), io: .buffered, sync: true)
            try bytes.withUnsafeBytes { try patch.append($0) }
            _ = try patch.commit(etag: nil)
            whole.replaceSubrange(offset..<offset + count, with: bytes)
        }
        #expect(try Self.buffered(engine, "mp", offset: 0, count: whole.count) == whole, "after the PATCHes, through the cache")
        #expect(try Scratch.readObject(engine, "vol", "mp") == whole, "after the PATCHes, direct")
        // Random PATCHes, sync and async, anywhere (each page may hold two parts' bytes).
        for round in 0..<40 {
            let offset = Int(generator.next() % UInt64(whole.count + 100))
            let count = 1 + Int(generator.next() % 20_000)
            let bytes = Scratch.splitMixBytes(count, seed: generator.next())
            let patch = try engine.openPatch(
                volume: "vol", key: "mp", offset: Int64(offset), length: Int64(count), io: .buffered, sync: round % 3 == 0)
            try bytes.withUnsafeBytes { try patch.append($0) }
            _ = try patch.commit(etag: nil)
            if offset + count > whole.count { whole += [UInt8](repeating: 0, count: offset + count - whole.count) }
            whole.replaceSubrange(offset..<offset + count, with: bytes)
        }
        try engine.flushVolume(named: "vol")
        #expect(try Scratch.readObject(engine, "vol", "mp") == whole, "after random PATCHes, direct")
        #expect(engine.spaceAudit().isEmpty, "\(engine.spaceAudit())")
        let (copied, _) = try engine.copyObject(
            from: ("vol", "mp"), if: .none, to: ("vol", "copy"), metadata: .copy, digest: ObjectStoreTests.CountingDigest())
        #expect(copied.size == Int64(whole.count))
        #expect(try Scratch.readObject(engine, "vol", "copy") == whole, "a copy")
        #expect(engine.check(verifyData: true).problems.isEmpty)
        engine.shutdown()

        engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        #expect(try Self.buffered(engine, "mp", offset: 0, count: whole.count) == whole, "after a restart, through the cache")
        #expect(try Scratch.readObject(engine, "vol", "copy") == whole, "after a restart, the copy")
        #expect(engine.spaceAudit().isEmpty)
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }
}
