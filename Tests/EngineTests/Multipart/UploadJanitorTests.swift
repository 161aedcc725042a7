import Foundation
import Testing

// Bounds on open multipart uploads in the engine: the per-volume limit is checked in the creating
// transaction, and the expiry sweep aborts exactly the uploads created before its cutoff, freeing
// their parts' space (the counters equal a recount after it).
@testable import Engine

@Suite struct UploadJanitorTests {
    @Test func aVolumeHoldsAtMostTheLimitOfOpenUploads() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "busy")
        defer { engine.shutdown() }
        _ = try engine.createVolume(name: "quiet", capacityBytes: 1 << 20, replicas: 1, provisioning: .thin)
        engine.configureMultipart(maxOpenUploadsPerVolume: 2, expiry: 0)
        let first = try engine.createUpload(volume: "busy", key: "a", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        _ = try engine.createUpload(volume: "busy", key: "b", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        #expect(throws: EngineError.tooManyUploads(volume: "busy", limit: 2)) {
            try engine.createUpload(volume: "busy", key: "c", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        }
        #expect(EngineError.tooManyUploads(volume: "busy", limit: 2).kind == .busy)
        _ = try engine.createUpload(volume: "quiet", key: "c", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        try engine.abortUpload(volume: "busy", key: "a", uploadID: first.id)
        _ = try engine.createUpload(volume: "busy", key: "c", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        #expect(try engine.listUploads(volume: "busy", prefix: "", keyMarker: nil, uploadIDMarker: nil, limit: 10).map(\.key) == ["b", "c"])
    }

    @Test func theSweepAbortsUploadsCreatedBeforeItsCutoffAndFreesTheirParts() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, volume: "parts", replicas: 2)
        defer { engine.shutdown() }
        let old = try engine.createUpload(volume: "parts", key: "old", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        _ = try MultipartTests.upload(engine, "parts", "old", old.id, number: 1, Scratch.splitMixBytes(300_000, seed: 1))
        _ = try MultipartTests.upload(engine, "parts", "old", old.id, number: 2, Scratch.splitMixBytes(5000, seed: 2))
        let cutoff = Date().addingTimeInterval(0.01)
        Thread.sleep(forTimeInterval: 0.05)
        let young = try engine.createUpload(volume: "parts", key: "young", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        _ = try MultipartTests.upload(engine, "parts", "young", young.id, number: 1, Scratch.splitMixBytes(7000, seed: 3))
        #expect(try engine.volume(named: "parts").usedBytes == 312_000)

        engine.abortExpiredUploads(before: cutoff)
        #expect(throws: EngineError.uploadNotFound(id: old.id)) { try engine.upload(volume: "parts", key: "old", id: old.id) }
        #expect(try engine.upload(volume: "parts", key: "young", id: young.id).id == young.id)
        #expect(try engine.volume(named: "parts").usedBytes == 7000)
        try SpaceCountersTests.expectCountersMatchRecount(engine, "after the sweep")
        engine.abortExpiredUploads(before: cutoff)  // nothing left to do
        #expect(try engine.volume(named: "parts").usedBytes == 7000)
    }

    @Test func sweepsComeAtATenthOfTheExpiryWithinBounds() {
        #expect(UploadJanitor.period(expiry: 3) == 1)
        #expect(UploadJanitor.period(expiry: 3600) == 360)
        #expect(UploadJanitor.period(expiry: 7 * 86_400) == 600)
    }
}
