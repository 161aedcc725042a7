// Durability bugs planted on purpose, so that the power-cut test (Tests/EngineTests/Crash) can show
// it catches them. Test switches, honoured only in builds with TEST_HOOKS (debug builds): a release
// binary's `Engine.planted` is empty at compile time.
package struct PlantedFaults: OptionSet, Sendable {
    package let rawValue: Int
    package init(rawValue: Int) { self.rawValue = rawValue }

    /// A group commits its catalog transaction (the object becomes visible and is answered for)
    /// before the fdatasync of the devices its data went to.
    package static let commitBeforeDataSync = PlantedFaults(rawValue: 1 << 0)
    /// The catalog runs `PRAGMA synchronous = NORMAL`: with WAL, a commit does not fsync the WAL.
    package static let catalogWithoutFullSync = PlantedFaults(rawValue: 1 << 1)
    /// A DELETE gives its object's space back to the allocator before the catalog commit that
    /// drops the object is durable, so another upload can overwrite data still referenced.
    package static let reuseBeforeFreeIsDurable = PlantedFaults(rawValue: 1 << 2)
    /// A catalog sync returns once the first copy is synced: a commit is answered for before
    /// every copy of the catalog holds it durably.
    package static let catalogCopiesUnsynced = PlantedFaults(rawValue: 1 << 3)
}

extension PlantedFaults {
    /// The faults an engine may be opened with: all of them with TEST_HOOKS, none otherwise.
    static func admitted(_ faults: PlantedFaults) -> PlantedFaults {
        #if TEST_HOOKS
            return faults
        #else
            precondition(faults.isEmpty, "planted faults need a build with TEST_HOOKS (a debug build)")
            return []
        #endif
    }
}
