// Where the catalog is, before it is open: the candidate devices (the data directory's record,
// the default file devices in it, and any paths the operator names) are read for a superblock and
// a metadata-area header. The copies of the highest generation that name themselves in their copy
// set are the current catalog; without any, the catalog is the data directory's (a pool from
// before metadata areas, or one with no device yet). Nothing is written here.
import Foundation
import Glibc

struct MetadataDiscovery {
    struct Found: Equatable {
        var path: String
        var superblock: Superblock
        var header: MetadataAreaFormat.Header?
    }

    /// Every candidate that carries one of our superblocks, by device UUID.
    var devices: [UUID: Found] = [:]
    /// The current copies (empty: the catalog is in the data directory).
    var current: [Found] = []
    var generation: UInt64 = 0
    var poolUUID: UUID?

    /// Reads the candidates. Refuses devices of two different pools among the current copies.
    static func run(paths: [String]) throws(EngineError) -> MetadataDiscovery {
        var discovery = MetadataDiscovery()
        var seen = Set<String>()
        for raw in paths {
            guard let path = try? Syscalls.realpath(raw), seen.insert(path).inserted else { continue }
            guard let found = probe(path) else { continue }
            discovery.devices[found.superblock.deviceUUID] = found
        }
        let copies = discovery.devices.values.filter { found in
            guard let header = found.header else { return false }
            return header.poolUUID == found.superblock.poolUUID && header.deviceUUID == found.superblock.deviceUUID
                && header.copies.contains(found.superblock.deviceUUID)
        }
        let pools = Set(copies.map(\.superblock.poolUUID))
        if pools.count > 1 {
            let names = pools.map { $0.uuidString.lowercased() }.sorted().joined(separator: ", ")
            throw .catalog("the devices hold catalogs of \(pools.count) different pools (\(names)); start with the devices of one pool")
        }
        guard let newest = copies.compactMap(\.header?.generation).max() else { return discovery }
        discovery.generation = newest
        discovery.current = copies.filter { $0.header?.generation == newest }.sorted { $0.path < $1.path }
        discovery.poolUUID = pools.first
        // Copies of one generation were written together: they name the same set of copies.
        let sets = Set(discovery.current.compactMap { $0.header.map { Set($0.copies) } })
        if sets.count > 1 {
            throw .catalog("the catalog's copies of generation \(newest) disagree about which devices hold copies; nothing was changed")
        }
        return discovery
    }

    /// The superblock and area header of the device at `path`, if it carries our superblock.
    static func probe(_ path: String) -> Found? {
        guard let fd = try? Syscalls.open(path, flags: O_RDONLY) else { return nil }
        defer { Syscalls.close(fd) }
        var block = [UInt8](repeating: 0, count: SuperblockFormat.blockSize)
        let read = block.withUnsafeMutableBytes { (try? Syscalls.pread(fd, $0, offset: 0)) ?? 0 }
        guard read == block.count, case .superblock(let superblock) = block.withUnsafeBytes({ SuperblockFormat.decode($0) }) else { return nil }
        let header = superblock.metadataArea.flatMap { CatalogCopy.readHeader(fd: fd, areaOffset: $0.lowerBound) }
        return Found(path: path, superblock: superblock, header: header?.areaBytes == superblock.metadataBytes ? header : nil)
    }

    /// The candidate paths a start looks at: the record's, the default devices', and `extra`.
    static func candidatePaths(dataDirectory: String, extra: [String]) -> [String] {
        var paths = extra
        if let hints = DeviceHints.load(dataDirectory: dataDirectory) { paths += hints.devices.map(\.path) }
        let defaults = dataDirectory + "/" + Engine.deviceDirectoryName
        if let names = try? FileManager.default.contentsOfDirectory(atPath: defaults) {
            paths += names.sorted().map { defaults + "/" + $0 }
        }
        return paths
    }
}
