// An owned, page-aligned, zero-filled buffer for O_DIRECT IO.
package final class AlignedBuffer: @unchecked Sendable {
    // @unchecked: the buffer is owned by one request at a time; it is never shared while in flight.
    package let count: Int
    private let base: UnsafeMutableRawPointer

    /// `zeroed: false` skips clearing memory the caller overwrites completely anyway.
    package init(count: Int, alignment: Int = 4096, zeroed: Bool = true) {
        precondition(count > 0 && count % 512 == 0, "aligned buffer size \(count) must be a multiple of 512")
        self.count = count
        base = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: alignment)
        if zeroed { base.initializeMemory(as: UInt8.self, repeating: 0, count: count) }
    }

    deinit { base.deallocate() }

    /// The memory. Valid only while this buffer is alive: keep a reference (a stored property,
    /// a parameter, or `withExtendedLifetime`) for as long as the pointer is used.
    package var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: count) }
}
