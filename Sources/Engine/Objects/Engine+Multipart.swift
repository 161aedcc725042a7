// Multipart uploads (S3's CreateMultipartUpload … CompleteMultipartUpload). Parts are written
// like any upload (space reserved first, extents on every replica, made durable, committed) but
// recorded under their upload; Complete moves their extent rows to a new version of the object in
// one transaction, without copying data, and frees parts left out. Across a restart an open
// upload and its committed parts stay (listed, completable, abortable); a part still being
// written when the process stopped was never committed, so its space is simply free again.
import Catalog
package import Foundation
import Logging

package struct UploadInfo: Sendable, Equatable {
    package var id: String
    package var key: String
    package var contentType: String?
    package var metadata: [String: String]
    package var checksumAlgorithm: String?
    package var createdAt: Date
}

package struct PartInfo: Sendable, Equatable {
    package var number: Int64
    package var size: Int64
    package var etag: String
    package var checksums: [String: String]
    package var modifiedAt: Date
}

extension UploadInfo {
    init(_ record: UploadRecord) {
        self.init(
            id: record.id, key: record.key, contentType: record.contentType, metadata: record.metadataMap,
            checksumAlgorithm: record.checksumAlgorithm, createdAt: record.createdAt)
    }
}

extension PartInfo {
    init(_ record: PartRecord) {
        self.init(number: record.partNumber, size: record.size, etag: record.etag, checksums: record.checksumMap, modifiedAt: record.createdAt)
    }
}

extension Engine {
    package static let maxPartNumber: Int64 = 10_000

