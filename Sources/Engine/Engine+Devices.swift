// Device membership: add (validate, write the superblock, register), change state, remove
// (validate, unregister, wipe the superblock), and re-open at start.
import Catalog
package import Foundation
import Glibc
import Logging
import Synchronization

extension Engine {
    package func listDevices() throws(EngineError) -> [DeviceInfo] {
        try catalogCall { try catalog.deviceRecords() }.map(info)
    }

    package func device(id: String) throws(EngineError) -> DeviceInfo {
        guard let device = try catalogCall({ try catalog.deviceRecord(id: id) }) else { throw .deviceNotFound(id: id) }
        return info(device)
    }

    /// Adds `path` to the pool. Refuses (changing nothing) a path inside the data directory (but
    /// its `devices/`), a path that is registered, a device that is already a member, and, unless
    /// `force`, a device that holds another pool's superblock or any non-zero byte where the
    /// appliance writes its header or other formats keep their labels (`BlankCheck`).
    /// `metadataBytes`: the size of the device's metadata area (where a copy of the catalog may
    /// live; nil: `MetadataAreaFormat.defaultBytes` for its size; 0: none, the layout of a device
    /// from before areas, which the next start gives one at its end — tests).
    package func addDevice(path rawPath: String, label: String?, force: Bool, metadataBytes: Int64? = nil, now: Date = Date()) throws(EngineError)
        -> DeviceInfo
    {
        if rawPath.isEmpty { throw .invalidArgument(field: "path", reason: "must not be empty") }
        if let metadataBytes, metadataBytes != 0, metadataBytes < MetadataAreaFormat.minimumBytes || metadataBytes % (1 << 20) != 0 {
            throw .invalidArgument(
                field: "metadata_bytes", reason: "must be a whole number of MiB, at least \(MetadataAreaFormat.minimumBytes >> 20) MiB")
        }
        if rawPath.utf8.contains(0) { throw .invalidArgument(field: "path", reason: "must not contain NUL") }
        if !rawPath.hasPrefix("/") { throw .invalidArgument(field: "path", reason: "must be absolute") }
        let path: String
        do {
            path = try Syscalls.realpath(rawPath)
        } catch {
            throw .deviceUnusable(path: rawPath, reason: error.errno == ENOENT ? "it does not exist" : Syscalls.describe(errno: error.errno))
        }
        try refuseInsideDataDirectory(path)
        let added = try control.withLock { _ throws(EngineError) -> DeviceInfo in
            let registered = try catalogCall { try catalog.deviceRecords() }
            if registered.contains(where: { $0.path == path }) { throw .devicePathInUse(path: path) }
            let device = try Device.open(path: path)
            let original = try device.readHeaderBlock()
            let decoded = withExtendedLifetime(original) { SuperblockFormat.decode(UnsafeRawBufferPointer(original.bytes)) }
            switch decoded {
            case .blank:
                // "Blank" is more than the first 4 KiB: md, ZFS, ISO 9660, btrfs keep labels past it.
                if let offset = try device.firstNonZeroByte() {
                    if !force {
                        throw .deviceForeign(
                            path: path,
                            reason: "holds data at byte \(offset) (its first 4 KiB are zero, but other formats keep their labels further in)")
                    }
                    logger.warning("adding a device that holds data (force)", metadata: ["path": "\(path)", "offset": "\(offset)"])
                }
            case .superblock(let sb)
            where sb.poolUUID == poolUUID
                && registered.contains(where: { $0.id == sb.deviceUUID.uuidString.lowercased() }):
                throw .deviceAlreadyMember(path: path)
            case .superblock(let sb) where !force:
                throw .deviceForeign(
                    path: path,
                    reason: sb.poolUUID == poolUUID
                        ? "carries a superblock of this pool from a removed device"
                        : "belongs to another pool (\(sb.poolUUID.uuidString.lowercased()))")
            case .foreignData where !force:
                throw .deviceForeign(path: path, reason: "holds data that is not an appliance superblock")
            case .superblock, .foreignData:
                logger.warning("overwriting the header of a device (force)", metadata: ["path": "\(path)"])
            }
            let id = UUID()
            let areaBytes = metadataBytes ?? MetadataAreaFormat.defaultBytes(deviceSize: device.size)
            let dataOffset = SuperblockFormat.reservedArea + areaBytes
            guard device.size - dataOffset >= Device.minimumSize / 2 else {
                throw .invalidArgument(
                    field: "metadata_bytes",
                    reason: "\(areaBytes) bytes leave less than \(Device.minimumSize / 2) bytes for data on a \(device.size)-byte device")
            }
            let sb = Superblock(
                poolUUID: poolUUID, deviceUUID: id, createdAt: Int64(now.timeIntervalSince1970),
                dataOffset: dataOffset, deviceSize: device.size, metadataOffset: areaBytes > 0 ? SuperblockFormat.reservedArea : 0,
                metadataBytes: areaBytes)
            try device.writeSuperblock(sb)
            let record = DeviceRecord(
                id: id.uuidString.lowercased(), path: path, label: label, state: .active,
                capacityBytes: device.size - dataOffset, logicalBlockSize: device.logicalBlockSize,
                dataOffset: dataOffset, createdAt: now.truncatedToSeconds)
            do throws(EngineError) {
                try catalogCall(duplicate: .devicePathInUse(path: path)) { try catalog.insertDevice(record) }
            } catch {
                try? device.writeHeaderBlock(original)  // Leave the device as we found it.
                throw error
            }
            allocator.addDevice(id: record.id, dataOffset: record.dataOffset, capacity: record.capacityBytes, used: [])
            space.deviceAdded(id: record.id, capacityBytes: record.capacityBytes)
            devices.add(id: record.id, device: device, identity: DeviceSet.Identity(uuid: id, metadataArea: sb.metadataArea), chosen: .active)
            logger.info("device added", metadata: ["id": "\(record.id)", "path": "\(path)", "bytes": "\(record.capacityBytes)"])
            resumeEvacuations()  // a rebuild or drain that ran out of room may go on now
            return info(record)
        }
        placeMetadataCopies()  // a copy of the catalog on the new device, if one is wanted
        return added
    }

