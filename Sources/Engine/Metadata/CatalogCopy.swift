// One full copy of the catalog: its SQLite database and WAL, each a byte range of a file. On a
// member device both live in its metadata area (MetadataAreaFormat), through a second, buffered
// descriptor (SQLite writes are not sector-aligned); a pool with no area yet keeps its one copy as
// two plain files in the data directory. Reads and writes go through Syscalls, so the power-cut
// model sees them as it sees the data.
import Foundation
import Glibc

struct CatalogCopy: Sendable, Equatable {
    enum Place: Sendable, Equatable, CustomStringConvertible {
        case area(deviceID: String, deviceUUID: UUID, path: String)
        case dataDirectory(database: String, wal: String)

        var deviceID: String? {
            if case .area(let id, _, _) = self { return id }
            return nil
        }

        var description: String {
            switch self {
            case .area(let id, _, let path): "device \(id) (\(path))"
            case .dataDirectory(let database, _): "the data directory (\(database))"
            }
        }
    }

    struct Region: Sendable, Equatable {
        var fd: Int32
        var base: Int64
        var capacity: Int64
    }

    let place: Place
    let database: Region
    let wal: Region
    /// A device copy: where its area starts on the device and how long it is.
    let area: (offset: Int64, bytes: Int64)?

    static func == (a: CatalogCopy, b: CatalogCopy) -> Bool { a.place == b.place }

    var deviceUUID: UUID? {
        if case .area(_, let uuid, _) = place { return uuid }
        return nil
    }

    func region(_ file: CatalogMirror.File) -> Region { file == .database ? database : wal }

    /// The copy in the metadata area of the device at `path`, opened buffered for read and write.
    static func openArea(deviceID: String, deviceUUID: UUID, path: String, areaOffset: Int64, areaBytes: Int64) throws(EngineError) -> CatalogCopy {
        let fd: Int32
        do {
            fd = try Syscalls.open(path, flags: O_RDWR)
        } catch {
            throw .io(call: error.call, path: path, errno: error.errno)
        }
        let regions = MetadataAreaFormat.regions(areaBytes: areaBytes)
        return CatalogCopy(
            place: .area(deviceID: deviceID, deviceUUID: deviceUUID, path: path),
            database: Region(fd: fd, base: areaOffset + regions.database.lowerBound, capacity: Int64(regions.database.count)),
            wal: Region(fd: fd, base: areaOffset + regions.wal.lowerBound, capacity: Int64(regions.wal.count)),
            area: (areaOffset, areaBytes))
    }

    /// The copy kept as two files (created if missing) in the data directory.
    static func openFiles(database: String, wal: String) throws(EngineError) -> CatalogCopy {
        func open(_ path: String) throws(EngineError) -> Int32 {
            do {
                return try Syscalls.open(path, flags: O_RDWR | O_CREAT, mode: 0o600)
            } catch {
                throw .io(call: error.call, path: path, errno: error.errno)
            }
        }
        let databaseFD = try open(database)
        let walFD: Int32
        do throws(EngineError) {
            walFD = try open(wal)
        } catch {
            Syscalls.close(databaseFD)
            throw error
        }
        return CatalogCopy(
            place: .dataDirectory(database: database, wal: wal),
            database: Region(fd: databaseFD, base: 0, capacity: .max), wal: Region(fd: walFD, base: 0, capacity: .max), area: nil)
    }

    var descriptors: Set<Int32> { [database.fd, wal.fd] }

    /// Reads `buffer.count` bytes at `offset` of `file`; false on an error or a short read.
    func read(_ file: CatalogMirror.File, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) -> Bool {
        let region = region(file)
        guard offset >= 0, offset + Int64(buffer.count) <= region.capacity else { return false }
        var done = 0
        while done < buffer.count {
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[done...])
            guard let n = try? Syscalls.pread(region.fd, part, offset: region.base + offset + Int64(done)), n > 0 else { return false }
            done += n
        }
        return true
    }

    /// Writes `bytes` at `offset` of `file`.
    func write(_ file: CatalogMirror.File, _ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(SyscallError) {
        let region = region(file)
        var done = 0
        while done < bytes.count {
            let part = UnsafeRawBufferPointer(rebasing: bytes[done...])
            let n = try Syscalls.pwrite(region.fd, part, offset: region.base + offset + Int64(done))
            guard n > 0 else { throw SyscallError(call: "pwrite", errno: EIO) }
            done += n
        }
    }

    /// Writes `bytes` at `offset` of `file`.
    func write(_ file: CatalogMirror.File, _ bytes: [UInt8], count: Int? = nil, at offset: Int64) throws(SyscallError) {
        var failure: SyscallError?
        bytes.withUnsafeBytes { raw in
            do throws(SyscallError) {
                try write(file, UnsafeRawBufferPointer(rebasing: raw[0..<(count ?? raw.count)]), at: offset)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// Writes `bytes` at the device offset `offset` (outside the regions: the headers).
    private func writeRaw(_ bytes: [UInt8], at offset: Int64) throws(SyscallError) {
        var failure: SyscallError?
        bytes.withUnsafeBytes { raw in
            do throws(SyscallError) {
                _ = try Syscalls.pwrite(database.fd, raw, offset: offset)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// Writes the area's header for `header` into its slot and makes it durable.
    func writeHeader(_ header: MetadataAreaFormat.Header) throws(SyscallError) {
        guard let area else { return }
        var block = [UInt8](repeating: 0, count: MetadataAreaFormat.blockSize)
        block.withUnsafeMutableBytes { MetadataAreaFormat.encode(header, into: $0) }
        let offset = area.offset + Int64(MetadataAreaFormat.slot(for: header.generation) * MetadataAreaFormat.blockSize)
        try writeRaw(block, at: offset)
        try Syscalls.fdatasync(database.fd)
    }

    /// Zeroes both header slots: the area holds no copy any more.
    func wipeHeaders() throws(SyscallError) {
        guard let area else { return }
        let zeros = [UInt8](repeating: 0, count: MetadataAreaFormat.blockSize * MetadataAreaFormat.headerSlots)
        try writeRaw(zeros, at: area.offset)
        try Syscalls.fdatasync(database.fd)
    }

    /// The header of the area of the device open at `fd` (nil: none valid).
    static func readHeader(fd: Int32, areaOffset: Int64) -> MetadataAreaFormat.Header? {
        var blocks = [UInt8](repeating: 0, count: MetadataAreaFormat.blockSize * MetadataAreaFormat.headerSlots)
        let ok = blocks.withUnsafeMutableBytes { buffer in
            (try? Syscalls.pread(fd, buffer, offset: areaOffset)) == buffer.count
        }
        guard ok else { return nil }
        return blocks.withUnsafeBytes { MetadataAreaFormat.newest($0) }
    }

    func close() {
        for fd in descriptors { Syscalls.close(fd) }
    }
}
