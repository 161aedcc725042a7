// The catalog's mirror: SQLite's database and WAL files, as the VFS (CatalogVFS) hands them over,
// kept as full copies on several devices' metadata areas (or, before a pool has any, in the data
// directory). Every write reaches every copy and every sync syncs every copy (in parallel, on a
// ring) before SQLite hears back, so a commit is durable on all copies. WAL writes are gathered
// (`pendingWAL`): a commit's frames reach each copy as one write before its sync (and before any
// read of the WAL), rather than as two writes a frame. Reads come from the first
// copy; a database page whose checksum (PageChecksum) fails is read from the next and the bad copy
// rewritten. A copy whose device fails a write or a sync is dropped from the set, and the set's
// new generation is written to the headers of the copies left; the engine then places a new copy.
//
// Owner and locks: the mirror owns its copies and its file sizes (`state`, held for snapshots
// only). `gate` serializes what changes bytes (writes, syncs, truncates, repairs, copy-set
// changes); SQLite has one writing connection, so it is the writer's own order, held across that
// writer's IO as SQLite's write lock is. Reads never take `gate`.
import Foundation
import Synchronization

package final class CatalogMirror: Sendable {
    enum File: Int32, Sendable { case database = 0, wal = 1 }

    /// SQLite result codes the VFS returns.
    enum Result {
        static let ok: Int32 = 0
        static let full: Int32 = 13
        static let ioRead: Int32 = 10 | 1 << 8
        static let shortRead: Int32 = 10 | 2 << 8
        static let ioWrite: Int32 = 10 | 3 << 8
        static let ioSync: Int32 = 10 | 4 << 8
        static let ioTruncate: Int32 = 10 | 6 << 8
        static let ioData: Int32 = 10 | 32 << 8
    }

    private struct State {
        var copies: [CatalogCopy]
        var databaseSize: Int64
        /// Bytes of the database's pages in use (its size less its free pages), as its header page
        /// says as last written (at a checkpoint).
        var databaseUsed: Int64 = 0
        var walSize: Int64
        var generation: UInt64
        var checksummed: Bool
        /// Descriptors of dropped copies: closed with the mirror (a reader may still hold one).
        var retired: [CatalogCopy] = []
        var checksumFailures = 0
        var repairedPages = 0
        /// Syncs SQLite asked for (each syncs every copy).
        var syncs = 0
        /// crc32c of each page SQLite wrote into the WAL this run, by its offset: a page read back
        /// from the WAL is verified against it (frames from before the start were verified by
        /// their chain, `reconcileWALs` and SQLite's recovery).
        var walSums: [Int64: UInt32] = [:]
        /// The pool the copies belong to (unknown for a new pool until its catalog row exists).
        var poolUUID: UUID?
    }

    /// The most WAL bytes gathered before they are written out.
    static let pendingWALLimit = 1 << 20

    /// WAL bytes written by SQLite and not yet on the copies (one run, touched under `gate`): a
    /// commit's frames (each a 24-byte header, then its page: two writes) are gathered and reach
    /// each copy in one write, at the sync or before anything reads or moves them. One buffer of
    /// `pendingWALLimit` bytes for the mirror's life, filled by copying.
    final class GatheredWAL: @unchecked Sendable {
        // @unchecked: `offset` and `count` change only under the mirror's `gate`; `nonEmpty` is
        // read without it (a reader asks whether to take the gate and write the run out).
        private let storage = UnsafeMutableRawPointer.allocate(byteCount: CatalogMirror.pendingWALLimit, alignment: 16)
        private(set) var offset: Int64 = 0
        private(set) var count = 0
        let nonEmpty = Atomic<Bool>(false)

        deinit { storage.deallocate() }

        var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: count) }

        /// Appends `bytes` written at `offset` when they continue the run (or start it when it is
        /// empty) and fit; false otherwise (the run must be written out first).
        func gather(_ bytes: UnsafeRawBufferPointer, at offset: Int64) -> Bool {
            if count == 0 { self.offset = offset }
            guard self.offset + Int64(count) == offset, count + bytes.count <= CatalogMirror.pendingWALLimit else { return false }
            if let base = bytes.baseAddress { (storage + count).copyMemory(from: base, byteCount: bytes.count) }
            count += bytes.count
            nonEmpty.store(count > 0, ordering: .releasing)
            return true
        }

        func clear() {
            count = 0
            nonEmpty.store(false, ordering: .releasing)
        }
    }

    private let gathered = GatheredWAL()

    /// The path SQLite names the database by; its WAL is this plus "-wal".
    package let path: String
    /// The real file that carries the database's locks and shared memory.
    let lockPath: String
    private let state: Mutex<State>
    private let gate = Mutex<Void>(())
    private let rings: RingPool
    /// Told the device id of a copy dropped for an IO error (outside the mirror's locks).
    private let copyLost: @Sendable (String, String) -> Void
    /// The planted bug `catalogCopiesUnsynced`: SQLite's syncs reach the first copy only.
    private let syncFirstCopyOnly: Bool

    init(
        path: String, lockPath: String, poolUUID: UUID?, copies: [CatalogCopy], generation: UInt64, rings: RingPool,
        syncFirstCopyOnly: Bool = false, copyLost: @escaping @Sendable (String, String) -> Void
    ) {
        self.syncFirstCopyOnly = syncFirstCopyOnly
        self.path = path
        self.lockPath = lockPath
        self.rings = rings
        self.copyLost = copyLost
        precondition(!copies.isEmpty, "a catalog mirror needs a copy")
        let first = copies[0]
        // Sizes as the first copy has them: a file's own size; in an area, the database's size from
        // its header page, and the whole WAL region when it starts with a WAL header (SQLite's
        // recovery reads it up to the first frame that does not belong).
        var databaseSize: Int64 = 0
        var walSize: Int64 = 0
        var checksummed = false
        var page = [UInt8](repeating: 0, count: PageChecksum.pageSize)
        if case .dataDirectory = first.place {
            databaseSize = (try? Syscalls.fileSize(first.database.fd)) ?? 0
            walSize = (try? Syscalls.fileSize(first.wal.fd)) ?? 0
        }
        let header =
            databaseSize >= Int64(PageChecksum.pageSize) || first.area != nil
            ? page.withUnsafeMutableBytes { first.read(.database, into: $0, at: 0) ? SQLiteHeader(UnsafeRawBufferPointer($0)) : nil }
            : nil
        if let header {
            checksummed = PageChecksum.enabled(header)
            if first.area != nil { databaseSize = min(header.bytes, first.database.capacity) }
        }
        if first.area != nil {
            var magic = [UInt8](repeating: 0, count: 4)
            if magic.withUnsafeMutableBytes({ first.read(.wal, into: $0, at: 0) }), magic[0..<3] == [0x37, 0x7F, 0x06], magic[3] & 0xFE == 0x82 {
                walSize = first.wal.capacity
            }
        }
        let used = header?.usedBytes ?? databaseSize
        state = Mutex(
            State(
                copies: copies, databaseSize: databaseSize, databaseUsed: used, walSize: walSize, generation: generation,
                checksummed: checksummed, poolUUID: poolUUID))
    }

    /// The pool the copies' headers name.
    func setPool(_ uuid: UUID) { state.withLock { $0.poolUUID = uuid } }

    // MARK: - What the pool shows

    package struct Figures: Sendable, Equatable {
        package var copies: [String]  // device ids, or "data-directory"
        package var generation: UInt64
        package var databaseBytes: Int64
        /// Of those, in pages in use (not on SQLite's free list).
        package var databaseUsedBytes: Int64
        package var databaseCapacity: Int64
        package var checksumFailures: Int
        package var repairedPages: Int
        package var syncs: Int
    }

    package var figures: Figures {
        state.withLock { state in
            Figures(
                copies: state.copies.map { $0.place.deviceID ?? "data-directory" }, generation: state.generation,
                databaseBytes: state.databaseSize, databaseUsedBytes: state.databaseUsed,
                databaseCapacity: state.copies.map(\.database.capacity).min() ?? 0,
                checksumFailures: state.checksumFailures, repairedPages: state.repairedPages, syncs: state.syncs)
        }
    }

    var copies: [CatalogCopy] { state.withLock { $0.copies } }

    // MARK: - SQLite's file operations (through CatalogVFS)

    func read(_ file: File, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) -> Int32 {
        // WAL bytes still gathered reach the copies before anything is read back.
        if file == .wal, gathered.nonEmpty.load(ordering: .acquiring) {
            let (code, lost) = gate.withLock { _ in flushPendingWALLocked() }
            report(lost)
            if code != Result.ok { return Result.ioRead }
        }
        let (copies, size, checksummed) = state.withLock { ($0.copies, file == .database ? $0.databaseSize : $0.walSize, $0.checksummed) }
        let available = max(0, min(Int64(buffer.count), size - offset))
        let wanted = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(available)])
        if available < buffer.count {
            UnsafeMutableRawBufferPointer(rebasing: buffer[Int(available)...]).initializeMemory(as: UInt8.self, repeating: 0)
        }
        if available > 0 {
            let walSum = file == .wal && available == PageChecksum.pageSize ? state.withLock { $0.walSums[offset] } : nil
            let ok: Bool
            if file == .database && checksummed {
                ok = readVerified(wanted, at: offset, copies: copies, repairInline: false)
            } else if let walSum {
                ok = readWALPage(wanted, at: offset, sum: walSum, copies: copies)
            } else {
                ok = copies.contains { $0.read(file, into: wanted, at: offset) }
            }
            if !ok { return (file == .database && checksummed) || walSum != nil ? Result.ioData : Result.ioRead }
        }
        return available < buffer.count ? Result.shortRead : Result.ok
    }

    func write(_ file: File, _ bytes: UnsafeRawBufferPointer, at offset: Int64) -> Int32 {
        // Fenced (a fleet's pool whose lease is not held): refused before any copy is touched, and
        // no copy is dropped for it.
        guard rings.fence.mayWrite else { return Result.ioWrite }
        var lost: [(CatalogCopy, SyscallError)] = []
        let result: Int32 = gate.withLock { _ in
            let (copies, checksummed) = state.withLock { state in
                if file == .database, offset == 0, let header = SQLiteHeader(bytes) {
                    state.checksummed = PageChecksum.enabled(header)
                    state.databaseUsed = header.usedBytes
                }
                return (state.copies, state.checksummed)
            }
            guard offset >= 0, offset + Int64(bytes.count) <= copies.lazy.map({ $0.region(file).capacity }).min() ?? 0 else { return Result.full }
            let sealed = file == .database && checksummed && bytes.count == PageChecksum.pageSize && offset % Int64(PageChecksum.pageSize) == 0
            if file == .wal {
                let sum = bytes.count == PageChecksum.pageSize ? CRC32C.checksum(bytes) : nil
                state.withLock { state in state.walSums[offset] = sum }
                // Gathered: the run so far is written out first unless this write extends it.
                if !gathered.gather(bytes, at: offset) {
                    let (code, failed) = flushPendingWALLocked()
                    lost = failed
                    if code != Result.ok { return code }
                    if !gathered.gather(bytes, at: offset) {  // larger than the buffer: written now
                        let (code, failed) = writeCopiesLocked(.wal, bytes, at: offset)
                        lost += failed
                        if code != Result.ok { return code }
                    }
                }
            } else {
                var page = sealed ? [UInt8](bytes) : []
                if sealed { page.withUnsafeMutableBytes { PageChecksum.seal($0, pageNumber: PageChecksum.pageNumber(at: offset)) } }
                let (code, failed) =
                    sealed ? page.withUnsafeBytes { writeCopiesLocked(file, $0, at: offset) } : writeCopiesLocked(file, bytes, at: offset)
                lost = failed
                if code != Result.ok { return code }
            }
            state.withLock { state in
                if file == .database {
                    state.databaseSize = max(state.databaseSize, offset + Int64(bytes.count))
                } else {
                    state.walSize = max(state.walSize, offset + Int64(bytes.count))
                }
            }
            return Result.ok
        }
        report(lost)
        return result
    }

    func sync(_ file: File) -> Int32 {
        var lost: [(CatalogCopy, SyscallError)] = []
        let result: Int32 = gate.withLock { _ in
            if file == .wal {
                let (code, failed) = flushPendingWALLocked()
                lost = failed
                if code != Result.ok { return code }
            }
            let copies = state.withLock { state in
                state.syncs += 1
                return state.copies
            }
            let failed = syncLocked(syncFirstCopyOnly ? Array(copies.prefix(1)) : copies, file)
            lost += failed
            if failed.count == copies.count { return Result.ioSync }
            dropLocked(failed.map(\.0))
            return Result.ok
        }
        report(lost)
        return result
    }

    func truncate(_ file: File, to size: Int64) -> Int32 {
        guard rings.fence.mayWrite else { return Result.ioTruncate }
        if file == .wal, size == 0 { return remove(.wal) }
        return gatedAfterWAL(file) {
            let copies = state.withLock { $0.copies }
            for copy in copies where copy.area == nil {
                do {
                    try Syscalls.ftruncate(copy.region(file).fd, size)
                } catch {
                    return Result.ioTruncate
                }
            }
            state.withLock { state in
                if file == .database { state.databaseSize = size } else { state.walSize = size }
            }
            return Result.ok
        }
    }

    func size(_ file: File) -> Int64 {
        state.withLock { file == .database ? $0.databaseSize : $0.walSize }
    }

    /// The file is deleted (SQLite deletes the WAL after the last connection checkpointed it): a
    /// file copy is truncated; in an area the WAL header is zeroed, so that no later open takes
    /// the old frames for a WAL to recover.
    func remove(_ file: File) -> Int32 {
        guard rings.fence.mayWrite else { return Result.ioTruncate }
        return gatedAfterWAL(file) {
            let copies = state.withLock { $0.copies }
            let zeros = [UInt8](repeating: 0, count: WALChain.headerBytes)
            for copy in copies {
                do throws(SyscallError) {
                    if copy.area == nil {
                        try Syscalls.ftruncate(copy.region(file).fd, 0)
                    } else if file == .wal {
                        try copy.write(.wal, zeros, at: 0)
                    }
                } catch {
                    return Result.ioWrite
                }
            }
            state.withLock { state in
                if file == .database {
                    state.databaseSize = 0
                } else {
                    state.walSize = 0
                    state.walSums = [:]
                }
            }
            return Result.ok
        }
    }

    // MARK: - Copies

    /// Makes `copy` a full copy (every byte of the database and the WAL, read verified from the
    /// current copies), syncs it, adds it to the set and writes the new generation to every
    /// area copy's header. SQLite's writes wait meanwhile.
    func add(_ copy: CatalogCopy) throws(EngineError) {
        var lost: [(CatalogCopy, SyscallError)] = []
        defer { report(lost) }
        try gate.withLock { _ throws(EngineError) in
            let (code, failed) = flushPendingWALLocked()
            lost = failed
            if code != Result.ok { throw .catalog("the catalog's WAL could not be written to any copy") }
            let (copies, databaseSize, walSize) = state.withLock { ($0.copies, $0.databaseSize, $0.walSize) }
            guard !copies.contains(copy) else { return }
            guard databaseSize <= copy.database.capacity, walSize <= copy.wal.capacity else {
                throw .noSpace(.pool, needed: databaseSize, available: copy.database.capacity)
            }
            let chunk = 1 << 20
            var buffer = [UInt8](repeating: 0, count: chunk)
            for file in [File.database, .wal] {
                let size = file == .database ? databaseSize : walSize
                var offset: Int64 = 0
                while offset < size {
                    let count = Int(min(Int64(chunk), size - offset))
                    let ok = buffer.withUnsafeMutableBytes { raw in
                        let part = UnsafeMutableRawBufferPointer(rebasing: raw[0..<count])
                        return file == .database && state.withLock({ $0.checksummed })
                            ? readVerified(part, at: offset, copies: copies, repairInline: true)
                            : copies.contains { $0.read(file, into: part, at: offset) }
                    }
                    guard ok else { throw .catalog("no copy of the catalog reads back whole at byte \(offset) of its \(file)") }
                    do throws(SyscallError) {
                        try copy.write(file, buffer, count: count, at: offset)
                    } catch {
                        throw .io(call: error.call, path: copy.place.description, errno: error.errno)
                    }
                    offset += Int64(count)
                }
            }
            if let failure = syncLocked([copy], .database).first?.1 ?? syncLocked([copy], .wal).first?.1 {
                throw .io(call: failure.call, path: copy.place.description, errno: failure.errno)
            }
            state.withLock { $0.copies.append(copy) }
            try writeHeadersLocked()
        }
    }

    /// Drops the copy at `place` (never the last one): the copies left get the new generation.
    /// A device copy's headers are wiped when the device can still be written; a data-directory
    /// copy's files are removed.
    func drop(_ place: CatalogCopy.Place) throws(EngineError) {
        try gate.withLock { _ throws(EngineError) in
            guard let copy = state.withLock({ $0.copies.first { $0.place == place } }) else { return }
            guard state.withLock({ $0.copies.count }) > 1 else { throw .catalog("the last copy of the catalog cannot be dropped") }
            dropLocked([copy])
            try? copy.wipeHeaders()
            if case .dataDirectory(let database, let wal) = place {
                for fd in copy.descriptors { try? Syscalls.ftruncate(fd, 0) }
                // (-shm: left by a version that kept the catalog here.)
                for path in [database, wal, database + "-shm"] { try? Syscalls.unlink(path) }
            }
        }
    }

    /// Every copy's database pages verified; bad pages rewritten from a good copy. Returns the
    /// pages found bad and the pages bad in every copy.
    func scrub() -> (repaired: Int, unreadable: Int) {
        gate.withLock { _ in
            let (copies, size, checksummed) = state.withLock { ($0.copies, $0.databaseSize, $0.checksummed) }
            guard checksummed else { return (0, 0) }
            let before = state.withLock { $0.repairedPages }
            var unreadable = 0
            var page = [UInt8](repeating: 0, count: PageChecksum.pageSize)
            var offset: Int64 = 0
            while offset < size {
                let ok = page.withUnsafeMutableBytes { readVerified($0, at: offset, copies: copies, repairInline: true, checkEveryCopy: true) }
                if !ok { unreadable += 1 }
                offset += Int64(PageChecksum.pageSize)
            }
            return (state.withLock { $0.repairedPages } - before, unreadable)
        }
    }

    /// Problems of the copies, nothing changed: database pages failing their checksum, per copy.
    func verify() -> [String] {
        let (copies, size, checksummed) = state.withLock { ($0.copies, $0.databaseSize, $0.checksummed) }
        guard checksummed else { return [] }
        var problems: [String] = []
        var page = [UInt8](repeating: 0, count: PageChecksum.pageSize)
        for copy in copies {
            var bad = 0
            var offset: Int64 = 0
            while offset < size {
                let valid = page.withUnsafeMutableBytes { raw in
                    copy.read(.database, into: raw, at: offset)
                        && PageChecksum.verify(UnsafeRawBufferPointer(raw), pageNumber: PageChecksum.pageNumber(at: offset))
                }
                if !valid { bad += 1 }
                offset += Int64(PageChecksum.pageSize)
            }
            if bad > 0 {
                problems.append("the catalog's copy on \(copy.place): \(bad) of \(size / Int64(PageChecksum.pageSize)) pages fail their checksum")
            }
        }
        return problems
    }

    /// Compares the copies' WALs (before SQLite opens): the longest whole committed WAL wins and is
    /// written over the others, so a copy with a lost or garbled frame cannot cut commits short.
    func reconcileWALs() throws(EngineError) {
        try gate.withLock { _ throws(EngineError) in
            let copies = state.withLock { $0.copies }
            guard copies.count > 1 else { return }
            let lengths = copies.map { copy in
                WALChain.committedLength(capacity: copy.wal.capacity) { buffer, offset in copy.read(.wal, into: buffer, at: offset) }
            }
            guard let best = lengths.indices.max(by: { lengths[$0] < lengths[$1] }), lengths[best] > 0 else { return }
            var bytes = [UInt8](repeating: 0, count: Int(lengths[best]))
            guard bytes.withUnsafeMutableBytes({ copies[best].read(.wal, into: $0, at: 0) }) else { return }
            for (index, copy) in copies.enumerated() where index != best && lengths[index] != lengths[best] {
                do throws(SyscallError) {
                    try copy.write(.wal, bytes, at: 0)
                    if let failure = syncLocked([copy], .wal).first { throw failure.1 }
                } catch {
                    throw .io(call: error.call, path: copy.place.description, errno: error.errno)
                }
            }
            // SQLite reads the WAL from the first copy: the winner's bytes are now there too.
        }
    }

    /// Stops serving SQLite (the VFS forgets this mirror) and closes every copy's descriptors
    /// (after the catalog is closed).
    func close() {
        let (_, lost) = gate.withLock { _ in flushPendingWALLocked() }
        report(lost)
        CatalogVFS.unregister(self)
        let all = state.withLock { state in
            let all = state.copies + state.retired
            state.copies = []
            state.retired = []
            return all
        }
        var closed = Set<Int32>()
        for copy in all {
            for fd in copy.descriptors where closed.insert(fd).inserted { Syscalls.close(fd) }
        }
    }

    // MARK: - Inside the gate

    /// Reads `buffer.count` bytes of the database at `offset`, page by page verified, trying each
    /// copy in turn; pages found bad in a copy are rewritten there from the good one (at once when
    /// the caller holds the gate, else by taking it). False when some page is bad in every copy.
    private func readVerified(
        _ buffer: UnsafeMutableRawBufferPointer, at offset: Int64, copies: [CatalogCopy], repairInline: Bool, checkEveryCopy: Bool = false
    ) -> Bool {
        let pageSize = Int64(PageChecksum.pageSize)
        // SQLite's usual read, one whole page from the first copy, verified where it landed.
        if !checkEveryCopy, buffer.count == PageChecksum.pageSize, offset % pageSize == 0, let primary = copies.first,
            primary.read(.database, into: buffer, at: offset),
            PageChecksum.verify(UnsafeRawBufferPointer(buffer), pageNumber: PageChecksum.pageNumber(at: offset))
        {
            return true
        }
        let first = offset / pageSize * pageSize
        let end = offset + Int64(buffer.count)
        var page = [UInt8](repeating: 0, count: PageChecksum.pageSize)
        var bad: [(copy: CatalogCopy, offset: Int64, page: [UInt8])] = []
        var whole = true
        var pageOffset = first
        while pageOffset < end {
            let number = PageChecksum.pageNumber(at: pageOffset)
            var good = false
            var badHere: [CatalogCopy] = []
            for copy in copies {
                let valid = page.withUnsafeMutableBytes { raw in
                    copy.read(.database, into: raw, at: pageOffset) && PageChecksum.verify(UnsafeRawBufferPointer(raw), pageNumber: number)
                }
                if valid {
                    good = true
                    if !checkEveryCopy { break }
                } else {
                    badHere.append(copy)
                }
            }
            if good {
                let from = max(offset, pageOffset)
                let to = min(end, pageOffset + pageSize)
                page.withUnsafeBytes { raw in
                    UnsafeMutableRawBufferPointer(rebasing: buffer[Int(from - offset)..<Int(to - offset)])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[Int(from - pageOffset)..<Int(to - pageOffset)]))
                }
                for copy in badHere { bad.append((copy, pageOffset, page)) }
            } else {
                whole = false
            }
            state.withLock { $0.checksumFailures += badHere.count }
            pageOffset += pageSize
        }
        if !bad.isEmpty {
            if repairInline {
                repairLocked(bad)
            } else {
                gate.withLock { _ in repairLocked(bad) }
            }
        }
        return whole
    }

    /// A page of the WAL read from the first copy whose bytes match the sum it was written with;
    /// the copies that did not are rewritten from it.
    private func readWALPage(_ buffer: UnsafeMutableRawBufferPointer, at offset: Int64, sum: UInt32, copies: [CatalogCopy]) -> Bool {
        var bad: [CatalogCopy] = []
        var good = false
        for copy in copies {
            if copy.read(.wal, into: buffer, at: offset), CRC32C.checksum(UnsafeRawBufferPointer(buffer)) == sum {
                good = true
                break
            }
            bad.append(copy)
        }
        state.withLock { $0.checksumFailures += bad.count }
        guard good, !bad.isEmpty else { return good }
        let page = [UInt8](UnsafeRawBufferPointer(buffer))
        gate.withLock { _ in
            let current = state.withLock { $0.copies }
            var repaired = 0
            for copy in bad where current.contains(copy) {
                if (try? copy.write(.wal, page, at: offset)) != nil { repaired += 1 }
            }
            _ = syncLocked(bad.filter { current.contains($0) }, .wal)
            state.withLock { $0.repairedPages += repaired }
        }
        return true
    }

    private func repairLocked(_ pages: [(copy: CatalogCopy, offset: Int64, page: [UInt8])]) {
        let current = state.withLock { $0.copies }
        var repaired = 0
        for entry in pages where current.contains(entry.copy) {
            let ok = (try? entry.copy.write(.database, entry.page, at: entry.offset)) != nil
            if ok { repaired += 1 }
        }
        let touched = Array(Set(pages.map(\.copy.place.description))).compactMap { name in current.first { $0.place.description == name } }
        _ = syncLocked(touched, .database)
        state.withLock { $0.repairedPages += repaired }
    }

    /// Writes `bytes` at `offset` of `file` to every copy; the copies that fail are dropped, unless
    /// every one failed (then nothing is dropped and the write fails).
    private func writeCopiesLocked(_ file: File, _ bytes: UnsafeRawBufferPointer, at offset: Int64) -> (Int32, [(CatalogCopy, SyscallError)]) {
        let copies = state.withLock { $0.copies }
        var lost: [(CatalogCopy, SyscallError)] = []
        for copy in copies {
            do throws(SyscallError) {
                try copy.write(file, bytes, at: offset)
            } catch {
                lost.append((copy, error))
            }
        }
        if lost.count == copies.count { return (Result.ioWrite, lost) }
        dropLocked(lost.map(\.0))
        return (Result.ok, lost)
    }

    /// Runs `body` in the gate, once the gathered WAL bytes are on the copies when `file` is the WAL.
    private func gatedAfterWAL(_ file: File, _ body: () -> Int32) -> Int32 {
        var lost: [(CatalogCopy, SyscallError)] = []
        defer { report(lost) }
        return gate.withLock { _ in
            if file == .wal {
                let (code, failed) = flushPendingWALLocked()
                lost = failed
                if code != Result.ok { return code }
            }
            return body()
        }
    }

    /// The gathered WAL bytes written out to every copy.
    private func flushPendingWALLocked() -> (Int32, [(CatalogCopy, SyscallError)]) {
        guard gathered.count > 0 else { return (Result.ok, []) }
        defer { gathered.clear() }
        return writeCopiesLocked(.wal, gathered.bytes, at: gathered.offset)
    }

    /// Syncs `file` on every copy in `copies` at once (one ring batch); the copies that failed.
    private func syncLocked(_ copies: [CatalogCopy], _ file: File) -> [(CatalogCopy, SyscallError)] {
        var seen = Set<Int32>()
        let targets = copies.filter { seen.insert($0.region(file).fd).inserted }
        guard !targets.isEmpty else { return [] }
        let results = rings.flush(targets.map { .fdatasync(fd: $0.region(file).fd) })
        var failed: [(CatalogCopy, SyscallError)] = []
        for (copy, result) in zip(targets, results) {
            if case .failure(let error) = result { failed.append((copy, error)) }
        }
        return failed
    }

    /// Takes `lost` out of the set and, if any, writes the new generation to the copies left.
    private func dropLocked(_ lost: [CatalogCopy]) {
        guard !lost.isEmpty else { return }
        state.withLock { state in
            state.copies.removeAll { lost.contains($0) }
            state.retired += lost
        }
        try? writeHeadersLocked()
    }

    /// A new generation, with the current set, on every area copy's header.
    private func writeHeadersLocked() throws(EngineError) {
        let (copies, generation, pool) = state.withLock { state in
            state.generation += 1
            return (state.copies, state.generation, state.poolUUID)
        }
        guard let pool else { throw .catalog("the catalog's pool is not known yet") }
        let uuids = copies.compactMap(\.deviceUUID)
        for copy in copies {
            guard let uuid = copy.deviceUUID, let area = copy.area else { continue }
            do {
                try copy.writeHeader(
                    MetadataAreaFormat.Header(
                        generation: generation, poolUUID: pool, deviceUUID: uuid, areaBytes: area.bytes, copies: uuids))
            } catch {
                throw .io(call: error.call, path: copy.place.description, errno: error.errno)
            }
        }
    }

    private func report(_ lost: [(CatalogCopy, SyscallError)]) {
        for (copy, error) in lost {
            copyLost(copy.place.deviceID ?? "data-directory", "\(error.call): \(Syscalls.describe(errno: error.errno))")
        }
    }
}