    /// Sets an operator-chosen state: `active`, `readonly`, or `draining` (every copy is moved
    /// off in the background; refused with `noSpace` when the other active devices cannot hold
    /// them). `active` or `readonly` cancels a drain.
    /// Changes are serialized by `control` (with membership changes); each is decided by the
    /// device set on the state as it is (a failure found meanwhile refuses it), applied there,
    /// then persisted, and undone if persisting fails.
    package func setDeviceState(id: String, to target: DeviceState) throws(EngineError) -> DeviceInfo {
        guard target == .active || target == .readonly || target == .draining else {
            throw .invalidArgument(field: "state", reason: "must be active, readonly or draining")
        }
        let (actions, record) = try control.withLock { _ throws(EngineError) -> ([DeviceLifecycle.Action], DeviceRecord) in
            guard var lifecycle = devices.lifecycle(id: id) else { throw .deviceNotFound(id: id) }
            let previous = lifecycle.chosen
            let unchanged: Bool
            do throws(DeviceLifecycle.Refusal) {
                unchanged = try lifecycle.operatorRequests(target).isEmpty
            } catch {
                throw .deviceStateChange(id: id, from: error.from.rawValue, to: error.to.rawValue)
            }
            if unchanged { return ([], try deviceRecord(id)) }  // the state already
            try checkStateChangeFits(id, target)
            let actions = try devices.request(id: id, target)
            do throws(EngineError) {
                let updated = try catalogCall(notFound: .deviceNotFound(id: id)) {
                    try catalog.updateDeviceState(id: id, to: DeviceRecord.State(target)) { _ in }
                }
                return (actions, updated.record)
            } catch {
                devices.revert(id: id, to: previous)
                throw error
            }
        }
        carryOut(actions, device: id, placeMetadataNow: true)
        return info(record)
    }

    private func deviceRecord(_ id: String) throws(EngineError) -> DeviceRecord {
        guard let record = try catalogCall({ try catalog.deviceRecord(id: id) }) else { throw .deviceNotFound(id: id) }
        return record
    }

