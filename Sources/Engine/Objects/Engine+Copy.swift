// Server-side copies (S3 CopyObject and UploadPartCopy): the version of the source that the
// copy-source conditions accept is read and the bytes never travel back through HTTP. The front
// end's digest (S3: the MD5 of the bytes) sees every byte and names the copy's ETag.
//
// A whole object copied within its volume shares the source's extents (`Catalog+Copies.swift`):
// the source's committed version is read once, for the digest, unless the digest takes the
// source's ETag as the copy's (S3: a single-part object's is already the MD5 of its bytes), and
// the copy is a catalog row
// that borrows its bytes, committed with both keys held (the source's dirty pages written back
// first, so no PATCH applied before the copy is spliced over extents it shares afterwards; one
// applied after sees the row shared and writes the object whole). Nothing is written to the
// devices and no space is taken. Across volumes, or as a part, the bytes are written anew.
package import Catalog
import Foundation

package protocol ObjectDigest: AnyObject {
    func update(_ bytes: UnsafeRawBufferPointer)
    /// The ETag of the bytes seen.
    func finish() -> String
    /// Forgets the bytes seen (the copy reads its source again).
    func reset()
    /// The ETag of a copy that shares `source`'s bytes when the source's own names them, so
    /// that they need not be read (nil: they are read through the digest).
    func etag(ofCopyOf source: ObjectInfo) -> String?
}

/// A copy's metadata: the source's, or new (S3's REPLACE directive).
package enum CopyMetadata: Sendable {
    case copy
    case replace(contentType: String?, metadata: [String: String])
}

extension Engine {
    /// Copies `source` into `target` when `conditions` accept the source's version (else
    /// `conditionNotMet`, nothing written); the new version's info.
    package func copyObject(
        from source: (volume: String, key: String), version: VersionID? = nil, if conditions: ReadConditions,
        to target: (volume: String, key: String), metadata: CopyMetadata, digest: any ObjectDigest
    ) throws(EngineError) -> (copy: ObjectInfo, source: ObjectInfo) {
        if source.volume == target.volume {
            for _ in 0..<Self.shareAttempts {
                if let shared = try shareCopy(from: source, version: version, if: conditions, to: target.key, metadata: metadata, digest: digest) {
                    return shared
                }
                digest.reset()
            }
        }
        let reader = try openCopySource(source, version: version, conditions)
        defer { reader.close() }
        let info = reader.info
        let (contentType, userMetadata): (String?, [String: String]) =
            switch metadata {
            case .copy: (info.contentType, info.metadata)
            case .replace(let contentType, let metadata): (contentType, metadata)
            }
        let writer = try beginUpload(
            volume: target.volume, key: target.key, contentType: contentType, length: info.size, cacheThrough: true, metadata: userMetadata,
            checksums: info.checksums)
        // A copy of a multipart object is one part: its ETag is the digest of the bytes.
        return (try Self.copy(reader, start: 0, length: info.size, digest: digest, into: writer), info)
    }

    /// How many times a copy within a volume tries to share a source that keeps changing under
    /// it before it copies the bytes.
    static let shareAttempts = 3

