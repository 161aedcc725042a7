// Device membership: insert, state changes and removal, each one transaction.
import GRDB

/// A device row with its allocated bytes.
package struct DeviceWithUsage: Sendable, Equatable {
    package var record: DeviceRecord
    package var usedBytes: Int64

    package init(record: DeviceRecord, usedBytes: Int64) {
        self.record = record
        self.usedBytes = usedBytes
    }
}

extension Catalog {
    package func devices() throws(CatalogError) -> [DeviceWithUsage] {
        try read { db in
            let usage = try Self.deviceUsages(db)
            return try DeviceRecord.all().orderedByCreation().fetchAll(db).map {
                DeviceWithUsage(record: $0, usedBytes: usage[$0.id] ?? 0)
            }
        }
    }

    /// Every device's row (no usage figures: those are the engine's counters).
    package func deviceRecords() throws(CatalogError) -> [DeviceRecord] {
        try read { db in try DeviceRecord.all().orderedByCreation().fetchAll(db) }
    }

    package func deviceRecord(id: String) throws(CatalogError) -> DeviceRecord? {
        try read { db in try DeviceRecord.fetchOne(db, key: id) }
    }

    package func device(id: String) throws(CatalogError) -> DeviceWithUsage? {
        try read { db in
            guard let record = try DeviceRecord.fetchOne(db, key: id) else { return nil }
            return DeviceWithUsage(record: record, usedBytes: try Self.deviceUsages(db)[id] ?? 0)
        }
    }

    /// Inserts a device. `duplicate` when its id or path is already registered.
    package func insertDevice(_ record: DeviceRecord) throws(CatalogError) {
        do {
            try write { db in try record.insert(db) }
        } catch {
            throw CatalogError.wrap(error)
        }
    }

    /// Records that device `id` is now found at `path` (devices are known by their superblock's
    /// UUID; a disk moved to another port comes back under another path).
    package func updateDevicePath(id: String, to path: String) throws(CatalogError) {
        do {
            try write { db in
                try db.execute(sql: "UPDATE devices SET path = ? WHERE id = ?", arguments: [path, id])
            }
        } catch {
            throw CatalogError.wrap(error)
        }
    }

    /// Lowers device `id`'s data capacity to `bytes` (the tail given to its metadata area); a
    /// smaller capacity already recorded stays.
    package func shrinkDeviceCapacity(id: String, to bytes: Int64) throws(CatalogError) {
        do {
            try write { db in
                try db.execute(sql: "UPDATE devices SET capacityBytes = MIN(capacityBytes, ?) WHERE id = ?", arguments: [bytes, id])
            }
        } catch {
            throw CatalogError.wrap(error)
        }
    }

    /// Changes a device's state after `validate` approves it (it sees the current row).
    package func updateDeviceState(
        id: String, to state: DeviceRecord.State, validate: (DeviceRecord) throws -> Void
    ) throws -> DeviceWithUsage {
        try write { db in
            guard var record = try DeviceRecord.fetchOne(db, key: id) else { throw CatalogError.notFound("device \(id)") }
            try validate(record)
            record.state = state
            try record.update(db)
            return DeviceWithUsage(record: record, usedBytes: try Self.deviceUsages(db)[id] ?? 0)
        }
    }

    /// Removes a device after `validate` approves it given the device and the pool as it would be
    /// without the device. Returns the removed row.
    package func deleteDevice(
        id: String, validate: (DeviceWithUsage, _ poolWithout: PoolUsage) throws -> Void
    ) throws -> DeviceRecord {
        try write { db in
            guard let record = try DeviceRecord.fetchOne(db, key: id) else { throw CatalogError.notFound("device \(id)") }
            let used = try Self.deviceUsages(db)[id] ?? 0
            var pool = try Self.poolUsage(db)
            pool.capacityBytes -= record.capacityBytes
            pool.allocatedBytes -= used
            pool.deviceCount -= 1
            if record.state == .active { pool.activeDeviceCount -= 1 }
            try validate(DeviceWithUsage(record: record, usedBytes: used), pool)
            try record.delete(db)
            return record
        }
    }
}