    /// What leaving `id` out of new allocations needs: a drain's copies fit elsewhere, what
    /// uploads and cached writes were promised still fits, and dirty pages that overwrite data on
    /// disk (they reserved nothing: their copy-on-write comes out of the slack) still have an
    /// active device to be written back to.
    private func checkStateChangeFits(_ id: String, _ target: DeviceState) throws(EngineError) {
        if target == .draining { try checkDrainFits(id) }
        guard target != .active else { return }
        let fit = space.fitsWithout(id, moving: target == .draining)
        if !fit.fits { throw .noSpace(.pool, needed: fit.needed, available: fit.available) }
        let othersActive = !devices.allocatable.subtracting([id]).isEmpty
        let dirty = Int64(pageCache.dirtyPages * PageState.pageSize)
        if !othersActive, dirty > 0 { throw .noSpace(.pool, needed: dirty, available: 0) }
    }

    /// Carries out what a device's state change calls for. `placeMetadataNow`: place the
    /// catalog's copies before returning (an operator's request), or in the background (a failure
    /// found on the data path).
    func carryOut(_ actions: [DeviceLifecycle.Action], device id: String, placeMetadataNow: Bool) {
        for action in actions {
            switch action {
            case .evacuate(let rebuild): evacuator.start(self, device: id, reason: rebuild ? .rebuild : .drain)
            case .cancelEvacuation: evacuator.cancel(id)
            case .placeMetadataCopies: placeMetadataNow ? placeMetadataCopies() : metadataPlacer.request()
            }
        }
    }

    /// A drain of `id` must fit: its copies on the other active devices' free space, and enough
    /// other active devices for every volume's replicas (each copy on a distinct device).
    private func checkDrainFits(_ id: String) throws(EngineError) {
        let records = try catalogCall { try catalog.deviceRecords() }
        guard records.contains(where: { $0.id == id }) else { throw .deviceNotFound(id: id) }
        let serving = devices.allocatable
        let others = records.filter { $0.id != id && serving.contains($0.id) }
        let needed = space.deviceAllocated(id)
        let available = others.reduce(Int64(0)) { $0 + allocator.freeBytes(deviceID: $1.id) }
        if needed > available { throw .noSpace(.pool, needed: needed, available: available) }
        let replicas = volumeRecords.withLock { $0.values.map(\.replicas).max() ?? 0 }
        if needed > 0, replicas > Int64(others.count) {
            throw .deviceNeededByVolumes(id: id, replicas: replicas, remaining: others.count)
        }
    }

    /// Starts the background moves a device's state calls for: a drain resumes, a failed device
    /// holding copies is rebuilt from the other copies (at open, and when a device is added).
    func resumeEvacuations() {
        for (id, lifecycle) in devices.lifecycles {
            if lifecycle.failure != nil {
                if space.deviceAllocated(id) > 0 { evacuator.start(self, device: id, reason: .rebuild) }
            } else if lifecycle.chosen == .draining {
                evacuator.start(self, device: id, reason: .drain)
            }
        }
    }