    package func createUpload(
        volume name: String, key: String, contentType: String?, metadata: [String: String], checksumAlgorithm: String?
    ) throws(EngineError) -> UploadInfo {
        try Self.validate(key: key)
        let volume = try volumeRecord(named: name)
        try checkMetadataRoom(key: key)
        var bytes = [UInt8](repeating: 0, count: 18)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = generator.next() }
        let id = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let record = UploadRecord(
            id: id, volumeId: volume.id!, key: key, contentType: contentType, metadata: metadata, checksumAlgorithm: checksumAlgorithm,
            createdAt: Date().truncatedToMilliseconds)
        let limit = uploadJanitor.maxOpenPerVolume
        try catalogCall(notFound: .volumeNotFound(name: name)) {
            try catalog.createUpload(record) { open throws(EngineError) in
                if open >= limit { throw .tooManyUploads(volume: name, limit: limit) }
            }
        }
        return UploadInfo(record)
    }

    /// `maxOpenUploadsPerVolume`: open uploads a volume may hold; `expiry`: seconds after its
    /// creation an open upload is aborted in the background (0: never).
    package func configureMultipart(maxOpenUploadsPerVolume: Int, expiry: Double) {
        uploadJanitor.configure(self, maxOpenPerVolume: maxOpenUploadsPerVolume, expiry: expiry)
    }

    /// The open upload `id` of `key` in the volume.
    package func upload(volume name: String, key: String, id: String) throws(EngineError) -> UploadInfo {
        let volume = try volumeRecord(named: name)
        guard let record = try catalogCall({ try catalog.upload(id: id) }), record.volumeId == volume.id!, record.key.sameBytes(as: key),
            record.completedETag == nil
        else { throw .uploadNotFound(id: id) }
        return UploadInfo(record)
    }

    /// Starts writing part `number` of an upload: a writer whose commit records the part.
    package func beginPart(
        volume name: String, key: String, uploadID: String, number: Int64, length: Int64?
    ) throws(EngineError) -> ObjectWriter {
        guard (1...Self.maxPartNumber).contains(number) else {
            throw .invalidArgument(field: "partNumber", reason: "must be 1 to \(Self.maxPartNumber)")
        }
        try Self.validate(length: length)
        let upload = try upload(volume: name, key: key, id: uploadID)
        let volume = try volumeRecord(named: name)
        return try ObjectWriter(
            engine: self, volume: volume, key: upload.key, contentType: nil, declaredLength: length, replacing: nil,
            destination: .part(uploadID: uploadID, number: number))
    }

    package func listParts(volume name: String, key: String, uploadID: String) throws(EngineError) -> (UploadInfo, [PartInfo]) {
        let upload = try upload(volume: name, key: key, id: uploadID)
        return (upload, try catalogCall { try catalog.parts(uploadID: uploadID) }.map(PartInfo.init))
    }

    package func listUploads(volume name: String, prefix: String, keyMarker: String?, uploadIDMarker: String?, limit: Int) throws(EngineError)
        -> [UploadInfo]
    {
        let volume = try volumeRecord(named: name)
        return try catalogCall {
            try catalog.listUploads(volumeID: volume.id!, prefix: prefix, keyMarker: keyMarker, uploadIDMarker: uploadIDMarker, limit: limit)
        }.map(UploadInfo.init)
    }

    /// Completes an upload from `parts` (ascending part numbers, each with the ETag its upload
    /// answered). Every part but the last holds at least `minimumPartSize` bytes. `combine`
    /// gives the object's ETag and checksums from the chosen parts. Returns the new version and
    /// whether this was a retry of a Complete already done. `conditions` (If-Match, If-None-Match)
    /// are checked against the version replaced, in the commit's transaction with the key held.
    package func completeUpload(
        volume name: String, key: String, uploadID: String, parts requested: [(number: Int64, etag: String)], minimumPartSize: Int64,
        conditions: WriteConditions = .none, combine: @escaping ([PartInfo]) -> (etag: String, checksums: [String: String])
    ) throws(EngineError) -> (ObjectInfo, retried: Bool) {
        let volume = try volumeRecord(named: name)
        guard let record = try catalogCall({ try catalog.upload(id: uploadID) }), record.volumeId == volume.id!, record.key.sameBytes(as: key) else {
            throw .uploadNotFound(id: uploadID)
        }
        guard !requested.isEmpty else { throw .invalidArgument(field: "CompleteMultipartUpload", reason: "lists no parts") }
        for (previous, next) in zip(requested, requested.dropFirst()) where next.number <= previous.number { throw .invalidPartOrder }
        let completion = try commitBypassingCache(volume, key: key, flushFirst: true) { _ throws(EngineError) in
            try space.commit(SpaceAccounting.Reservation(volumeID: volume.id!, thick: false)) { () throws(EngineError) in
                let completion = try catalogCall(notFound: .uploadNotFound(id: uploadID)) {
                    try groupCommit.commit(self, devices: []) { transaction in
                        try transaction.completeUpload(
                            uploadID: uploadID, now: Date().truncatedToMilliseconds, versioned: volume.versioning == .enabled
                        ) { upload, stored in
                            guard upload != nil else { throw EngineError.uploadNotFound(id: uploadID) }
                            let byNumber = Dictionary(uniqueKeysWithValues: stored.map { ($0.record.partNumber, $0) })
                            var chosen: [StoredPart] = []
                            for (index, part) in requested.enumerated() {
                                guard let found = byNumber[part.number] else {
                                    throw EngineError.invalidPart(number: part.number, reason: "was not uploaded")
                                }
                                guard Self.sameETag(found.record.etag, part.etag) else {
                                    throw EngineError.invalidPart(
                                        number: part.number, reason: "its ETag is \"\(found.record.etag)\", not \(part.etag)")
                                }
                                if index < requested.count - 1, found.record.size < minimumPartSize {
                                    throw EngineError.partTooSmall(number: part.number, size: found.record.size, minimum: minimumPartSize)
                                }
                                chosen.append(found)
                            }
                            let combined = combine(chosen.map { PartInfo($0.record) })
                            return (chosen, combined.etag, combined.checksums)
                        } validate: { replacing in
                            try conditions.check(current: replacing?.etag, volume: name, key: key)
                        }
                    }
                }
                return (completion, completion.delta)
            }
        }
        deferredFree.retire(completion.freed.map(PhysicalRange.init), inline: completion.freedInline)
        return (ObjectInfo(completion.object), completion.retried)
    }

    /// An ETag as a client lists it (quoted or not) against the stored one.
    static func sameETag(_ stored: String, _ given: String) -> Bool {
        var given = given.trimmingCharacters(in: .whitespaces)
        if given.hasPrefix("\""), given.hasSuffix("\""), given.count >= 2 { given = String(given.dropFirst().dropLast()) }
        return given == stored
    }

    /// Aborts an open upload; its parts' space is freed once the abort is durable.
    package func abortUpload(volume name: String, key: String, uploadID: String) throws(EngineError) {
        _ = try upload(volume: name, key: key, id: uploadID)
        let volume = try volumeRecord(named: name)
        try abortUpload(volumeID: volume.id!, uploadID: uploadID)
    }

    /// Aborts every open upload created before `cutoff` (the expiry sweep), a batch at a time.
    /// An upload completed or aborted meanwhile is skipped; a failure is logged and left for the
    /// next sweep.
    func abortExpiredUploads(before cutoff: Date) {
        var failed: Set<String> = []
        while true {
            let expired: [UploadRecord]
            do {
                expired = try catalogCall { try catalog.openUploads(createdBefore: cutoff, limit: 100 + failed.count) }
            } catch {
                logger.error("listing expired multipart uploads failed", metadata: ["error": "\(error)"])
                return
            }
            let todo = expired.filter { !failed.contains($0.id) }
            if todo.isEmpty { return }
            for upload in todo {
                do throws(EngineError) {
                    try abortUpload(volumeID: upload.volumeId, uploadID: upload.id)
                    logger.info(
                        "aborted an expired multipart upload",
                        metadata: ["upload": "\(upload.id)", "key": "\(upload.key)", "created": "\(upload.createdAt)"])
                } catch .uploadNotFound {
                    continue  // completed or aborted meanwhile
                } catch {
                    failed.insert(upload.id)
                    logger.error("aborting an expired multipart upload failed", metadata: ["upload": "\(upload.id)", "error": "\(error)"])
                }
            }
        }
    }

    private func abortUpload(volumeID: Int64, uploadID: String) throws(EngineError) {
        let removal = try space.commit(SpaceAccounting.Reservation(volumeID: volumeID, thick: false)) { () throws(EngineError) in
            let removal = try catalogCall {
                try groupCommit.commit(self, devices: []) { transaction in try transaction.abortUpload(uploadID: uploadID) }
            }
            guard let removal else { throw EngineError.uploadNotFound(id: uploadID) }
            return (removal, removal.delta)
        }
        deferredFree.retire(removal.replicas.map(PhysicalRange.init), inline: [])
    }
}
