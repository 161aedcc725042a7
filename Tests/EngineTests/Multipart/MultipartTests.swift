import Foundation
import Testing

// Multipart uploads in the engine: parts are written and committed on their own, Complete makes
// one object of the listed parts (in order, whatever their numbers) without copying, the space
// figures equal a fresh recount after every step, and the parts' space comes back on abort, on
// parts left out, on a re-uploaded part number and on the bucket's deletion.
@testable import Engine

@Suite struct MultipartTests {
    static let partSize = 5 << 20

    static func upload(_ engine: Engine, _ volume: String, _ key: String, _ id: String, number: Int64, _ bytes: [UInt8]) throws -> String {
        let writer = try engine.beginPart(volume: volume, key: key, uploadID: id, number: number, length: Int64(bytes.count))
        try bytes.withUnsafeBytes { try writer.append($0) }
        return try writer.commit(etag: "etag-\(number)-\(bytes.count)").etag
    }

    static func read(_ engine: Engine, _ volume: String, _ key: String) throws -> [UInt8] {
        let reader = try engine.openObject(volume: volume, key: key)
        defer { reader.close() }
        var out = [UInt8](repeating: 0, count: Int(reader.info.size))
        var done = 0
        while done < out.count {
            let n = try out.withUnsafeMutableBytes { try reader.read(at: Int64(done), into: UnsafeMutableRawBufferPointer(rebasing: $0[done...])) }
            #expect(n > 0)
            if n == 0 { break }
            done += n
        }
        return out
    }

    static func combine(_ parts: [PartInfo]) -> (etag: String, checksums: [String: String]) {
        (parts.map(\.etag).joined(separator: "+"), [:])
    }

