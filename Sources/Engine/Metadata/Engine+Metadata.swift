// Where the catalog's copies live, as membership changes: on `metadataCopies` active devices that
// have a metadata area (every one when there are fewer), never in the data directory once a device
// holds one. Placement adds the copies it lacks before it drops those on devices that may not keep
// one (failed, draining, read-only, removed), so the count never dips below what is there; the
// last copy is never dropped. It runs at open, after a device is added or changes state, and in
// the background (MetadataPlacer) when a device fails or a copy is lost to an IO error.
import Catalog
import Foundation
import Logging
import Synchronization

extension Engine {
    /// The catalog's copies as the pool shows them.
    package struct MetadataCopies: Sendable, Equatable {
        package var wanted: Int
        package var healthy: Int
        /// Device ids holding a copy ("data-directory" for a pool with no metadata area yet).
        package var devices: [String]
    }

    package var metadataCopiesStatus: MetadataCopies {
        let holders = mirror.copies.map { $0.place.deviceID ?? "data-directory" }
        let eligible = (try? metadataEligibleDevices()) ?? []
        let healthy = holders.filter { id in eligible.contains { $0.id == id } }
        return MetadataCopies(wanted: min(metadataCopies, max(eligible.count, 1)), healthy: healthy.count, devices: holders)
    }

    /// Refuses what would add rows to a catalog near the room of its smallest copy: the pages in
    /// use, with the room held for the rows of objects accepted but not written back yet
    /// (`PageCache.pendingRowBytes`) and the new object's (`key`), may fill 90 % of it (at least
    /// 2 MiB stay free for the WAL's pages to be checkpointed and for deletes), well before SQLite
    /// would find no room to write: an accepted async write never fails at writeback for want of
    /// catalog room. Deletes free pages that new rows then reuse.
    func checkMetadataRoom(key: String = "", metadata: [String: String] = [:]) throws(EngineError) {
        let figures = mirror.figures
        let room = figures.databaseCapacity
        guard room < Int64.max / 2 else { return }  // the data directory's copy: a file, no fixed room
        let limit = room - max(room / 10, 2 << 20)
        let wanted = figures.databaseUsedBytes + pageCache.pendingRowBytes + PageCache.rowBytes(key: key, metadata: metadata)
        if wanted > limit { throw .metadataFull(bytes: wanted, room: room) }
    }

    /// A passive checkpoint of the catalog (its database pages and header reach the copies).
    package func checkpointCatalog() throws(EngineError) {
        try catalogCall { try catalog.checkpoint() }
    }

    /// The catalog's storage figures (for /metrics).
    package var metadataFigures: CatalogMirror.Figures { mirror.figures }

    /// Active, open devices with a metadata area: where a copy may live.
    func metadataEligibleDevices() throws(EngineError) -> [(id: String, path: String, identity: DeviceSet.Identity, area: Range<Int64>)] {
        try catalogCall { try catalog.deviceRecords() }.compactMap { record in
            guard devices.lifecycle(id: record.id)?.state == .active, devices.device(id: record.id) != nil,
                let identity = devices.identity(id: record.id), let area = identity.metadataArea
            else { return nil }
            return (record.id, record.path, identity, area)
        }
    }

