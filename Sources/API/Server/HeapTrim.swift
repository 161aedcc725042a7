// Returning a burst's memory: glibc keeps what its arenas freed (a burst of uploads held a few
// MiB of buffers each) for reuse; after 300 aborted uploads on a 64 MiB cache the process stayed
// at ~650 MiB, and malloc_trim brought it back to ~115 MiB. The worker pool calls this when it
// is back to its kept threads, i.e. when a burst is over.
import CMalloc

enum HeapTrim {
    /// Hands free heap pages back to the kernel; true when any were released.
    @discardableResult
    static func release() -> Bool { appliance_heap_trim() == 1 }
}
