// Usage figures computed inside a transaction, handed to callers' validation closures so that a
// check and the change it guards are atomic. Plain values: no GRDB types leak out.
import GRDB

/// Pool-wide space accounting. `reservedBytes` is what thick volumes hold but have not yet allocated.
package struct PoolUsage: Sendable, Equatable {
    package var capacityBytes: Int64
    package var allocatedBytes: Int64
    package var reservedBytes: Int64
    package var deviceCount: Int
    package var activeDeviceCount: Int
    package var volumeCount: Int
    /// The highest replica count among volumes (0 when there are none).
    package var maxReplicas: Int64

    package var freeBytes: Int64 { max(0, capacityBytes - allocatedBytes - reservedBytes) }
}

package struct VolumeUsage: Sendable, Equatable {
    /// Logical bytes of the volume's objects: every version's, and waiting multipart parts'.
    package var usedBytes: Int64
    /// Current objects (not versions kept behind them, nor delete markers).
    package var objectCount: Int64
    /// Logical bytes of versions that are not current.
    package var noncurrentBytes: Int64 = 0
    /// Every row of the volume's keys: versions, current or not, and delete markers.
    package var versionCount: Int64 = 0
    /// Logical bytes of rows kept only for the volume's snapshots (replaced or deleted since).
    package var snapshotBytes: Int64 = 0
    /// Logical bytes of rows that borrow their extents (a clone's, read from its origin, where
    /// its snapshot keeps them; copies within the volume): counted in the row that owns them,
    /// not in `usedBytes` here.
    package var sharedBytes: Int64 = 0
    /// Physical bytes allocated on devices for the volume (all replicas).
    package var allocatedBytes: Int64
    /// Pool bytes held for the volume but not yet allocated (thick volumes).
    package var reservedBytes: Int64

    package init(usedBytes: Int64, objectCount: Int64, allocatedBytes: Int64, reservedBytes: Int64) {
        self.usedBytes = usedBytes
        self.objectCount = objectCount
        self.allocatedBytes = allocatedBytes
        self.reservedBytes = reservedBytes
    }
}

/// What one change did to a volume's figures: the engine's in-memory counters apply it once the
/// change is committed.
package struct UsageDelta: Sendable, Equatable {
    package var volumeID: Int64
    /// Logical bytes of the volume's objects.
    package var usedBytes: Int64 = 0
    package var objectCount: Int64 = 0
    package var noncurrentBytes: Int64 = 0
    package var versionCount: Int64 = 0
    package var snapshotBytes: Int64 = 0
    package var sharedBytes: Int64 = 0
    /// Physical bytes allocated (+) or no longer referenced (-), per device id.
    package var allocatedByDevice: [String: Int64] = [:]

    package init(volumeID: Int64) {
        self.volumeID = volumeID
    }

    package var allocatedBytes: Int64 { allocatedByDevice.values.reduce(0, +) }

    /// A row added (as its `latest` and `deleteMarker` say).
    mutating func add(_ object: ObjectRecord, replicas: [ExtentReplicaRecord]) {
        count(object, replicas: replicas, sign: 1)
    }

    /// A row deleted (as it was).
    mutating func remove(_ object: ObjectRecord, replicas: [ExtentReplicaRecord]) {
        count(object, replicas: replicas, sign: -1)
    }

    private mutating func count(_ object: ObjectRecord, replicas: [ExtentReplicaRecord], sign: Int64) {
        versionCount += sign
        if object.latest, !object.deleteMarker { objectCount += sign }
        // A borrowed row's bytes are its origin's: only its clone's shared figure counts them.
        guard object.dataRow == nil else {
            sharedBytes += sign * object.size
            return
        }
        usedBytes += sign * object.size
        if !object.latest { noncurrentBytes += sign * object.size }
        for replica in replicas { allocatedByDevice[replica.deviceId, default: 0] += sign * replica.length }
    }

    /// A row replaced or deleted is kept for the snapshots that see it: no version any more, its
    /// bytes still held.
    mutating func keepForSnapshots(_ object: ObjectRecord) {
        versionCount -= 1
        if object.latest, !object.deleteMarker { objectCount -= 1 }
        guard object.dataRow == nil else { return }  // still shared, still its origin's
        snapshotBytes += object.size
        if !object.latest { noncurrentBytes -= object.size }
    }

    /// A row kept for snapshots that none sees any more is deleted.
    mutating func collect(_ object: ObjectRecord, replicas: [ExtentReplicaRecord]) {
        guard object.dataRow == nil else {
            sharedBytes -= object.size
            return
        }
        usedBytes -= object.size
        snapshotBytes -= object.size
        for replica in replicas { allocatedByDevice[replica.deviceId, default: 0] -= replica.length }
    }

    /// The key's latest row became noncurrent.
    mutating func archive(size: Int64, deleteMarker: Bool) {
        noncurrentBytes += size
        if !deleteMarker { objectCount -= 1 }
    }

    /// A row that borrowed its bytes owns them now (`Catalog.bequeath`): counted as the volume's
    /// own, as its state says (latest, noncurrent, or kept for snapshots).
    mutating func inherit(size: Int64, latest: Bool, kept: Bool) {
        sharedBytes -= size
        usedBytes += size
        if kept { snapshotBytes += size } else if !latest { noncurrentBytes += size }
    }

    /// A row that owned its bytes borrows them now from its heir (`Catalog.bequeath`): the
    /// mirror of `inherit`.
    mutating func lend(_ object: ObjectRecord) {
        usedBytes -= object.size
        sharedBytes += object.size
        if object.diedEpoch != nil { snapshotBytes -= object.size } else if !object.latest { noncurrentBytes -= object.size }
    }

    /// A noncurrent row became the key's latest.
    mutating func promote(size: Int64, deleteMarker: Bool) {
        noncurrentBytes -= size
        if !deleteMarker { objectCount += 1 }
    }
}

