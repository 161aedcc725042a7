import Glibc
import Testing

// HeapTrim hands freed heap pages back to the kernel (glibc malloc_trim through CMalloc).
@testable import API

@Suite struct HeapTrimTests {
    /// Under ThreadSanitizer or AddressSanitizer, malloc is the sanitizer's, not glibc's, and
    /// malloc_trim has nothing to trim.
    static let glibcAllocator = dlsym(nil, "__tsan_init") == nil && dlsym(nil, "__asan_init") == nil

    @Test(.enabled(if: glibcAllocator, "malloc is the sanitizer's")) func freedHeapMemoryIsReleased() {
        // 64 KiB blocks stay below glibc's mmap threshold: they come from an arena's heap. A small
        // block after them keeps them off the heap's top (which free itself may give back), so
        // once freed they stay in the arena until trimmed.
        let blocks = (0..<256).map { _ -> UnsafeMutableRawPointer in
            let block = malloc(64 << 10)!
            memset(block, 0xA5, 64 << 10)
            return block
        }
        let fence = malloc(64)
        defer { free(fence) }
        blocks.forEach { free($0) }
        #expect(HeapTrim.release(), "16 MiB freed inside the heap and nothing released")
    }
}