    /// Removes a device that holds no data and is not needed by any volume's replicas or the
    /// pool's thick reservations; wipes its superblock and the rest of the blank-check windows. With `force`, its copies are first moved
    /// off (re-created from the other copies when the device is dead); refused, changing nothing,
    /// when some data has no copy elsewhere (`deviceHoldsSoleCopies` names it).
    package func removeDevice(id: String, force: Bool = false) throws(EngineError) {
        // A forced removal stops allocations on the device while it moves the copies; if the
        // removal then fails, the device takes allocations as its state says again.
        var removing = false
        defer { if removing { devices.setRemoving(id: id, false) } }
        if force {
            guard try catalogCall({ try catalog.deviceRecord(id: id) }) != nil else { throw .deviceNotFound(id: id) }
            if devices.device(id: id) == nil {
                let sole = try catalogCall { try catalog.soleCopies(onDevices: [id], limit: 10) }
                if sole.bytes > 0 { throw .deviceHoldsSoleCopies(id: id, bytes: sole.bytes, objects: sole.objects) }
            }
            evacuator.cancel(id)
            devices.setRemoving(id: id, true)  // nothing new lands there meanwhile
            removing = true
            let failures = evacuator.evacuateNow(self, device: id)
            if space.deviceAllocated(id) > 0 {
                resumeEvacuations()
                throw .deviceHoldsData(id: id, bytes: space.deviceAllocated(id), detail: failures.first)
            }
        }
        // The catalog's copy on the device moves first (it is put back if the removal is refused).
        if mirror.copies.contains(where: { $0.place.deviceID == id }) {
            placeMetadataCopies(excluding: id)
            if mirror.copies.contains(where: { $0.place.deviceID == id }) {
                throw .catalog("the catalog's copy on device \(id) could not be moved to another device")
            }
        }
        var removedOK = false
        defer { if !removedOK { placeMetadataCopies() } }
        try control.withLock { _ throws(EngineError) in
            let removed = try catalogCall(notFound: .deviceNotFound(id: id)) {
                try catalog.deleteDevice(id: id) { device, poolWithout in
                    if device.usedBytes > 0 { throw EngineError.deviceHoldsData(id: id, bytes: device.usedBytes, detail: nil) }
                    if poolWithout.maxReplicas > Int64(poolWithout.activeDeviceCount) {
                        throw EngineError.deviceNeededByVolumes(
                            id: id, replicas: poolWithout.maxReplicas, remaining: poolWithout.activeDeviceCount)
                    }
                    if poolWithout.capacityBytes - poolWithout.allocatedBytes - poolWithout.reservedBytes < 0 {
                        throw EngineError.deviceNeededForReservations(id: id)
                    }
                }
            }
            allocator.removeDevice(id: id)
            space.deviceRemoved(id: id)
            if let device = devices.remove(id: id) {
                do {
                    try device.wipeBlankCheckWindows()
                } catch {
                    logger.warning("could not wipe the header of a removed device", metadata: ["path": "\(removed.path)", "error": "\(error)"])
                }
            }
            logger.info("device removed", metadata: ["id": "\(id)", "path": "\(removed.path)"])
        }
        removedOK = true
        try? saveDeviceHints()
    }

    /// On the first start, creates `count` sparse files of `size` bytes under `directory` and
    /// adds them. A first start that stopped half way (a file not created, a device not added) is
    /// completed by the next one: files already there are reused, devices already added are kept.
    /// Once all are added, later starts add none (the operator manages devices from then on).
    package func bootstrapFileDevices(count: Int, size: Int64, directory: String, now: Date = Date()) throws(EngineError) {
        guard try catalogCall({ try catalog.pool() })?.defaultDevicesAddedAt == nil else { return }
        if count > 0 {
            do {
                try Syscalls.mkdir(directory, mode: 0o700)
            } catch {
                throw .io(call: error.call, path: directory, errno: error.errno)
            }
        }
        for index in 0..<count {
            let path = "\(directory)/device-\(index).img"
            do {
                let fd = try Syscalls.open(path, flags: O_RDWR | O_CREAT)
                defer { Syscalls.close(fd) }
                if try Syscalls.fileSize(fd) < size { try Syscalls.ftruncate(fd, size) }
            } catch {
                throw .io(call: error.call, path: path, errno: error.errno)
            }
            let resolved = (try? Syscalls.realpath(path)) ?? path
            if try catalogCall({ try catalog.deviceRecords() }).contains(where: { $0.path == resolved }) { continue }
            _ = try addDevice(path: path, label: "default-\(index)", force: true)
        }
        try catalogCall { try catalog.markDefaultDevicesAdded(now: now) }
    }

    /// A device inside the data directory could be the catalog, its WAL or the secrets key: a
    /// forced add would overwrite the appliance's own state. `path` has its symlinks resolved.
    private func refuseInsideDataDirectory(_ path: String) throws(EngineError) {
        let root = dataDirectory == "/" ? "" : dataDirectory
        guard path == dataDirectory || path.hasPrefix(root + "/") else { return }
        if path.hasPrefix(root + "/" + Self.deviceDirectoryName + "/") { return }
        throw .deviceInDataDirectory(path: path, dataDirectory: dataDirectory)
    }

