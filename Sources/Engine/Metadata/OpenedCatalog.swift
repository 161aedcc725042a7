// Opening the catalog where it lives: the data directory prepared, the devices read for their
// metadata areas (MetadataDiscovery), the current copies opened into a mirror, their WALs
// reconciled, the mirror registered with the VFS, and SQLite (through GRDB) opened over it. Engine
// opens it this way, and so do the maintenance tools that read a stopped pool's catalog.
package import Catalog
package import Foundation

package struct OpenedCatalog: Sendable {
    package let catalog: Catalog
    let mirror: CatalogMirror
    package let poolUUID: UUID
    let rings: RingPool
    let discovery: MetadataDiscovery
    /// With symlinks resolved.
    let dataDirectory: String

    static func open(
        dataDirectory: String, devicePaths: [String], planted: PlantedFaults = [], now: Date, fence: WriteFence = WriteFence(),
        copyLost: @escaping @Sendable (String, String) -> Void
    ) throws(EngineError) -> OpenedCatalog {
        let resolvedDirectory = try DataDirectory.prepare(dataDirectory)
        let catalogPath = resolvedDirectory + "/" + Engine.catalogFileName
        let lockPath = resolvedDirectory + "/" + Engine.catalogLockFileName
        try DataDirectory.restrictCatalogFiles(lockPath: lockPath, catalogPath: catalogPath)
        let discovery = try MetadataDiscovery.run(paths: MetadataDiscovery.candidatePaths(dataDirectory: resolvedDirectory, extra: devicePaths))
        var copies: [CatalogCopy] = []
        do throws(EngineError) {
            for found in discovery.current {
                guard let area = found.superblock.metadataArea else { continue }
                copies.append(
                    try CatalogCopy.openArea(
                        deviceID: found.superblock.deviceUUID.uuidString.lowercased(), deviceUUID: found.superblock.deviceUUID,
                        path: found.path, areaOffset: area.lowerBound, areaBytes: Int64(area.count)))
            }
            if copies.isEmpty {
                copies = [try CatalogCopy.openFiles(database: catalogPath, wal: catalogPath + "-wal")]
            } else {
                // A move onto the devices that stopped after their copies were whole: the data
                // directory's files are an older copy.
                for suffix in ["", "-wal", "-shm"] { try? Syscalls.unlink(catalogPath + suffix) }
            }
        } catch {
            for copy in copies { copy.close() }
            throw error
        }
        let rings = RingPool(fence: fence)
        let mirror = CatalogMirror(
            path: catalogPath, lockPath: lockPath, poolUUID: discovery.poolUUID, copies: copies, generation: discovery.generation,
            rings: rings, syncFirstCopyOnly: PlantedFaults.admitted(planted).contains(.catalogCopiesUnsynced), copyLost: copyLost)
        let catalog: Catalog
        let pool: PoolRecord
        do throws(EngineError) {
            try mirror.reconcileWALs()
            try CatalogVFS.register(mirror)
            do {
                catalog = try Catalog(
                    path: catalogPath, durableCommits: !PlantedFaults.admitted(planted).contains(.catalogWithoutFullSync),
                    walAutocheckpointPages: MetadataAreaFormat.walAutocheckpointPages)
                pool = try catalog.createPoolIfMissing(uuid: (discovery.poolUUID ?? UUID()).uuidString.lowercased(), now: now)
            } catch {
                throw EngineError.catalog(error.description)
            }
        } catch {
            mirror.close()
            throw error
        }
        try DataDirectory.restrictCatalogFiles(lockPath: lockPath, catalogPath: catalogPath)  // a -shm SQLite made just now
        guard let uuid = UUID(uuidString: pool.uuid), discovery.poolUUID == nil || discovery.poolUUID == uuid else {
            try? catalog.close()
            mirror.close()
            throw .catalog("pool uuid \(pool.uuid) is malformed or is not the devices' pool")
        }
        mirror.setPool(uuid)
        return OpenedCatalog(
            catalog: catalog, mirror: mirror, poolUUID: uuid, rings: rings, discovery: discovery, dataDirectory: resolvedDirectory)
    }

    /// Runs `body` on the catalog of the stopped pool whose data directory is `dataDirectory`
    /// (tests and maintenance: no devices are opened, nothing is placed).
    package static func withCatalog<T>(
        dataDirectory: String, devicePaths: [String] = [], _ body: (Catalog) throws -> T
    ) throws -> T {
        let opened = try open(dataDirectory: dataDirectory, devicePaths: devicePaths, now: Date(), copyLost: { _, _ in })
        defer { opened.close() }
        return try body(opened.catalog)
    }

    /// Closes the catalog, then the mirror under it.
    func close() {
        try? catalog.close()
        mirror.close()
    }
}