/// Every figure counted afresh from the catalog's rows: what the engine's counters start from at
/// open, and what tests hold them against. Full-table aggregates: never on a request's path.
package struct UsageRecount: Sendable, Equatable {
    package var volumes: [VolumeRecord]
    package var volumeUsages: [Int64: VolumeUsage]
    /// (capacity, allocated) per device id.
    package var devices: [String: DeviceSpace]
}

package struct DeviceSpace: Sendable, Equatable {
    package var capacityBytes: Int64
    package var allocatedBytes: Int64

    package init(capacityBytes: Int64, allocatedBytes: Int64) {
        self.capacityBytes = capacityBytes
        self.allocatedBytes = allocatedBytes
    }
}

/// How many devices and volumes the pool has: small tables, cheap to count.
package struct PoolMembership: Sendable, Equatable {
    package var deviceCount: Int
    package var activeDeviceCount: Int
    package var volumeCount: Int
}

extension Catalog {
    /// Every volume's and device's figures counted from the rows. `deviceAllocated`: the bytes
    /// allocated per device when the caller has just summed every replica itself (the engine's
    /// start, from the scan that rebuilds free space), so that they are not scanned again.
    package func recountUsage(deviceAllocated: [String: Int64]? = nil) throws(CatalogError) -> UsageRecount {
        try read { db in
            let allocated = try deviceAllocated ?? Self.deviceUsages(db)
            let devices = try DeviceRecord.fetchAll(db)
            return UsageRecount(
                volumes: try VolumeRecord.fetchAll(db), volumeUsages: try Self.volumeUsages(db),
                devices: Dictionary(
                    uniqueKeysWithValues: devices.map {
                        ($0.id, DeviceSpace(capacityBytes: $0.capacityBytes, allocatedBytes: allocated[$0.id] ?? 0))
                    }))
        }
    }

