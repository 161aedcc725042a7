// The Engine: the one front door to devices, volumes, the pool and (later) objects. It owns the
// catalog and the open devices and sequences their start-up and shutdown. No HTTP here.
import Catalog
package import Foundation
import Glibc
package import Logging
import Synchronization

package final class Engine: Sendable {
    let catalog: Catalog
    package let poolUUID: UUID
    let devices: DeviceSet
    let allocator: Allocator
    let rings: RingPool
    let space = SpaceAccounting()
    let stats = IOStats()
    let deferredFree: DeferredFree
    let pageCache: PageCache
    let writeback = WritebackScheduler()
    let groupCommit = GroupCommit()
    let scrubber = Scrubber()
    let evacuator = Evacuator()
    let uploadJanitor = UploadJanitor()
    let cacheAdmission = CacheAdmission()
    /// Serializes the page cache's loads of a key from the catalog (see `cacheLoader`).
    let catalogLoads = Lock(())
    /// The Engine's workers: writeback helpers and read-ahead run here, not on threads of their own.
    let workers = WorkerPool(name: "engine-worker", keepIdle: 4, maxThreads: Engine.maxWorkers)
    /// At most this many engine workers: 8 writeback helpers and read-ahead for the rest.
    static let maxWorkers = 32
    /// Volume rows by name (see `volumeRecord(named:)`).
    let volumeRecords = Lock<[String: VolumeRecord]>([:])
    private let isShutDown = Atomic<Bool>(false)
    let logger: Logger
    /// The data directory, symlinks resolved: no device may be added inside it but under
    /// `devices/` (a forced add over the catalog or the keys would destroy the appliance's own state).
    let dataDirectory: String
    /// Serializes control-plane changes that touch device headers and the catalog together.
    let control = Mutex<Void>(())
    #if TEST_HOOKS
        /// Bugs planted for the power-cut test; none in production.
        let planted: PlantedFaults
    #else
        /// Release builds have none, known at compile time: the planted branches fold away.
        var planted: PlantedFaults { [] }
    #endif
    /// The catalog's storage: its copies on the devices' metadata areas (Metadata/).
    let mirror: CatalogMirror
    /// How many devices should hold a copy of the catalog.
    let metadataCopies: Int
    /// Objects up to this size are kept inline in the catalog (ObjectIOPolicy.swift).
    let inlineLimit = Atomic<Int64>(Engine.defaultInlineMaxBytes)
    /// Serializes placement runs of the catalog's copies.
    let metadataPlacement = Mutex<Void>(())
    let metadataPlacer: MetadataPlacer

    package static let catalogFileName = "catalog.sqlite"
    /// The real file under the catalog's locks and shared memory (its content is on the devices).
    static let catalogLockFileName = "catalog.lock"
    /// The default number of catalog copies.
    package static let defaultMetadataCopies = 3
    /// Where the default file devices live in the data directory, the one place in it devices may be.
    package static let deviceDirectoryName = "devices"

    private init(
        catalog: Catalog, poolUUID: UUID, logger: Logger, cacheBytes: Int64, planted: PlantedFaults, dataDirectory: String,
        mirror: CatalogMirror, metadataCopies: Int, metadataPlacer: MetadataPlacer, rings: RingPool
    ) {
        self.catalog = catalog
        self.rings = rings
        self.mirror = mirror
        self.metadataCopies = metadataCopies
        self.metadataPlacer = metadataPlacer
        self.dataDirectory = dataDirectory
        #if TEST_HOOKS
            self.planted = planted
        #endif
        self.poolUUID = poolUUID
        self.logger = logger
        let devices = DeviceSet(space: space)
        self.devices = devices
        allocator = Allocator(inService: { devices.allocatable })
        deferredFree = DeferredFree(allocator: allocator, bodies: catalog.retiredBodies)
        pageCache = PageCache(capacityBytes: cacheBytes, deferredFree: deferredFree)
    }

    /// A quarter of RAM, at most 4 GiB: the default page cache size.
    package static var defaultCacheBytes: Int64 {
        min(Int64(ProcessInfo.processInfo.physicalMemory) / 4, 4 << 30)
    }

    /// Opens the catalog (creating the directory and the pool on first start) and opens every
    /// registered device; devices that fail to open are reported as failed. The catalog is found on
    /// the devices' metadata areas (MetadataDiscovery: the data directory's record of the devices,
    /// its default devices and `devicePaths`), else in the data directory; its copies are then put
    /// on `metadataCopies` devices. `placeMetadata: false` (`appliance check`) leaves the copies
    /// and the devices' areas as they are found.
    package static func open(
        dataDirectory: String, logger: Logger, cacheBytes: Int64 = Engine.defaultCacheBytes, now: Date = Date(),
        planted: PlantedFaults = [], metadataCopies: Int = Engine.defaultMetadataCopies, devicePaths: [String] = [],
        placeMetadata: Bool = true, fence: WriteFence = WriteFence()
    ) throws(EngineError) -> Engine {
        guard metadataCopies >= 1, metadataCopies <= MetadataAreaFormat.maximumCopies else {
            throw .invalidArgument(field: "metadata-copies", reason: "must be between 1 and \(MetadataAreaFormat.maximumCopies)")
        }
        let placer = MetadataPlacer()
        let opened = try OpenedCatalog.open(
            dataDirectory: dataDirectory, devicePaths: devicePaths, planted: planted, now: now, fence: fence,
            copyLost: { [placer] _, _ in placer.request() })
        let (catalog, mirror, uuid, rings, discovery, resolvedDirectory) = (
            opened.catalog, opened.mirror, opened.poolUUID, opened.rings, opened.discovery, opened.dataDirectory
        )
        let engine = Engine(
            catalog: catalog, poolUUID: uuid, logger: logger, cacheBytes: cacheBytes, planted: planted,
            dataDirectory: resolvedDirectory, mirror: mirror, metadataCopies: metadataCopies, metadataPlacer: placer, rings: rings)
        placer.attach(engine)
        try engine.openRegisteredDevices(found: discovery.devices)
        if placeMetadata { try engine.carveMetadataAreasOnOlderDevices() }
        let allocated = try engine.rebuildFreeSpace()
        let recount = try engine.catalogCall { try catalog.recountUsage(deviceAllocated: allocated) }
        engine.space.load(recount)
        engine.devices.publishWithheld()
        try engine.forgetPermissionsOnMissingVolumes()
        // Completed multipart uploads keep their row a day, so that a retried Complete gets the same answer.
        try engine.catalogCall { try catalog.pruneCompletedUploads(before: Date().addingTimeInterval(-86_400)) }
        // Every volume's row in memory from the start: what an event loop may look at.
        engine.volumeRecords.withLock { cached in for volume in recount.volumes { cached[volume.name] = volume } }
        // Rows a deleted snapshot kept that a crash left before they were freed.
        try engine.collectUnseenRowsAtOpen()
        if placeMetadata { engine.placeMetadataCopies() }
        engine.writeback.start(engine)
        engine.resumeEvacuations()
        return engine
    }

    /// Writes back the cache, closes devices and the catalog. After the last request; idempotent.
    package func shutdown() {
        guard !isShutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        scrubber.stop()
        metadataPlacer.stop()
        uploadJanitor.stop()
        evacuator.stop()
        writeback.stop()
        flushAll()
        devices.removeAll()
        do {
            try catalog.close()
        } catch {
            logger.error("closing the catalog failed", metadata: ["error": "\(error)"])
        }
        mirror.close()
    }

    /// Runs a catalog call, translating catalog errors; EngineErrors thrown by validation
    /// closures pass through unchanged.
    /// The fault-hook name (Syscalls.injectFault) of this engine's catalog calls.
    var catalogFault: String { "catalog " + dataDirectory }

    func catalogCall<T>(
        notFound: EngineError? = nil, duplicate: EngineError? = nil, _ body: () throws -> T
    ) throws(EngineError) -> T {
        EventLoopGuard.assertMayWait("a catalog (SQLite) call")
        if let fault = injectedCatalogFault() { throw fault }
        do {
            return try body()
        } catch {
            // A write the fence refused fails in SQLite as an IO error: say why.
            if let reason = rings.fence.refusedBecause { throw .fenced(reason: reason) }
            throw Self.engineError(fromCatalog: error, notFound: notFound, duplicate: duplicate)
        }
    }

    /// A fault injected into this engine's catalog calls (tests), as the error the call fails with.
    func injectedCatalogFault() -> EngineError? {
        Syscalls.takeFault(catalogFault).map { .catalog("injected fault: \(Syscalls.describe(errno: $0))") }
    }

    /// The EngineError for an error of a catalog call (see `catalogCall`).
    static func engineError(fromCatalog error: any Error, notFound: EngineError? = nil, duplicate: EngineError? = nil) -> EngineError {
        switch error {
        case let error as EngineError: error
        case CatalogError.notFound(let what): notFound ?? .catalog("not found: \(what)")
        case CatalogError.duplicate(let what): duplicate ?? .catalog("duplicate: \(what)")
        case CatalogError.database(let detail): .catalog(detail)
        default: .catalog(String(describing: error))
        }
    }
}
