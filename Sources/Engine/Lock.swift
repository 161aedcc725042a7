// The lock for state that many threads touch per request (page cache, IO stats, rings, deferred
// frees): a plain pthread mutex holding the state. Synchronization.Mutex spins in user space
// before sleeping; with many more threads than cores (measured under the earlier one-thread-per-
// connection server; workers blocked on IO are still many) that spinning burned the CPU the lock
// holder needed (28% of a cache-hit GET run in Mutex._lockSlow; 12k → 21k req/s with this lock).
// ThreadSanitizer here reports races inside Synchronization.Mutex closures that are not races (it
// does the same for a minimal two-thread Mutex program); it understands this lock. Same shape as Mutex: `withLock { inout }`.
// Rarely contended state keeps using Mutex.
import Glibc

package final class Lock<State>: @unchecked Sendable {
    // @unchecked: `state` is only touched while `mutex` is held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var state: State

    package init(_ state: State) {
        self.state = state
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    package func withLock<T, E: Error>(_ body: (inout State) throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