    /// Opens every registered device. A device is known by the UUID in its superblock: one the
    /// start found elsewhere (`found`, by UUID: moved to another port, renamed) is opened there and
    /// its new path recorded.
    func openRegisteredDevices(found: [UUID: MetadataDiscovery.Found] = [:]) throws(EngineError) {
        for var record in try catalogCall({ try catalog.deviceRecords() }) {
            if let uuid = UUID(uuidString: record.id), let moved = found[uuid], moved.path != record.path,
                moved.superblock.poolUUID == poolUUID
            {
                try catalogCall { try catalog.updateDevicePath(id: record.id, to: moved.path) }
                logger.info("device found under a new path", metadata: ["id": "\(record.id)", "was": "\(record.path)", "now": "\(moved.path)"])
                record.path = moved.path
            }
            do throws(EngineError) {
                let device = try Device.open(path: record.path)
                guard case .superblock(let sb) = try device.readSuperblock(),
                    sb.poolUUID == poolUUID, sb.deviceUUID.uuidString.lowercased() == record.id
                else {
                    throw EngineError.deviceForeign(path: record.path, reason: "no longer carries this device's superblock")
                }
                devices.add(
                    id: record.id, device: device, identity: DeviceSet.Identity(uuid: sb.deviceUUID, metadataArea: sb.metadataArea),
                    chosen: Self.chosenState(record))
            } catch {
                devices.addUnavailable(id: record.id, chosen: Self.chosenState(record), reason: error.description)
                logger.error("device unavailable; marked failed", metadata: ["id": "\(record.id)", "path": "\(record.path)", "reason": "\(error)"])
            }
        }
    }

    /// Free space per device is the complement of the catalog's extents (nothing else is persisted).
    /// Returns the bytes allocated on each device the catalog's replicas name: counted from the same
    /// scan, so that the start's recount does not scan every replica again.
    func rebuildFreeSpace() throws(EngineError) -> [String: Int64] {
        var used: [String: [PhysicalRange]] = [:]
        var allocated: [String: Int64] = [:]
        for replica in try catalogCall({ try catalog.allExtentReplicas() }) {
            used[replica.deviceId, default: []].append(PhysicalRange(replica))
            allocated[replica.deviceId, default: 0] += replica.length
        }
        for record in try catalogCall({ try catalog.deviceRecords() }) where devices.device(id: record.id) != nil {
            let conflicts = allocator.addDevice(
                id: record.id, dataOffset: record.dataOffset, capacity: record.capacityBytes, used: used[record.id] ?? [])
            if !conflicts.isEmpty {
                logger.critical("catalog holds overlapping extents", metadata: ["device": "\(record.id)", "ranges": "\(conflicts)"])
            }
        }
        return allocated
    }

    /// The operator's state a catalog row holds. No build persists `failed` (it is the engine's
    /// finding); a row that holds it anyway reads as readonly: readable, taking nothing new, until
    /// the operator says otherwise.
    static func chosenState(_ record: DeviceRecord) -> DeviceState {
        switch record.state {
        case .active: .active
        case .readonly, .failed: .readonly
        case .draining: .draining
        }
    }

    func info(_ record: DeviceRecord) -> DeviceInfo {
        let state = devices.lifecycle(id: record.id)?.state ?? .failed
        return DeviceInfo(
            id: record.id, path: record.path, label: record.label, state: state, capacityBytes: record.capacityBytes,
            usedBytes: space.deviceAllocated(record.id), logicalBlockSize: record.logicalBlockSize, createdAt: record.createdAt,
            movedBytes: evacuator.moved(record.id),
            metadataBytes: devices.identity(id: record.id)?.metadataArea.map { Int64($0.count) }
                ?? max(0, record.dataOffset - SuperblockFormat.reservedArea))
    }
}

extension Date {
    /// Timestamps are kept to whole seconds so that what a client saw survives a restart exactly.
    package var truncatedToSeconds: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