    @Test func completeJoinsTheListedPartsAndFreesTheRest() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 256 << 20, volume: "photos", capacity: 128 << 20, replicas: 2)
        defer { engine.shutdown() }
        let first = Scratch.splitMixBytes(Self.partSize, seed: 1)
        let second = Scratch.splitMixBytes(Self.partSize + 123, seed: 2)
        let last = Scratch.splitMixBytes(4097, seed: 3)
        let upload = try engine.createUpload(
            volume: "photos", key: "big", contentType: "video/mp4", metadata: ["x-amz-meta-a": "1"], checksumAlgorithm: nil)
        let e1 = try Self.upload(engine, "photos", "big", upload.id, number: 1, Scratch.splitMixBytes(1000, seed: 9))
        _ = e1
        // Part 1 again replaces the first upload of that number; part 7 is left out of the list.
        let e1b = try Self.upload(engine, "photos", "big", upload.id, number: 1, first)
        let e3 = try Self.upload(engine, "photos", "big", upload.id, number: 3, second)
        _ = try Self.upload(engine, "photos", "big", upload.id, number: 7, Scratch.splitMixBytes(2000, seed: 4))
        let e9 = try Self.upload(engine, "photos", "big", upload.id, number: 9, last)
        try SpaceCountersTests.expectCountersMatchRecount(engine, "after parts")
        #expect(try engine.volume(named: "photos").usedBytes == Int64(first.count + second.count + 2000 + last.count))
        #expect(try engine.listParts(volume: "photos", key: "big", uploadID: upload.id).1.map(\.number) == [1, 3, 7, 9])

        // Out of order, a wrong ETag, a small part that is not the last: refused, nothing changes.
        #expect(throws: EngineError.invalidPartOrder) {
            try engine.completeUpload(
                volume: "photos", key: "big", uploadID: upload.id, parts: [(3, e3), (1, e1b)], minimumPartSize: Int64(Self.partSize),
                combine: Self.combine)
        }
        #expect(throws: EngineError.self) {
            try engine.completeUpload(
                volume: "photos", key: "big", uploadID: upload.id, parts: [(1, "nope")], minimumPartSize: Int64(Self.partSize), combine: Self.combine)
        }
        #expect(throws: EngineError.partTooSmall(number: 7, size: 2000, minimum: Int64(Self.partSize))) {
            try engine.completeUpload(
                volume: "photos", key: "big", uploadID: upload.id, parts: [(7, "etag-7-2000"), (9, e9)], minimumPartSize: Int64(Self.partSize),
                combine: Self.combine)
        }
        try SpaceCountersTests.expectCountersMatchRecount(engine, "after refused completes")

        let (object, retried) = try engine.completeUpload(
            volume: "photos", key: "big", uploadID: upload.id, parts: [(1, "\"\(e1b)\""), (3, e3), (9, e9)], minimumPartSize: Int64(Self.partSize),
            combine: Self.combine)
        #expect(!retried)
        #expect(object.etag == [e1b, e3, e9].joined(separator: "+"))
        #expect(object.size == Int64(first.count + second.count + last.count))
        #expect(object.contentType == "video/mp4" && object.metadata == ["x-amz-meta-a": "1"])
        #expect(try Self.read(engine, "photos", "big") == first + second + last)
        #expect(try engine.openBuffered(volume: "photos", key: "big").info.size == object.size)
        // The part sizes are kept (GetObject ?partNumber=), in the cache's view as in the catalog's.
        let sizes = [Int64(first.count), Int64(second.count), Int64(last.count)]
        #expect(object.parts == sizes)
        #expect(try engine.openBuffered(volume: "photos", key: "big").info.parts == sizes)
        #expect(try engine.openObject(volume: "photos", key: "big").info.parts == sizes)
        try SpaceCountersTests.expectCountersMatchRecount(engine, "after complete")
        #expect(try engine.volume(named: "photos").usedBytes == object.size)
        // A retried Complete answers the same; the upload is gone for anything else.
        let again = try engine.completeUpload(
            volume: "photos", key: "big", uploadID: upload.id, parts: [(1, e1b), (3, e3), (9, e9)], minimumPartSize: Int64(Self.partSize),
            combine: Self.combine)
        #expect(again.retried && again.0.etag == object.etag)
        #expect(throws: EngineError.uploadNotFound(id: upload.id)) { try engine.listParts(volume: "photos", key: "big", uploadID: upload.id) }
        #expect(throws: EngineError.uploadNotFound(id: upload.id)) {
            try engine.beginPart(volume: "photos", key: "big", uploadID: upload.id, number: 2, length: 1)
        }
        try SpaceCountersTests.expectCountersMatchRecount(engine, "after retry")
    }

    @Test func partSizesSurviveARestartAndAPatchDropsThem() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        var (engine, _) = try Scratch.engine(dir, devices: 1, deviceSize: 128 << 20, volume: "vol", capacity: 64 << 20)
        let upload = try engine.createUpload(volume: "vol", key: "k", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        let e1 = try Self.upload(engine, "vol", "k", upload.id, number: 1, Scratch.splitMixBytes(Self.partSize, seed: 1))
        let e2 = try Self.upload(engine, "vol", "k", upload.id, number: 2, Scratch.splitMixBytes(Self.partSize, seed: 2))
        let e3 = try Self.upload(engine, "vol", "k", upload.id, number: 3, Scratch.splitMixBytes(10, seed: 3))
        _ = try engine.completeUpload(
            volume: "vol", key: "k", uploadID: upload.id, parts: [(1, e1), (2, e2), (3, e3)], minimumPartSize: Int64(Self.partSize),
            combine: Self.combine)
        engine.shutdown()
        engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        let sizes = [Int64(Self.partSize), Int64(Self.partSize), 10]
        #expect(try engine.openBuffered(volume: "vol", key: "k").info.parts == sizes, "after a restart")
        let patch = try engine.openPatch(volume: "vol", key: "k", offset: 5, length: 3, io: .buffered, sync: true)
        try [UInt8]([1, 2, 3]).withUnsafeBytes { try patch.append($0) }
        #expect(try patch.commit(etag: nil).parts.isEmpty, "a PATCH drops the part sizes")
        #expect(try engine.openObject(volume: "vol", key: "k").info.parts.isEmpty, "…in the catalog too")
    }

    @Test func abortAndBucketDeletionFreeTheParts() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, deviceSize: 128 << 20, volume: "backups", capacity: 32 << 20)
        defer { engine.shutdown() }
        let before = try engine.pool().allocatedBytes
        let a = try engine.createUpload(volume: "backups", key: "k", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        _ = try Self.upload(engine, "backups", "k", a.id, number: 1, Scratch.splitMixBytes(300_000))
        #expect(try engine.listUploads(volume: "backups", prefix: "", keyMarker: nil, uploadIDMarker: nil, limit: 10).map(\.id) == [a.id])
        try engine.abortUpload(volume: "backups", key: "k", uploadID: a.id)
        #expect(try engine.listUploads(volume: "backups", prefix: "", keyMarker: nil, uploadIDMarker: nil, limit: 10).isEmpty)
        #expect(throws: EngineError.uploadNotFound(id: a.id)) { try engine.abortUpload(volume: "backups", key: "k", uploadID: a.id) }
        try SpaceCountersTests.expectCountersMatchRecount(engine, "after abort")
        #expect(try engine.volume(named: "backups").usedBytes == 0)

        // A part over the quota is refused before a byte is stored.
        let b = try engine.createUpload(volume: "backups", key: "k", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        #expect(throws: EngineError.self) { try engine.beginPart(volume: "backups", key: "k", uploadID: b.id, number: 1, length: 33 << 20) }
        _ = try Self.upload(engine, "backups", "k", b.id, number: 1, Scratch.splitMixBytes(200_000))
        // An upload survives a restart with its parts.
        engine.shutdown()
        let reopened = try Scratch.engine(dir)
        defer { reopened.shutdown() }
        #expect(try reopened.listParts(volume: "backups", key: "k", uploadID: b.id).1.map(\.size) == [200_000])
        try SpaceCountersTests.expectCountersMatchRecount(reopened, "after restart")
        try reopened.deleteVolume(named: "backups", force: false)
        try SpaceCountersTests.expectCountersMatchRecount(reopened, "after the volume's deletion")
        #expect(try reopened.pool().allocatedBytes == before)
    }

    /// An upload belongs to its key's bytes: "caf\u{E9}"'s upload is not found under "cafe\u{301}".
    @Test func anUploadIsNotFoundUnderACanonicallyEquivalentKey() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let upload = try engine.createUpload(volume: "vol", key: "caf\u{E9}", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        #expect(try engine.upload(volume: "vol", key: "caf\u{E9}", id: upload.id).id == upload.id)
        #expect(throws: EngineError.self) { try engine.upload(volume: "vol", key: "cafe\u{0301}", id: upload.id) }
    }
}
