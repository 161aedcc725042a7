import Foundation
import Testing

// Listing open uploads: by key (bytes) then creation; the markers continue in that same order,
// and a prefix matches bytes ("e" is a prefix of "e\u{301}/x", not of "\u{E9}/x"; '%' and '_' are
// plain characters).
@testable import Catalog

@Suite struct CatalogMultipartTests {
    @Test func pagesThroughEveryUploadOfAKeyInCreationOrder() throws {
        let catalog = try Catalog.inMemory()
        let volume = try catalog.createVolume(Fixture.volume("vol", capacity: 1 << 20)) { _ in }.record.id!
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        // Ids are random: creation order is not id order.
        let uploads: [(id: String, key: String, at: TimeInterval)] = [
            ("z", "k", 0), ("a", "k", 1), ("m", "k", 2), ("b", "e\u{0301}/x", 0), ("c", "e/y", 0), ("d", "\u{E9}/x", 0), ("f", "e%_", 0),
        ]
        for upload in uploads {
            try catalog.createUpload(
                UploadRecord(
                    id: upload.id, volumeId: volume, key: upload.key, contentType: nil, metadata: [:], checksumAlgorithm: nil,
                    createdAt: start.addingTimeInterval(upload.at)))
        }
        var listed: [String] = []
        var marker: (key: String, id: String)?
        for _ in 0..<uploads.count + 1 {
            let page = try catalog.listUploads(volumeID: volume, prefix: "", keyMarker: marker?.key, uploadIDMarker: marker?.id, limit: 1)
            guard let upload = page.first else { break }
            listed.append(upload.id)
            marker = (upload.key, upload.id)
        }
        // Byte order of keys: "e%_" 65 25 < "e/y" 65 2F < "e\u{301}/x" 65 CC < "k" < "\u{E9}/x" C3 A9.
        #expect(listed == ["f", "c", "b", "z", "a", "m", "d"])
        #expect(try catalog.listUploads(volumeID: volume, prefix: "e", keyMarker: nil, uploadIDMarker: nil, limit: 10).map(\.id) == ["f", "c", "b"])
        #expect(try catalog.listUploads(volumeID: volume, prefix: "e%", keyMarker: nil, uploadIDMarker: nil, limit: 10).map(\.id) == ["f"])
        #expect(try catalog.listUploads(volumeID: volume, prefix: "E", keyMarker: nil, uploadIDMarker: nil, limit: 10).isEmpty)
        #expect(try catalog.listUploads(volumeID: volume, prefix: "", keyMarker: "k", uploadIDMarker: nil, limit: 10).map(\.id) == ["d"])
    }
}

// Part sizes as stored in the objects row: runs of equal sizes, read back exactly; anything else is none.
@Suite struct PartSizesEncodingTests {
    @Test(arguments: [[Int64](), [5 << 20], [5 << 20, 5 << 20, 5 << 20, 17], [1, 2, 2, 3, 3, 3], [0], [5 << 20, 1, 5 << 20]])
    func roundTrips(_ parts: [Int64]) {
        let stored = ObjectAttributes.encode(parts: parts)
        #expect((stored == nil) == parts.isEmpty)
        #expect(ObjectAttributes.decodeParts(stored) == parts, "\(stored ?? "nil")")
    }

    @Test func runsAreCompactAndBadTextIsNoParts() {
        #expect(ObjectAttributes.encode(parts: [Int64](repeating: 5 << 20, count: 9_999) + [3]) == "5242880*9999,3")
        for bad in ["", "x", "5*", "*5", "5*0", "5*10001", "-1", "5*9999,1*2", "1*2*3", "1,,2", "1,"] {
            #expect(ObjectAttributes.decodeParts(bad) == [], "\(bad)")
        }
    }
}
