// A checksum in each catalog database page (SQLite's cksumvfs shows the way): the database keeps
// 8 reserved bytes at the end of every page (`Catalog` sets them up), and the mirror fills them as
// it writes a page: crc32c of the page's other bytes and its page number, then the page number.
// A page read back with another sum, or at another place, is rotten or misdirected.
import Catalog

enum PageChecksum {
    static let pageSize = Catalog.PageLayout.pageSize
    static let reservedBytes = Catalog.PageLayout.reservedBytes
    private static let sumOffset = pageSize - reservedBytes

    /// Whether a database with `header` keeps room for the checksum: 4 KiB pages, 8 reserved bytes.
    static func enabled(_ header: SQLiteHeader) -> Bool {
        header.pageSize == Int64(pageSize) && header.reservedBytes == reservedBytes
    }

    /// Page number (1-based) of the page at byte `offset` of the database.
    static func pageNumber(at offset: Int64) -> UInt32 { UInt32(truncatingIfNeeded: offset / Int64(pageSize) + 1) }

    static func seal(_ page: UnsafeMutableRawBufferPointer, pageNumber: UInt32) {
        precondition(page.count == pageSize)
        let sum = sum(UnsafeRawBufferPointer(page), pageNumber: pageNumber)
        page.storeBytes(of: sum.littleEndian, toByteOffset: sumOffset, as: UInt32.self)
        page.storeBytes(of: pageNumber.littleEndian, toByteOffset: sumOffset + 4, as: UInt32.self)
    }

    static func verify(_ page: UnsafeRawBufferPointer, pageNumber: UInt32) -> Bool {
        precondition(page.count == pageSize)
        let stored = UInt32(littleEndian: page.loadUnaligned(fromByteOffset: sumOffset, as: UInt32.self))
        let place = UInt32(littleEndian: page.loadUnaligned(fromByteOffset: sumOffset + 4, as: UInt32.self))
        return place == pageNumber && stored == sum(page, pageNumber: pageNumber)
    }

    private static func sum(_ page: UnsafeRawBufferPointer, pageNumber: UInt32) -> UInt32 {
        let body = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: page[0..<sumOffset]))
        return withUnsafeBytes(of: pageNumber.littleEndian) { CRC32C.checksum($0, seed: body) }
    }
}
