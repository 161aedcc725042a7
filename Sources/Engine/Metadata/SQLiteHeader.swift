// The fields of an SQLite database's header page (its first 100 bytes, big-endian, as SQLite's file
// format lays them out) that the mirror needs: the page size, the page count, the free pages and
// the bytes reserved at the end of each page.
struct SQLiteHeader: Equatable {
    static let magic = Array("SQLite format 3\0".utf8)

    var pageSize: Int64
    var pages: Int64
    var freePages: Int64
    var reservedBytes: Int

    /// The header at the start of `bytes`, or nil when they do not start with one.
    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 40, bytes.prefix(16).elementsEqual(Self.magic) else { return nil }
        func word(_ at: Int) -> Int64 { Int64(bytes[at]) << 24 | Int64(bytes[at + 1]) << 16 | Int64(bytes[at + 2]) << 8 | Int64(bytes[at + 3]) }
        let raw = Int64(bytes[16]) << 8 | Int64(bytes[17])
        pageSize = raw == 1 ? 65536 : raw
        pages = word(28)
        freePages = word(36)
        reservedBytes = Int(bytes[20])
    }

    /// The database's size as its header says.
    var bytes: Int64 { pageSize * pages }
    /// Bytes in pages that hold something (not on the free list).
    var usedBytes: Int64 { max(0, pages - freePages) * pageSize }
}
