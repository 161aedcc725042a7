// Physical allocation across the pool's devices: N replicas of an extent on N distinct active
// devices, preferring the devices with the most free space. In memory only; rebuilt at start.
import Synchronization

/// One physical copy of an extent.
package struct PhysicalRange: Sendable, Equatable, Hashable, CustomStringConvertible {
    package var deviceID: String
    package var offset: Int64
    package var length: Int64

    package init(deviceID: String, offset: Int64, length: Int64) {
        self.deviceID = deviceID
        self.offset = offset
        self.length = length
    }

    package var description: String { "\(deviceID.prefix(8))@\(offset)+\(length)" }
}

package final class Allocator: Sendable {
    /// Allocation unit and alignment of every extent on disk.
    package static let unit: Int64 = 4096

    private struct DeviceSpace {
        var free: FreeSpace
    }

    private let devices = Mutex<[String: DeviceSpace]>([:])
    /// The devices that take new extents now (the device set's answer; nil: every registered
    /// one). Read once per allocation, before this allocator's lock: the allocator keeps no copy
    /// of any device's state.
    private let inService: @Sendable () -> Set<String>?

    package init(inService: @escaping @Sendable () -> Set<String>? = { nil }) {
        self.inService = inService
    }

    /// Registers a device's data area `[dataOffset, dataOffset+capacity)`, with `used` ranges taken.
    /// Returns the used ranges that overlapped (catalog inconsistencies), for logging.
    @discardableResult
    package func addDevice(id: String, dataOffset: Int64, capacity: Int64, used: [PhysicalRange]) -> [PhysicalRange] {
        var free = FreeSpace(start: dataOffset, length: capacity / Self.unit * Self.unit)
        var conflicts: [PhysicalRange] = []
        for range in used.sorted(by: { $0.offset < $1.offset }) where !free.markUsed(offset: range.offset, length: range.length) {
            conflicts.append(range)
        }
        devices.withLock { $0[id] = DeviceSpace(free: free) }
        return conflicts
    }

    package func removeDevice(id: String) {
        _ = devices.withLock { $0.removeValue(forKey: id) }
    }

    /// Every device's free space as it is now (for the space audit).
    func freeSpaces() -> [String: FreeSpace] {
        devices.withLock { $0.mapValues(\.free) }
    }

    /// How many devices take new extents now (the active ones).
    package func activeDeviceCount() -> Int {
        let serving = inService()
        return devices.withLock { $0.keys.count { serving?.contains($0) ?? true } }
    }

    package func freeBytes(deviceID: String) -> Int64 {
        devices.withLock { $0[deviceID]?.free.freeBytes ?? 0 }
    }

    /// Allocates one extent of up to `length` bytes (rounded up to the unit) with `replicas` copies
    /// on distinct active devices. The copies have equal lengths, possibly less than asked when
    /// space is fragmented. nil when fewer than `replicas` active devices have a free unit.
    package func allocate(length: Int64, replicas: Int) -> [PhysicalRange]? {
        precondition(length > 0 && replicas > 0)
        let want = (length + Self.unit - 1) / Self.unit * Self.unit
        let serving = inService()
        return devices.withLock { devices -> [PhysicalRange]? in
            let candidates = devices.filter { (serving?.contains($0.key) ?? true) && $0.value.free.largest >= Self.unit }
                .sorted { ($0.value.free.freeBytes, $1.key) > ($1.value.free.freeBytes, $0.key) }
                .prefix(replicas)
            guard candidates.count == replicas else { return nil }
            var taken: [PhysicalRange] = []
            for (id, _) in candidates {
                guard let range = devices[id]!.free.take(upTo: want, unit: Self.unit) else { break }
                taken.append(PhysicalRange(deviceID: id, offset: range.offset, length: range.length))
            }
            guard taken.count == replicas else {
                for range in taken { devices[range.deviceID]!.free.free(offset: range.offset, length: range.length) }
                return nil
            }
            // Equalize: every copy gets the shortest length; give back the excess.
            let common = taken.map(\.length).min()!
            for i in taken.indices where taken[i].length > common {
                devices[taken[i].deviceID]!.free.free(offset: taken[i].offset + common, length: taken[i].length - common)
                taken[i].length = common
            }
            return taken
        }
    }

    /// One contiguous range of exactly `length` bytes (a multiple of the unit) for a new copy of an
    /// extent (a repair or a drain): on `preferring` when it is active and has room, else on the
    /// active device with the most free space that is not in `avoiding` (the devices that hold the
    /// extent's other copies). nil when no such device has the room.
    package func allocateCopy(length: Int64, avoiding: Set<String>, preferring: String? = nil) -> PhysicalRange? {
        precondition(length > 0 && length % Self.unit == 0)
        let serving = inService()
        return devices.withLock { devices -> PhysicalRange? in
            var order = devices.filter { (serving?.contains($0.key) ?? true) && !avoiding.contains($0.key) }
                .sorted { ($0.value.free.freeBytes, $1.key) > ($1.value.free.freeBytes, $0.key) }.map(\.key)
            if let preferring, devices[preferring] != nil, serving?.contains(preferring) ?? true { order.insert(preferring, at: 0) }
            for id in order where devices[id]!.free.largest >= length {
                guard let range = devices[id]!.free.take(upTo: length, unit: Self.unit) else { continue }
                if range.length == length { return PhysicalRange(deviceID: id, offset: range.offset, length: length) }
                devices[id]!.free.free(offset: range.offset, length: range.length)
            }
            return nil
        }
    }

    /// Returns ranges to their devices (ranges on devices no longer registered are dropped).
    package func free(_ ranges: [PhysicalRange]) {
        devices.withLock { devices in
            for range in ranges where devices[range.deviceID] != nil {
                devices[range.deviceID]!.free.free(offset: range.offset, length: range.length)
            }
        }
    }
}
