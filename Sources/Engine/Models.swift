// What the Engine hands to the layer above: plain values, never catalog records (a version's id,
// `VersionID`, is a value of the catalog's that the layers above parse and print).
package import Catalog
package import Foundation

package enum Provisioning: String, Sendable, Equatable, CaseIterable {
    case thin, thick
}

/// A volume's object versioning (`VolumeRecord.Versioning` says what each means).
package enum Versioning: String, Sendable, Equatable, CaseIterable {
    case off, enabled, suspended
}

package struct DeviceInfo: Sendable, Equatable {
    package var id: String
    package var path: String
    package var label: String?
    package var state: DeviceState
    package var capacityBytes: Int64
    package var usedBytes: Int64
    package var logicalBlockSize: Int64
    package var createdAt: Date
    /// Bytes of copies moved off it by a drain or rebuild (since this process started it).
    package var movedBytes: Int64 = 0
    /// Its metadata area (where a copy of the catalog may live); 0 for a device from before areas.
    package var metadataBytes: Int64 = 0
    /// Bytes of copies still on it (a drain is done at 0).
    package var remainingBytes: Int64 { usedBytes }
}

package struct VolumeInfo: Sendable, Equatable {
    package var name: String
    package var capacityBytes: Int64
    package var replicas: Int64
    package var provisioning: Provisioning
    package var usedBytes: Int64
    package var reservedBytes: Int64
    package var objectCount: Int64
    package var createdAt: Date
    package var updatedAt: Date
    package var versioning: Versioning = .off
    /// Logical bytes of versions that are not current (counted in `usedBytes` too).
    package var noncurrentBytes: Int64 = 0
    /// Logical bytes held only by its snapshots: replaced or deleted since (counted in `usedBytes` too).
    package var snapshotBytes: Int64 = 0
    /// A clone's origin, "volume@snapshot"; nil for a volume made empty.
    package var cloneOf: String?
    /// A clone's logical bytes read from its origin (shared with it, counted there, not in
    /// `usedBytes`: what a clone holds alone is its `usedBytes`).
    package var sharedBytes: Int64 = 0
    /// Page-cache figures (same per-page state that holds the reservations).
    package var cache = VolumeCacheStats()
}

package struct PoolInfo: Sendable, Equatable {
    package var id: String
    package var capacityBytes: Int64
    package var allocatedBytes: Int64
    package var reservedBytes: Int64
    package var freeBytes: Int64
    package var deviceCount: Int
    package var activeDeviceCount: Int
    package var volumeCount: Int
    /// Bytes of copies on failed devices: data with fewer intact copies than its volume asks for
    /// until a rebuild re-creates them elsewhere.
    package var degradedBytes: Int64 = 0
    /// Where the catalog's copies are.
    package var metadataCopies = Engine.MetadataCopies(wanted: 0, healthy: 0, devices: [])
}

/// Everything `/metrics` shows about the engine, taken at one moment.
package struct EngineSnapshot: Sendable, Equatable {
    package var pool: PoolInfo
    package var devices: [DeviceInfo]
    package var volumes: [VolumeInfo]
    package var io: IOStatsSnapshot
    package var cache: CacheTotals
    package var scrub: ScrubCounters
    package var metadata: CatalogMirror.Figures
    /// The engine's worker pool: threads alive, and jobs waiting for one.
    package var workerThreads = 0
    package var workerQueue = 0
}

/// Pool-wide page-cache figures.
package struct CacheTotals: Sendable, Equatable {
    /// Pool bytes new writes can still reserve.
    package var reservable: Int64 = 0
    package var writebackBytes: Int64 = 0
    package var writebackErrors: Int64 = 0
    package var throttled: Int64 = 0
    /// The configured bound on cached pages, in bytes.
    package var capacityBytes: Int64 = 0
    /// Memory carved for page frames (never returned; bounded by the capacity, uploads' staged
    /// frames included, plus copies of pages being sent while they are overwritten).
    package var memoryBytes: Int64 = 0
    /// Of that, frames holding data now (cached, staged by uploads, or being sent).
    package var usedBytes: Int64 = 0
}

package struct ObjectInfo: Sendable, Equatable {
    package var key: String
    package var size: Int64
    package var etag: String
    package var contentType: String?
    package var createdAt: Date
    package var modifiedAt: Date
    /// Stored headers and user metadata (names chosen by the API layer).
    package var metadata: [String: String] = [:]
    /// Whole-object checksums by algorithm; a PATCH drops them.
    package var checksums: [String: String] = [:]
    /// A multipart object's part sizes in order (empty: one part); a PATCH drops them.
    package var parts: [Int64] = []
    /// Its version's id (the null version when its volume never had versioning on).
    package var versionID: VersionID = .null
    /// The key's newest version (listings of versions).
    package var isLatest = true
    /// A delete marker (listings of versions): no bytes.
    package var deleteMarker = false
}
