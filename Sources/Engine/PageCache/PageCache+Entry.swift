// Getting at one key's entry: wait (on the cache lock's condition, not a poll) while its lifecycle
// does not admit the use, and load it when it is not cached — with the catalog read outside the
// lock, behind a `loading` placeholder that holds the key meanwhile. A change that may let a
// waiter in (a writeback ends, a placeholder goes, pages or staged frames are freed) is made with
// `state.withLockWaking`, or followed by `changed(&state)` inside `withLockWaking`.
extension PageCache {
    /// Runs `body` under the cache lock once `key`'s entry admits `use`, with the entry: the
    /// cached one, or the one `load` returns (nil: the key is in neither the cache nor the catalog).
    /// `load` runs outside the lock while a placeholder holds the key; what it returns is cached.
    func withEntry<T>(
        _ key: CacheKey, for use: ObjectLifecycle.Use, load: () throws(EngineError) -> CachedObject?,
        _ body: (inout State, CachedObject?) throws(EngineError) -> T
    ) throws(EngineError) -> T {
        while true {
            let step = try withAdmitted(key, for: use) { state, object throws(EngineError) -> LoadStep<T> in
                if object != nil { return .done(try body(&state, object)) }
                let placeholder = CachedObject(placeholderFor: key, lifecycle: ObjectLifecycle(.loading))
                state.objects[key] = placeholder
                return .load(placeholder)
            }
            guard case .load(let placeholder) = step else {
                if case .done(let result) = step { return result }
                continue
            }
            let loaded: CachedObject?
            do throws(EngineError) {
                loaded = try load()
            } catch {
                self.state.withLockWaking { state in
                    precondition(state.objects[key] === placeholder, "a loading placeholder was replaced")
                    state.objects[key] = nil
                }
                throw error
            }
            return try self.state.withLockWaking { state throws(EngineError) -> T in
                precondition(state.objects[key] === placeholder, "a loading placeholder was replaced")
                state.objects[key] = loaded
                if let loaded { Self.installInlineBodies(&state, capacity: capacityPages, key: key, loaded) }
                return try body(&state, loaded)
            }
        }
    }

    private enum LoadStep<T> {
        case done(T)
        case load(CachedObject)
    }

    /// Runs `body` under the lock once `key`'s entry admits `use` (or there is none), waiting on
    /// the lock's condition meanwhile.
    func withAdmitted<T>(
        _ key: CacheKey, for use: ObjectLifecycle.Use, _ body: (inout State, CachedObject?) throws(EngineError) -> T
    ) throws(EngineError) -> T {
        while true {
            let result: T? = try state.withLock { state throws(EngineError) -> T? in
                let object = state.objects[key]
                if let object, object.lifecycle.admits(use) == .wait { return nil }
                return try body(&state, object)
            }
            if let result { return result }
            EventLoopGuard.assertMayWait("waiting for a busy cache entry")
            state.wait { state in state.objects[key].map { $0.lifecycle.admits(use) == .proceed } ?? true }
        }
    }
}