    /// Adds and drops copies until they sit where they belong (see the top of this file), treating
    /// `excluding` as gone (a device about to be removed); with no device left to hold one, the
    /// copy goes back to the data directory. Also rewrites the data directory's record of the
    /// devices. Errors are logged: the copies that are there keep serving.
    func placeMetadataCopies(excluding: String? = nil) {
        metadataPlacement.withLock { _ in
            do throws(EngineError) {
                let eligible = try metadataEligibleDevices().filter { $0.id != excluding }
                let wanted = min(metadataCopies, eligible.count)
                var onEligible = mirror.copies.filter { copy in eligible.contains { $0.id == copy.place.deviceID } }.count
                for device in eligible where onEligible < wanted && !mirror.copies.contains(where: { $0.place.deviceID == device.id }) {
                    let copy = try CatalogCopy.openArea(
                        deviceID: device.id, deviceUUID: device.identity.uuid, path: device.path,
                        areaOffset: device.area.lowerBound, areaBytes: Int64(device.area.count))
                    do throws(EngineError) {
                        try mirror.add(copy)
                    } catch {
                        copy.close()
                        logger.error("could not place a catalog copy", metadata: ["device": "\(device.id)", "error": "\(error)"])
                        continue
                    }
                    onEligible += 1
                    logger.info("catalog copy placed", metadata: ["device": "\(device.id)", "copies": "\(onEligible)"])
                }
                let inDataDirectory = { (copy: CatalogCopy) -> Bool in copy.place.deviceID == nil }
                if onEligible == 0, !mirror.copies.contains(where: inDataDirectory) {
                    let copy = try CatalogCopy.openFiles(database: mirror.path, wal: mirror.path + "-wal")
                    do throws(EngineError) {
                        try mirror.add(copy)
                    } catch {
                        copy.close()
                        throw error
                    }
                    logger.info("catalog copy placed in the data directory (no device can hold one)")
                }
                for copy in mirror.copies {
                    let belongs = onEligible > 0 ? eligible.contains { $0.id == copy.place.deviceID } : inDataDirectory(copy)
                    guard !belongs, mirror.copies.count > 1 else { continue }
                    try mirror.drop(copy.place)
                    logger.info("catalog copy dropped", metadata: ["from": "\(copy.place)"])
                }
                if onEligible < metadataCopies, eligible.count > onEligible {
                    logger.warning("the catalog has fewer copies than wanted", metadata: ["copies": "\(onEligible)", "wanted": "\(metadataCopies)"])
                }
                try saveDeviceHints()
            } catch {
                logger.error("placing the catalog's copies failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Rewrites the data directory's record of where the devices are.
    func saveDeviceHints() throws(EngineError) {
        let records = try catalogCall { try catalog.deviceRecords() }
        let hints = DeviceHints(pool: poolUUID.uuidString.lowercased(), devices: records.map { .init(id: $0.id, path: $0.path) })
        if DeviceHints.load(dataDirectory: dataDirectory) != hints { try hints.save(dataDirectory: dataDirectory) }
    }
}

/// Runs metadata placement on a thread of its own when asked (a device failed, a copy was lost),
/// one run at a time; a request during a run makes one more run.
final class MetadataPlacer: Sendable {
    private struct State {
        var running = false
        var again = false
        var stopping = false
    }

    /// A run ending for good is a change made with `withLockWaking` (`stop` waits for it).
    private let state = Lock(State())
    private let engine = Lock<Engine?>(nil)

    func attach(_ engine: Engine) { self.engine.withLock { $0 = engine } }

    func request() {
        let start = state.withLock { state -> Bool in
            guard !state.stopping else { return false }
            if state.running {
                state.again = true
                return false
            }
            state.running = true
            return true
        }
        guard start else { return }
        BackgroundThread.start("metadata-placement") { [self] in
            while true {
                engine.withLock { $0 }?.placeMetadataCopies()
                let more = state.withLockWaking { state -> Bool in
                    if state.again, !state.stopping {
                        state.again = false
                        return true
                    }
                    state.running = false
                    return false
                }
                if !more { return }
            }
        }
    }

    /// No new runs; waits for one in progress; forgets the engine.
    func stop() {
        state.withLock { $0.stopping = true }
        state.wait { !$0.running }
        engine.withLock { $0 = nil }
    }
}

extension Engine {
    /// The devices the operator named at start (`--device`): on a pool with no device yet, each
    /// must be blank and becomes a member; on a pool found on its devices, a blank one is added
    /// (a replacement for a member that is gone), one of this pool is already open, and any other
    /// is refused. A start that finds members missing fails when some data had its only copies on
    /// them, naming the objects.
    package func adoptNamedDevices(_ paths: [String]) throws(EngineError) {
        let members = try catalogCall { try catalog.deviceRecords() }
        var blank: [String] = []
        for path in paths {
            guard let resolved = try? Syscalls.realpath(path) else { throw .deviceUnusable(path: path, reason: "it does not exist") }
            if let found = MetadataDiscovery.probe(resolved) {
                let id = found.superblock.deviceUUID.uuidString.lowercased()
                if found.superblock.poolUUID == poolUUID, members.contains(where: { $0.id == id }) { continue }
                throw .deviceForeign(
                    path: resolved,
                    reason: found.superblock.poolUUID == poolUUID
                        ? "carries a superblock of this pool from a removed device (add it with POST /v1/devices and force)"
                        : "belongs to another pool (\(found.superblock.poolUUID.uuidString.lowercased())); start with the devices of one pool")
            }
            // Every named device is judged before any is written: a blank one must be blank
            // where other formats keep their labels too (as `addDevice` checks without force).
            let device = try Device.open(path: resolved)
            let header = try device.readHeaderBlock()
            guard withExtendedLifetime(header, { SuperblockFormat.decode(UnsafeRawBufferPointer(header.bytes)) }) == .blank else {
                throw .deviceForeign(path: resolved, reason: "holds data that is not an appliance superblock")
            }
            if let offset = try device.firstNonZeroByte() {
                throw .deviceForeign(path: resolved, reason: "holds data at byte \(offset)")
            }
            blank.append(resolved)
        }
        let missing = Set(members.filter { devices.device(id: $0.id) == nil }.map(\.id))
        if !missing.isEmpty {
            let lost = try catalogCall { try catalog.soleCopies(onDevices: missing, limit: 10) }
            if lost.bytes > 0 {
                throw .dataUnavailable(
                    key: lost.objects.joined(separator: ", "),
                    detail:
                        "\(lost.bytes) bytes have every copy on the missing device(s) \(missing.sorted().joined(separator: ", ")); start with them")
            }
            logger.warning(
                "devices missing at start; the pool is degraded until their copies are rebuilt", metadata: ["devices": "\(missing.sorted())"])
        }
        for path in blank where !members.contains(where: { $0.path == path }) {
            _ = try addDevice(path: path, label: nil, force: false)
        }
    }
}

extension Engine {
    /// Devices added before metadata areas existed get one at their end, where their data area's
    /// tail is free: the catalog records the smaller data capacity first, then the superblock
    /// names the area (a start cut between the two does the second step again; the area is the
    /// device's last bytes either way). Runs at open, before free space is rebuilt. A device whose
    /// tail holds data, or a pool that could not give up the space, keeps none (logged).
    func carveMetadataAreasOnOlderDevices() throws(EngineError) {
        let records = try catalogCall { try catalog.deviceRecords() }
        let older = records.filter { record in
            devices.lifecycle(id: record.id)?.state == .active && devices.device(id: record.id) != nil
                && devices.identity(id: record.id)?.metadataArea == nil
        }
        guard !older.isEmpty else { return }
        let replicas = try catalogCall { try catalog.allExtentReplicas() }
        for record in older {
            guard let device = devices.device(id: record.id), case .superblock(var superblock) = try device.readSuperblock() else { continue }
            let areaBytes = MetadataAreaFormat.defaultBytes(deviceSize: device.size)
            let area = device.size - areaBytes..<device.size
            let dataEnd = record.dataOffset + record.capacityBytes
            let inTheWay = replicas.contains { $0.deviceId == record.id && $0.physicalOffset + $0.length > area.lowerBound }
            let pool = try catalogCall { try catalog.poolUsage() }
            let given = max(0, dataEnd - area.lowerBound)
            guard !inTheWay, area.lowerBound >= record.dataOffset + Device.minimumSize / 2,
                pool.capacityBytes - given >= pool.allocatedBytes + pool.reservedBytes
            else {
                logger.warning(
                    "a device from before metadata areas has no free tail for one; it holds no catalog copy", metadata: ["device": "\(record.id)"])
                continue
            }
            try catalogCall { try catalog.shrinkDeviceCapacity(id: record.id, to: area.lowerBound - record.dataOffset) }
            superblock.metadataOffset = area.lowerBound
            superblock.metadataBytes = areaBytes
            try device.writeSuperblock(superblock)
            devices.setIdentity(id: record.id, DeviceSet.Identity(uuid: superblock.deviceUUID, metadataArea: superblock.metadataArea))
            logger.info("metadata area made at the end of a device from before areas", metadata: ["device": "\(record.id)", "bytes": "\(areaBytes)"])
        }
    }
}
