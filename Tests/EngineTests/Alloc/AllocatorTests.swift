import Testing

// Property test of the allocator: random allocate/free sequences never overlap, never leave a
// device's data area, keep replicas on distinct active devices, and account free bytes exactly.
@testable import Engine

@Suite struct AllocatorTests {
    static let unit = Allocator.unit

    @Test(arguments: [1, 2, 3, 42, 1337, 9001])
    func randomSequencesKeepEveryInvariant(seed: UInt64) {
        var rng = SplitMix(state: seed)
        // dev3 is readonly: the device set says it takes no allocations.
        let allocator = Allocator(inService: { ["dev0", "dev1", "dev2"] })
        let devices = (0..<4).map { i in (id: "dev\(i)", start: Int64(1 << 20), capacity: Int64(Int.random(in: 64...256, using: &rng)) * Self.unit) }
        for d in devices { allocator.addDevice(id: d.id, dataOffset: d.start, capacity: d.capacity, used: []) }
        var live: [[PhysicalRange]] = []
        for _ in 0..<2000 {
            if live.isEmpty || Bool.random(using: &rng) {
                let replicas = Int.random(in: 1...3, using: &rng)
                let length = Int64.random(in: 1...(40 * Self.unit), using: &rng)
                guard let copies = allocator.allocate(length: length, replicas: replicas) else { continue }
                #expect(copies.count == replicas)
                #expect(Set(copies.map(\.deviceID)).count == replicas, "replicas share a device")
                #expect(!copies.contains { $0.deviceID == "dev3" }, "readonly device got an allocation")
                #expect(Set(copies.map(\.length)).count == 1)
                #expect(copies[0].length % Self.unit == 0 && copies[0].length > 0)
                #expect(copies[0].length <= (length + Self.unit - 1) / Self.unit * Self.unit)
                live.append(copies)
            } else {
                allocator.free(live.remove(at: Int.random(in: 0..<live.count, using: &rng)))
            }
            // Invariants after every step.
            let all = live.flatMap { $0 }
            for d in devices {
                let mine = all.filter { $0.deviceID == d.id }.sorted { $0.offset < $1.offset }
                for r in mine { #expect(r.offset >= d.start && r.offset + r.length <= d.start + d.capacity, "out of bounds: \(r)") }
                for (a, b) in zip(mine, mine.dropFirst()) { #expect(a.offset + a.length <= b.offset, "overlap: \(a) \(b)") }
                #expect(allocator.freeBytes(deviceID: d.id) == d.capacity - mine.reduce(0) { $0 + $1.length })
            }
        }
        for copies in live { allocator.free(copies) }
        for d in devices { #expect(allocator.freeBytes(deviceID: d.id) == d.capacity) }
    }

    @Test func prefersTheDeviceWithTheMostFreeSpace() {
        let allocator = Allocator()
        allocator.addDevice(id: "small", dataOffset: 0, capacity: 100 * Self.unit, used: [])
        allocator.addDevice(id: "large", dataOffset: 0, capacity: 1000 * Self.unit, used: [])
        #expect(allocator.allocate(length: Self.unit, replicas: 1)?.first?.deviceID == "large")
    }

    @Test func largeRequestsGetOneContiguousExtent() throws {
        let allocator = Allocator()
        allocator.addDevice(id: "d", dataOffset: 1 << 20, capacity: 64 << 20, used: [])
        let copies = try #require(allocator.allocate(length: 4 << 20, replicas: 1))
        #expect(copies[0].length == 4 << 20)
    }

    @Test func refusesWhenTooFewActiveDevices() {
        let allocator = Allocator(inService: { ["a"] })  // b is readonly
        allocator.addDevice(id: "a", dataOffset: 0, capacity: 10 * Self.unit, used: [])
        allocator.addDevice(id: "b", dataOffset: 0, capacity: 10 * Self.unit, used: [])
        #expect(allocator.allocate(length: Self.unit, replicas: 2) == nil)
        #expect(allocator.freeBytes(deviceID: "a") == 10 * Self.unit, "a failed allocation must not leak space")
    }

    @Test func rebuildMarksUsedRangesAndReportsOverlaps() {
        let allocator = Allocator()
        let used = [
            PhysicalRange(deviceID: "d", offset: 0, length: 2 * Self.unit), PhysicalRange(deviceID: "d", offset: Self.unit, length: Self.unit),
        ]
        let conflicts = allocator.addDevice(id: "d", dataOffset: 0, capacity: 8 * Self.unit, used: used)
        #expect(conflicts == [used[1]])
        #expect(allocator.freeBytes(deviceID: "d") == 6 * Self.unit)
        let copy = allocator.allocate(length: Self.unit, replicas: 1)
        #expect(copy?.first?.offset == 2 * Self.unit)
    }

    @Test func fragmentedSpaceGivesShorterExtents() throws {
        let allocator = Allocator()
        // Free: [0,2) and [4,5) units.
        let used = [
            PhysicalRange(deviceID: "d", offset: 2 * Self.unit, length: 2 * Self.unit),
            PhysicalRange(deviceID: "d", offset: 5 * Self.unit, length: 3 * Self.unit),
        ]
        allocator.addDevice(id: "d", dataOffset: 0, capacity: 8 * Self.unit, used: used)
        let first = try #require(allocator.allocate(length: 3 * Self.unit, replicas: 1))
        #expect(first[0].length == 2 * Self.unit)
        let second = try #require(allocator.allocate(length: 3 * Self.unit, replicas: 1))
        #expect(second[0].length == Self.unit)
        #expect(allocator.allocate(length: Self.unit, replicas: 1) == nil)
    }
}
