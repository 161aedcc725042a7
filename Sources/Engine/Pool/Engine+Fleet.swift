// What a fleet's node needs of its pool: the pool its devices carry before it is opened (the
// lease is taken before anything is written), the write fence, and the fleet epoch kept in the
// devices' superblocks (written at each taking of the pool; a newer one than the node's own
// means another node has taken the pool over).
package import Foundation
import Glibc

extension Engine {
    /// Asked before every write to this pool's devices (see WriteFence).
    package var fence: WriteFence { rings.fence }

    /// The pool the devices of `dataDirectory` (and `devicePaths`) carry, read without writing
    /// anything; nil when they carry none yet (a pool not made yet).
    package static func discoverPool(dataDirectory: String, devicePaths: [String]) throws(EngineError) -> UUID? {
        let directory = (try? Syscalls.realpath(dataDirectory)) ?? dataDirectory
        let discovery = try MetadataDiscovery.run(paths: MetadataDiscovery.candidatePaths(dataDirectory: directory, extra: devicePaths))
        if let pool = discovery.poolUUID { return pool }
        let pools = Set(discovery.devices.values.map(\.superblock.poolUUID))
        return pools.count == 1 ? pools.first : nil
    }

    /// The newest fleet epoch the open devices' superblocks carry (0: none).
    package func fleetEpochOnDevices() -> Int64 {
        devices.openDevices().compactMap { member -> Int64? in
            guard case .superblock(let superblock)? = try? member.device.readSuperblock() else { return nil }
            return superblock.fleetEpoch
        }.max() ?? 0
    }

    /// Writes `epoch` into every open device's superblock, each durable before the next: the
    /// first writes of a node that has just taken the pool.
    package func writeFleetEpoch(_ epoch: Int64) throws(EngineError) {
        guard fence.mayWrite else { throw .fenced(reason: fence.refusedBecause ?? "the pool's lease is not held") }
        for member in devices.openDevices() {
            guard case .superblock(var superblock) = try member.device.readSuperblock() else { continue }
            guard superblock.fleetEpoch != epoch else { continue }
            superblock.fleetEpoch = epoch
            try member.device.writeSuperblock(superblock)
        }
    }
}

extension Engine {
    /// Whether the device at `path` carries a superblock of pool `pool` as device `device` (read
    /// only): a node may take a pool over only where it finds the devices the owner published.
    package static func deviceCarries(path: String, pool: String, device: String) -> Bool {
        guard let found = MetadataDiscovery.probe(path) else { return false }
        return found.superblock.poolUUID.uuidString.lowercased() == pool && found.superblock.deviceUUID.uuidString.lowercased() == device
    }
}