    package func poolMembership() throws(CatalogError) -> PoolMembership {
        try read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT (SELECT COUNT(*) FROM devices) AS devices,
                           (SELECT COUNT(*) FROM devices WHERE state = 'active') AS active,
                           (SELECT COUNT(*) FROM volumes) AS volumes
                    """)!
            return PoolMembership(deviceCount: row["devices"], activeDeviceCount: row["active"], volumeCount: row["volumes"])
        }
    }

    static func poolUsage(_ db: Database) throws -> PoolUsage {
        let row = try Row.fetchOne(
            db,
            sql: """
                SELECT
                  (SELECT COALESCE(SUM(capacityBytes), 0) FROM devices) AS capacity,
                  (SELECT COALESCE(SUM(length), 0) FROM extent_replicas)
                    + (SELECT COALESCE(SUM(length), 0) FROM part_extent_replicas) AS allocated,
                  (SELECT COUNT(*) FROM devices) AS devices,
                  (SELECT COUNT(*) FROM devices WHERE state = 'active') AS active,
                  (SELECT COUNT(*) FROM volumes) AS volumes,
                  (SELECT COALESCE(MAX(replicas), 0) FROM volumes) AS maxReplicas
                """)!
        let reserved =
            try Int64.fetchOne(
                db,
                sql: """
                    SELECT COALESCE(SUM(MAX(0, v.capacityBytes * v.replicas - COALESCE(a.bytes, 0))), 0)
                    FROM volumes v LEFT JOIN (\(allocatedPerVolumeSQL)) a ON a.volumeId = v.id
                    WHERE v.provisioning = 'thick'
                    """) ?? 0
        return PoolUsage(
            capacityBytes: row["capacity"], allocatedBytes: row["allocated"], reservedBytes: reserved,
            deviceCount: row["devices"], activeDeviceCount: row["active"], volumeCount: row["volumes"],
            maxReplicas: row["maxReplicas"])
    }

    /// Allocated bytes per volume: its objects' replicas and its waiting multipart parts'.
    static let allocatedPerVolumeSQL = """
        SELECT volumeId, SUM(bytes) AS bytes FROM (
          SELECT o.volumeId AS volumeId, r.length AS bytes
          FROM objects o JOIN extents e ON e.objectId = o.id JOIN extent_replicas r ON r.extentId = e.id
          UNION ALL
          SELECT u.volumeId AS volumeId, r.length AS bytes
          FROM multipart_uploads u JOIN multipart_parts p ON p.uploadId = u.id JOIN part_extents e ON e.partId = p.id
          JOIN part_extent_replicas r ON r.extentId = e.id
        ) GROUP BY volumeId
        """

    /// Usage of every volume, keyed by volume id.
    static func volumeUsages(_ db: Database, volumeId: Int64? = nil) throws -> [Int64: VolumeUsage] {
        let filter = volumeId.map { "WHERE v.id = \($0)" } ?? ""
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT v.id AS id, v.capacityBytes AS capacity, v.replicas AS replicas, v.provisioning AS provisioning,
                       COALESCE(s.used, 0) + COALESCE(w.used, 0) AS used, COALESCE(s.count, 0) AS count, COALESCE(a.bytes, 0) AS allocated,
                       COALESCE(s.noncurrent, 0) AS noncurrent, COALESCE(s.versions, 0) AS versions,
                       COALESCE(s.snapshot, 0) AS snapshot, COALESCE(s.shared, 0) AS shared
                FROM volumes v
                LEFT JOIN (SELECT volumeId, SUM(CASE WHEN dataRow IS NULL THEN size ELSE 0 END) AS used,
                                  SUM(latest = 1 AND deleteMarker = 0 AND diedEpoch IS NULL) AS count,
                                  SUM(CASE WHEN latest = 0 AND diedEpoch IS NULL AND dataRow IS NULL THEN size ELSE 0 END) AS noncurrent,
                                  SUM(diedEpoch IS NULL) AS versions,
                                  SUM(CASE WHEN diedEpoch IS NOT NULL AND dataRow IS NULL THEN size ELSE 0 END) AS snapshot,
                                  SUM(CASE WHEN dataRow IS NOT NULL THEN size ELSE 0 END) AS shared
                           FROM objects GROUP BY volumeId) s
                  ON s.volumeId = v.id
                LEFT JOIN (SELECT u.volumeId AS volumeId, SUM(p.size) AS used FROM multipart_uploads u
                           JOIN multipart_parts p ON p.uploadId = u.id GROUP BY u.volumeId) w
                  ON w.volumeId = v.id
                LEFT JOIN (\(allocatedPerVolumeSQL)) a ON a.volumeId = v.id
                \(filter)
                """)
        var result: [Int64: VolumeUsage] = [:]
        for row in rows {
            let capacity: Int64 = row["capacity"]
            let replicas: Int64 = row["replicas"]
            let allocated: Int64 = row["allocated"]
            let thick = (row["provisioning"] as VolumeRecord.Provisioning) == .thick
            var usage = VolumeUsage(
                usedBytes: row["used"], objectCount: row["count"], allocatedBytes: allocated,
                reservedBytes: thick ? max(0, capacity * replicas - allocated) : 0)
            (usage.noncurrentBytes, usage.versionCount, usage.snapshotBytes) = (row["noncurrent"], row["versions"], row["snapshot"])
            usage.sharedBytes = row["shared"]
            result[row["id"]] = usage
        }
        return result
    }

    /// Physical bytes allocated per device id.
    static func deviceUsages(_ db: Database) throws -> [String: Int64] {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT deviceId, SUM(length) AS bytes FROM
                  (SELECT deviceId, length FROM extent_replicas UNION ALL SELECT deviceId, length FROM part_extent_replicas)
                GROUP BY deviceId
                """)
        return Dictionary(uniqueKeysWithValues: rows.map { ($0["deviceId"], $0["bytes"]) })
    }

    package func poolUsage() throws(CatalogError) -> PoolUsage {
        try read { db in try Self.poolUsage(db) }
    }
}
