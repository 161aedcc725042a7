// The lock for state that many threads touch per request (page cache, IO stats, rings, deferred
// frees): a plain pthread mutex holding the state. Synchronization.Mutex spins in user space
// before sleeping; with many more threads than cores (measured under the earlier one-thread-per-
// connection server; workers blocked on IO are still many) that spinning burned the CPU the lock
// holder needed (28% of a cache-hit GET run in Mutex._lockSlow; 12k → 21k req/s with this lock).
// ThreadSanitizer here reports races inside Synchronization.Mutex closures that are not races (it
// does the same for a minimal two-thread Mutex program); it understands this lock. Same shape as
// Mutex: `withLock { inout }`. Rarely contended state keeps using Mutex.
//
// It also carries a condition, so that a thread waiting for the state to change sleeps until the
// change instead of polling: `wait(until:)` waits for a predicate of the state, and a change that
// a waiter may be waiting for is made with `withLockWaking`, which wakes every waiter.
import Glibc

package final class Lock<State>: @unchecked Sendable {
    // @unchecked: `state` is only touched while `mutex` is held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var state: State

    package init(_ state: State) {
        self.state = state
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)  // deadlines immune to clock steps
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    package func withLock<T, E: Error>(_ body: (inout State) throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }

    /// `withLock`, then wakes every thread in `wait(until:)` to look at the state again.
    package func withLockWaking<T, E: Error>(_ body: (inout State) throws(E) -> T) throws(E) -> T {
        try withLock(thenWaking: pthread_cond_broadcast, body)
    }

    /// `withLock`, then wakes one thread in `wait(until:)` (a change one waiter can take, such
    /// as a job queued for a pool of identical workers).
    package func withLockSignaling<T, E: Error>(_ body: (inout State) throws(E) -> T) throws(E) -> T {
        try withLock(thenWaking: pthread_cond_signal, body)
    }

    /// `withLock`, then `wake` (broadcast or signal) on the condition before the unlock.
    private func withLock<T, E: Error>(
        thenWaking wake: (UnsafeMutablePointer<pthread_cond_t>) -> Int32, _ body: (inout State) throws(E) -> T
    ) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer {
            _ = wake(condition)
            pthread_mutex_unlock(mutex)
        }
        return try body(&state)
    }

    /// Waits as `wait(seconds:until:)` does, then runs `body` in the same hold of the lock, told
    /// whether the state became ready (false: the time ran out first).
    package func withLock<T>(waitingUpTo seconds: Double?, until ready: (inout State) -> Bool, _ body: (inout State, Bool) -> T) -> T {
        var deadline = timespec()
        if let seconds { deadline = Self.deadline(after: seconds) }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !ready(&state) {
            if seconds == nil {
                pthread_cond_wait(condition, mutex)
            } else if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT {
                return body(&state, ready(&state))
            }
        }
        return body(&state, true)
    }

    private static func deadline(after seconds: Double) -> timespec {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let nanoseconds = Int(deadline.tv_nsec) + Int((max(0, seconds) * 1e9).rounded())
        deadline.tv_sec += nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        return deadline
    }

    /// Wakes every waiter without changing anything (a change made elsewhere, e.g. an atomic).
    package func wakeAll() {
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Sleeps until `ready(state)` holds (checked under the lock, again after every wake) or
    /// `seconds` have passed (nil: no limit); the lock is not held while sleeping. Returns whether
    /// the state was ready.
    @discardableResult
    package func wait(seconds: Double? = nil, until ready: (inout State) -> Bool) -> Bool {
        withLock(waitingUpTo: seconds, until: ready) { _, ready in ready }
    }
}