    /// Copies the committed version of `source` that `conditions` accept as `key` of the same
    /// volume, sharing its extents; nil when the version read was replaced before the copy
    /// could commit (nothing changed).
    private func shareCopy(
        from source: (volume: String, key: String), version: VersionID?, if conditions: ReadConditions, to key: String, metadata: CopyMetadata,
        digest: any ObjectDigest
    ) throws(EngineError) -> (copy: ObjectInfo, source: ObjectInfo)? {
        try Self.validate(key: key)
        let volume = try volumeRecord(named: source.volume)
        let reader = try openObject(volume: source.volume, key: source.key, version: version)
        defer { reader.close() }
        let info = reader.info
        guard conditions.evaluate(info) == .proceed else {
            throw .conditionNotMet("a copy-source condition does not hold for \(source.volume)/\(source.key)")
        }
        var etag = digest.etag(ofCopyOf: info)
        if etag == nil {
            try Self.pump(reader, start: 0, length: info.size, digest: digest) { _ throws(EngineError) in }
            etag = digest.finish()
        }
        let (contentType, userMetadata): (String?, [String: String]) =
            switch metadata {
            case .copy: (info.contentType, info.metadata)
            case .replace(let contentType, let metadata): (contentType, metadata)
            }
        try checkMetadataRoom(key: key, metadata: userMetadata)  // a row more in the catalog
        // A copy of a multipart object is one part: its ETag is the digest of the bytes.
        let copy = ObjectCopy(
            version: ObjectVersion(
                volumeID: volume.id!, key: key, size: info.size, etag: etag!, contentType: contentType,
                attributes: ObjectAttributes(metadata: userMetadata, checksums: info.checksums), versioned: volume.versioning == .enabled),
            sourceRowID: reader.rowID, sourceKey: source.key, sourceETag: info.etag)
        let commit = try holdingKeys([(volume, source.key), (volume, key)]) { () throws(EngineError) -> ObjectCommit? in
            try space.commit(SpaceAccounting.Reservation(volumeID: volume.id!, thick: false)) { () throws(EngineError) in
                let commit = try catalogCall(notFound: .volumeNotFound(name: volume.name)) {
                    try groupCommit.commit(self, devices: []) { transaction in
                        try transaction.commitCopy(copy, now: Date().truncatedToMilliseconds) { _ in }
                    }
                }
                return (commit, commit?.delta)
            }
        }
        guard let commit else { return nil }
        deferredFree.retire(commit.replaced.map(PhysicalRange.init), inline: commit.replacedInline)
        stats.mode(volume.name, "direct") { $0.writeOps += 1 }
        return (ObjectInfo(commit.object.record), info)
    }

    /// Copies bytes of `source` (all, or the range `range` picks from its size, or throws for) as
    /// part `number` of the multipart upload `uploadID` of `target`, when `conditions` accept the
    /// source's version; the part's info.
    package func copyPart(
        from source: (volume: String, key: String), version: VersionID? = nil, if conditions: ReadConditions,
        range: (_ size: Int64) throws(EngineError) -> (start: Int64, length: Int64),
        to target: (volume: String, key: String), uploadID: String, number: Int64, digest: any ObjectDigest
    ) throws(EngineError) -> ObjectInfo {
        let reader = try openCopySource(source, version: version, conditions)
        defer { reader.close() }
        let (start, length) = try range(reader.info.size)
        let writer = try beginPart(volume: target.volume, key: target.key, uploadID: uploadID, number: number, length: length)
        return try Self.copy(reader, start: start, length: length, digest: digest, into: writer)
    }

    /// The source's version, opened once: the conditions are checked against the very version
    /// copied. The current version through the cache; another version past it.
    private func openCopySource(
        _ source: (volume: String, key: String), version: VersionID?, _ conditions: ReadConditions
    ) throws(EngineError) -> any ObjectSource {
        let reader: any ObjectSource =
            if let version { try openObject(volume: source.volume, key: source.key, version: version) } else {
                try openBuffered(volume: source.volume, key: source.key)
            }
        guard conditions.evaluate(reader.info) == .proceed else {
            reader.close()
            throw .conditionNotMet("a copy-source condition does not hold for \(source.volume)/\(source.key)")
        }
        return reader
    }

    /// Writes `length` bytes from `start` of `reader` into `writer`, through `digest`, and commits
    /// with the digest's ETag; the writer is aborted on any error.
    private static func copy(
        _ reader: any ObjectSource, start: Int64, length: Int64, digest: any ObjectDigest, into writer: ObjectWriter
    ) throws(EngineError) -> ObjectInfo {
        do throws(EngineError) {
            try pump(reader, start: start, length: length, digest: digest) { bytes throws(EngineError) in try writer.append(bytes) }
            return try writer.commit(etag: digest.finish())
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Reads `length` bytes from `start` of `reader` into `append`, through `digest`.
    private static func pump(
        _ reader: any ObjectSource, start: Int64, length: Int64, digest: any ObjectDigest,
        into append: (UnsafeRawBufferPointer) throws(EngineError) -> Void
    ) throws(EngineError) {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < length {
            let want = Int(min(Int64(chunk), length - done))
            let n = try reader.read(at: start + done, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
            guard n > 0 else { throw .dataUnavailable(key: reader.info.key, detail: "the source ended early") }
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            digest.update(bytes)
            try append(bytes)
            done += Int64(n)
        }
    }
}
