// Engine errors: specific cases inside, each classified into a small closed `Kind` that the API
// maps to HTTP in exactly one place (bcachefs's errcode-with-parent-class idea). No status codes here.
package enum EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        case invalid, notFound, notAllowed, conflict, precondition, noSpace, tooLarge, range, io, busy, `internal`
    }
    package enum SpaceScope: String, Sendable, Equatable { case pool, volumeQuota = "volume quota" }

    case invalidArgument(field: String, reason: String)
    case deviceUnusable(path: String, reason: String)
    case deviceNotFound(id: String)
    case volumeNotFound(name: String)
    case devicePathInUse(path: String)
    case deviceAlreadyMember(path: String)
    case deviceForeign(path: String, reason: String)
    /// A device path inside the data directory (force or not).
    case deviceInDataDirectory(path: String, dataDirectory: String)
    case deviceHoldsData(id: String, bytes: Int64, detail: String?)
    /// A forced removal of a dead device would lose data that has no copy elsewhere.
    case deviceHoldsSoleCopies(id: String, bytes: Int64, objects: [String])
    case deviceNeededByVolumes(id: String, replicas: Int64, remaining: Int)
    case deviceNeededForReservations(id: String)
    case deviceStateChange(id: String, from: String, to: String)
    case volumeExists(name: String)
    case replicasExceedDevices(requested: Int64, active: Int)
    case volumeShrinkBelowUsed(name: String, used: Int64)
    case volumeNotEmpty(name: String, objects: Int64)
    case noSpace(SpaceScope, needed: Int64, available: Int64)
    /// The catalog has grown near the room of its smallest copy: no new objects until it shrinks
    /// or its copies move to larger metadata areas.
    case metadataFull(bytes: Int64, room: Int64)
    case objectNotFound(volume: String, key: String)
    case uploadIncomplete(expected: Int64, received: Int64)
    case uploadTooLong(expected: Int64)
    /// A PATCH longer than what one request may stage in the cache.
    case patchTooLarge(length: Int64, limit: Int64)
    /// A length (or offset + length) past the largest object any volume can hold.
    case objectTooLarge(bytes: Int64, limit: Int64)
    /// The cache has no room to stage a write, even after writing back what it could.
    case cacheFull
    /// No replica of some data could be read intact.
    case dataUnavailable(key: String, detail: String)
    case io(call: String, path: String, errno: Int32)
    case catalog(String)
    case accessKeyNotFound(id: String)
    /// No open multipart upload with this id in the volume.
    case uploadNotFound(id: String)
    /// A Complete listed a part that was not uploaded, or with another ETag.
    case invalidPart(number: Int64, reason: String)
    /// A Complete listed parts out of ascending order (or twice).
    case invalidPartOrder
    /// A part other than the last is smaller than the minimum.
    case partTooSmall(number: Int64, size: Int64, minimum: Int64)
    /// A scrub is already running (one at a time).
    case scrubRunning
    /// A volume holds as many open multipart uploads as it may.
    case tooManyUploads(volume: String, limit: Int)
    /// A read's, copy's or write's conditions (If-Match and the others) do not hold for the version found.
    case conditionNotMet(String)
    /// A range (of a copy's source) that starts or ends past the object's `size` bytes.
    case rangeNotSatisfiable(field: String, size: Int64)
    /// The key has no version with this id (or the id names nothing).
    case versionNotFound(volume: String, key: String, version: String)
    /// The version asked for is a delete marker: it has no bytes to read or copy.
    case versionIsDeleteMarker(volume: String, key: String, version: String)
    /// Versioning, once enabled, can be suspended but not turned off.
    case versioningCannotTurnOff(volume: String)
    case snapshotNotFound(volume: String, name: String)
    case snapshotExists(volume: String, name: String)
    /// A volume with snapshots is deleted only with force.
    case volumeHasSnapshots(name: String)
    /// A snapshot that clones were made from stays while they do.
    case snapshotHasClones(volume: String, name: String, clones: [String])
    /// A volume whose snapshots clones were made from stays while they do (even with force).
    case volumeHasClones(name: String, clones: [String])
    /// Buffered writes into a volume still under way, long past when a change waited for them.
    case writesUnderWay(volume: String)
    /// In a fleet, this node does not hold its pool's lease with a margin now: nothing is written.
    case fenced(reason: String)

    package var kind: Kind {
        switch self {
        case .invalidArgument, .deviceUnusable, .deviceInDataDirectory: .invalid
        case .deviceNotFound, .volumeNotFound, .objectNotFound, .accessKeyNotFound, .uploadNotFound, .versionNotFound, .snapshotNotFound: .notFound
        case .versionIsDeleteMarker: .notAllowed
        case .invalidPart, .invalidPartOrder, .partTooSmall: .invalid
        case .uploadIncomplete, .uploadTooLong: .invalid
        case .dataUnavailable: .io
        case .devicePathInUse, .deviceAlreadyMember, .deviceForeign, .deviceHoldsData, .deviceHoldsSoleCopies, .deviceNeededByVolumes,
            .deviceNeededForReservations, .deviceStateChange, .volumeExists, .replicasExceedDevices,
            .volumeShrinkBelowUsed, .volumeNotEmpty, .scrubRunning, .versioningCannotTurnOff, .snapshotExists, .volumeHasSnapshots,
            .snapshotHasClones, .volumeHasClones:
            .conflict
        case .noSpace, .metadataFull: .noSpace
        case .patchTooLarge, .objectTooLarge: .tooLarge
        case .cacheFull, .tooManyUploads, .writesUnderWay, .fenced: .busy
        case .io: .io
        case .catalog: .internal
        case .conditionNotMet: .precondition
        case .rangeNotSatisfiable: .range
        }
    }

    package var description: String {
        switch self {
        case .invalidArgument(let field, let reason): "\(field): \(reason)"
        case .deviceUnusable(let path, let reason): "device \(path) cannot be used: \(reason)"
        case .deviceNotFound(let id): "no device with id \(id)"
        case .volumeNotFound(let name): "no volume named \(name)"
        case .devicePathInUse(let path): "\(path) is already registered as a device"
        case .deviceAlreadyMember(let path): "\(path) is already a member of this pool"
        case .deviceForeign(let path, let reason): "\(path) \(reason); pass force=true to overwrite it"
        case .deviceInDataDirectory(let path, let dataDirectory):
            "\(path) lies inside the data directory \(dataDirectory), which holds the catalog and keys; devices there are refused even with force (only the default device files in devices/ may be added back)"
        case .deviceHoldsData(let id, let bytes, let detail):
            "device \(id) still holds \(bytes) bytes of data"
                + (detail.map { "; \($0)" } ?? "; drain it first (PATCH state draining), or pass force=true")
        case .deviceHoldsSoleCopies(let id, let bytes, let objects):
            "device \(id) is unavailable and holds the only copy of \(bytes) bytes of \(objects.count == 10 ? "at least 10" : "\(objects.count)") object(s) (\(objects.joined(separator: ", "))); removing it would lose them"
        case .deviceNeededByVolumes(let id, let replicas, let remaining):
            "removing device \(id) would leave \(remaining) active device(s) for a volume with \(replicas) replicas"
        case .deviceNeededForReservations(let id):
            "removing device \(id) would leave the pool unable to hold its thick volumes' reservations"
        case .deviceStateChange(let id, let from, let to): "device \(id) cannot go from \(from) to \(to)"
        case .volumeExists(let name): "a volume named \(name) already exists"
        case .replicasExceedDevices(let requested, let active):
            "\(requested) replicas requested but the pool has \(active) active device(s)"
        case .volumeShrinkBelowUsed(let name, let used): "volume \(name) holds \(used) bytes; capacity cannot go below that"
        case .volumeNotEmpty(let name, let objects):
            "volume \(name) holds \(objects) object version(s) or delete marker(s); pass force=true to delete it anyway"
        case .noSpace(let scope, let needed, let available):
            "not enough space in the \(scope.rawValue): \(needed) bytes needed, \(available) available"
        case .metadataFull(let bytes, let room):
            "the catalog (\(bytes) bytes, with the rows of objects not written back yet) is near the room of its smallest copy (\(room) bytes in a device's metadata area): "
                + "no new objects until objects are deleted or the catalog's copies are on devices with larger metadata areas (metadata_bytes)"
        case .objectNotFound(let volume, let key): "no object \(key) in volume \(volume)"
        case .uploadIncomplete(let expected, let received): "the body ended after \(received) of \(expected) bytes"
        case .uploadTooLong(let expected): "the body is longer than the declared \(expected) bytes"
        case .patchTooLarge(let length, let limit):
            "a PATCH writes at most \(limit) bytes (a quarter of the page cache), this one \(length): use PUT, or several PATCHes"
        case .objectTooLarge(let bytes, let limit): "an object holds at most \(limit) bytes; this write reaches \(bytes)"
        case .cacheFull: "the page cache has no room for this write now; retry shortly"
        case .dataUnavailable(let key, let detail): "no intact replica of \(key) could be read: \(detail)"
        case .io(let call, let path, let errno): "\(call) on \(path) failed: \(Syscalls.describe(errno: errno))"
        case .catalog(let detail): "catalog error: \(detail)"
        case .accessKeyNotFound(let id): "no access key \(id)"
        case .uploadNotFound(let id): "no open multipart upload \(id)"
        case .invalidPart(let number, let reason): "part \(number): \(reason)"
        case .invalidPartOrder: "the parts must be listed in ascending order of part number, each once"
        case .partTooSmall(let number, let size, let minimum): "part \(number) holds \(size) bytes; every part but the last needs at least \(minimum)"
        case .scrubRunning: "a scrub is already running; GET /v1/pool/scrub shows its progress"
        case .tooManyUploads(let volume, let limit):
            "volume \(volume) holds \(limit) open multipart uploads, the most it may (--multipart-max-open); complete or abort some first (ListMultipartUploads lists them)"
        case .conditionNotMet(let detail): detail
        case .rangeNotSatisfiable(let field, let size): "\(field) is not within the source: it holds \(size) bytes"
        case .versionNotFound(let volume, let key, let version): "object \(key) in volume \(volume) has no version \(version)"
        case .versionIsDeleteMarker(let volume, let key, let version):
            "version \(version) of \(key) in volume \(volume) is a delete marker: it has no bytes"
        case .versioningCannotTurnOff(let volume): "volume \(volume) has had versioning enabled: it can be suspended, not turned off"
        case .snapshotNotFound(let volume, let name): "volume \(volume) has no snapshot named \(name)"
        case .snapshotExists(let volume, let name): "volume \(volume) already has a snapshot named \(name)"
        case .volumeHasSnapshots(let name): "volume \(name) has snapshots; delete them first, or pass force=true"
        case .snapshotHasClones(let volume, let name, let clones):
            "volumes \(clones.joined(separator: ", ")) are clones of \(volume)@\(name): delete them first"
        case .volumeHasClones(let name, let clones):
            "volumes \(clones.joined(separator: ", ")) are clones of snapshots of \(name): delete them first"
        case .writesUnderWay(let volume): "writes into volume \(volume) through the cache are still under way; try again"
        case .fenced(let reason): "this node may not write to its pool now (\(reason)); try again, through any node of the fleet"
        }
    }
}
