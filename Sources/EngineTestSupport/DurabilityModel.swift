// The power-cut model, an IO observer (Engine/Ring/IOObserver.swift) that only test builds link: after
// RocksDB's FaultInjectionTestFS, SQLite's crash-test VFS and FoundationDB's AsyncFileNonDurable.
// Every write and truncate of a file under `root` (devices through Syscalls and the ring, the
// catalog through the SQLite VFS in CSQLiteVFS) is recorded with the bytes it replaced; it becomes
// durable only once a sync of that file that was issued after it completed has completed. At a
// durability barrier (a sync about to be issued) the model can take an image: a copy of every file
// under `root` as a disk would hold it after a power cut at that instant, each write not yet
// durable dropped, kept or torn at sector granularity (seeded). The catalog's WAL and database are
// cut at the same instant as the devices. The -shm file (shared memory, rebuilt from the WAL) is
// left out. File creation and deletion are not modelled: a file exists once created.
import CSQLiteVFS
import Engine
import Foundation
import Glibc
import Synchronization

package final class DurabilityModel: IOObserver {
    /// A write or truncate not yet covered by a completed sync.
    struct Pending {
        var path: String
        var offset: Int64  // a truncate: the new size
        var newBytes: [UInt8]
        /// What the operation replaced: a write's old bytes inside the old size, a truncate's cut tail.
        var oldBytes: [UInt8]
        var oldSize: Int64
        var isTruncate: Bool
        var completed = false
    }

    private struct State {
        var nextToken: Int64 = 1
        var pending: [Int64: Pending] = [:]
        var syncs: [Int64: [Int64]] = [:]  // a sync in progress → the writes it covers
        var paths: [Int32: String] = [:]  // tracked fds
        var readers: [String: Int32] = [:]  // the model's own read-only fds, for old bytes
        var durableEnd: [String: Int64] = [:]  // past the end of every durable write, per file
        var barriers = 0
        var images = 0
        var pendingAtImages = 0
    }

    /// What a run of the model saw.
    package struct Figures: Sendable {
        package var barriers: Int
        package var images: Int
        /// Writes not yet durable, summed over the images (each one dropped, kept or torn).
        package var undurableWrites: Int
    }

    package let root: String
    private let seed: UInt64
    private let sector: Int
    /// Barrier number (1, 2, …) → the directory for an image of that instant, or nil for none.
    private let plan: @Sendable (Int) -> String?
    private let state = Lock(State())

    /// The running model, for the SQLite VFS's C hooks (which carry no context pointer).
    private static let current = Lock<DurabilityModel?>(nil)

    private init(root: String, seed: UInt64, sector: Int, plan: @escaping @Sendable (Int) -> String?) {
        self.root = root.hasSuffix("/") ? root : root + "/"
        self.seed = seed
        self.sector = sector
        self.plan = plan
    }

    /// Starts recording files under `root` (one model at a time per process). `sector`: the
    /// tearing granularity (512 or 4096).
    package static func start(root: String, seed: UInt64, sector: Int = 4096, plan: @escaping @Sendable (Int) -> String?) -> DurabilityModel {
        let model = DurabilityModel(root: root, seed: seed, sector: sector, plan: plan)
        current.withLock { current in
            precondition(current == nil, "one durability model at a time")
            current = model
        }
        var hooks = appliance_vfs_hooks(
            before_write: { path, bytes, amount, offset in
                DurabilityModel.model(for: path).map {
                    $0.willWrite(String(cString: path!), UnsafeRawBufferPointer(start: bytes, count: Int(amount)), offset: offset)
                } ?? 0
            },
            before_truncate: { path, size in
                DurabilityModel.model(for: path).map { $0.willTruncate(String(cString: path!), to: size) } ?? 0
            },
            before_sync: { path in
                DurabilityModel.model(for: path).map { $0.willSync(String(cString: path!)) } ?? 0
            },
            after: { token, ok in
                if token != 0 { DurabilityModel.current.withLock { $0 }?.finish(token, ok: ok != 0) }
            })
        let rc = appliance_vfs_install(&hooks)
        precondition(rc == 0, "the SQLite VFS of the durability model did not register: \(rc)")
        IOObservation.install(model)
        return model
    }

    /// Stops recording; what the run saw.
    @discardableResult
    package func stop() -> Figures {
        IOObservation.install(nil)
        _ = appliance_vfs_install(nil)
        Self.current.withLock { $0 = nil }
        return state.withLock { state in
            for fd in state.readers.values { _ = Glibc.close(fd) }
            state.readers = [:]
            return Figures(barriers: state.barriers, images: state.images, undurableWrites: state.pendingAtImages)
        }
    }

    /// Barriers so far (the crash test's clock).
    package var barriers: Int { state.withLock { $0.barriers } }

    private static func model(for path: UnsafePointer<CChar>?) -> DurabilityModel? {
        guard let path, let model = current.withLock({ $0 }) else { return nil }
        return String(cString: path).hasPrefix(model.root) ? model : nil
    }

    // MARK: IOObserver (Syscalls and the ring)

    package func opened(_ fd: Int32, path: String) {
        guard path.hasPrefix(root) else { return }
        state.withLock { $0.paths[fd] = path }
    }

    package func closed(_ fd: Int32) {
        state.withLock { _ = $0.paths.removeValue(forKey: fd) }
    }

    package func willWrite(fd: Int32, _ bytes: UnsafeRawBufferPointer, offset: Int64) -> Int64 {
        guard let path = state.withLock({ $0.paths[fd] }) else { return 0 }
        return willWrite(path, bytes, offset: offset)
    }

    package func willSync(fd: Int32) -> Int64 {
        guard let path = state.withLock({ $0.paths[fd] }) else { return 0 }
        return willSync(path)
    }

    package func willTruncate(fd: Int32, to size: Int64) -> Int64 {
        guard let path = state.withLock({ $0.paths[fd] }) else { return 0 }
        return willTruncate(path, to: size)
    }

    // MARK: Recording

    private func willWrite(_ path: String, _ bytes: UnsafeRawBufferPointer, offset: Int64) -> Int64 {
        state.withLock { state in
            let reader = Self.reader(&state, path)
            let size = Self.size(reader)
            let oldCount = Int(max(0, min(Int64(bytes.count), size - offset)))
            let old = Self.read(reader, count: oldCount, at: offset)
            return Self.record(&state, Pending(path: path, offset: offset, newBytes: Array(bytes), oldBytes: old, oldSize: size, isTruncate: false))
        }
    }

    private func willTruncate(_ path: String, to size: Int64) -> Int64 {
        state.withLock { state in
            let reader = Self.reader(&state, path)
            let oldSize = Self.size(reader)
            let tail = oldSize > size ? Self.read(reader, count: Int(oldSize - size), at: size) : []
            return Self.record(&state, Pending(path: path, offset: size, newBytes: [], oldBytes: tail, oldSize: oldSize, isTruncate: true))
        }
    }

    private func willSync(_ path: String) -> Int64 {
        state.withLock { state in
            state.barriers += 1
            if let directory = plan(state.barriers) { takeImage(&state, into: directory) }
            let token = state.nextToken
            state.nextToken += 1
            state.syncs[token] = state.pending.filter { $0.value.path == path && $0.value.completed }.map(\.key)
            return token
        }
    }

    package func finish(_ token: Int64, ok: Bool) {
        state.withLock { state in
            if let covered = state.syncs.removeValue(forKey: token) {
                guard ok else { return }
                for write in covered {
                    guard let entry = state.pending.removeValue(forKey: write) else { continue }
                    if !entry.isTruncate {
                        state.durableEnd[entry.path] = max(state.durableEnd[entry.path] ?? 0, entry.offset + Int64(entry.newBytes.count))
                    }
                }
            } else {
                // A failed write may have changed any part of its range: it stays not durable either way.
                state.pending[token]?.completed = true
            }
        }
    }

    private static func record(_ state: inout State, _ entry: Pending) -> Int64 {
        let token = state.nextToken
        state.nextToken += 1
        state.pending[token] = entry
        return token
    }

    /// The model's own fd for `path`: O_DIRECT where the file allows it, so that what it reads is
    /// what the device holds even while the engine's O_DIRECT writes race it (a buffered read
    /// racing an O_DIRECT write can leave stale pages in the page cache).
    private static func reader(_ state: inout State, _ path: String) -> Int32 {
        if let fd = state.readers[path] { return fd }
        var fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | Syscalls.oDirect)
        if fd < 0 { fd = Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        if fd >= 0 { state.readers[path] = fd }
        return fd
    }

    private static func size(_ fd: Int32) -> Int64 {
        var st = stat()
        return fd >= 0 && Glibc.fstat(fd, &st) == 0 ? Int64(st.st_size) : 0
    }

    /// `count` bytes at `offset` (zeros past the end), read in whole aligned blocks.
    private static func read(_ fd: Int32, count: Int, at offset: Int64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard count > 0, fd >= 0 else { return bytes }
        let block: Int64 = 4096
        let start = offset / block * block
        let end = (offset + Int64(count) + block - 1) / block * block
        let buffer = AlignedBuffer(count: Int(end - start))
        var done = 0
        while done < buffer.count {
            let n = Glibc.pread(fd, buffer.bytes.baseAddress! + done, buffer.count - done, off_t(start) + off_t(done))
            if n <= 0 { break }
            done += n
        }
        let skip = Int(offset - start)
        let available = max(0, min(count, done - skip))
        if available > 0 {
            bytes.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer.bytes[skip..<skip + available])) }
        }
        return withExtendedLifetime(buffer) { bytes }
    }

    // MARK: Images

    /// Copies every file under `root` into `directory` (same relative paths), then rewinds each
    /// write not yet durable and replays it kept, dropped or torn.
    private func takeImage(_ state: inout State, into directory: String) {
        state.images += 1
        state.pendingAtImages += state.pending.count
        var random = SplitMix(state: seed &+ UInt64(state.barriers) &* 0x9E37_79B9_7F4A_7C15)
        let files = Self.files(under: root)
        for relative in files where !relative.hasSuffix("-shm") {
            Self.sparseCopy(from: root + relative, to: directory + "/" + relative)
        }
        let ordered = state.pending.sorted { $0.key < $1.key }.map(\.value)
        var handles: [String: Int32] = [:]
        defer { for fd in handles.values { _ = Glibc.close(fd) } }
        func handle(_ path: String) -> Int32 {
            if let fd = handles[path] { return fd }
            let target = directory + "/" + String(path.dropFirst(root.count))
            let fd = Glibc.open(target, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            handles[path] = fd
            return fd
        }
        // Back to what was durable: newest first.
        for entry in ordered.reversed() {
            let fd = handle(entry.path)
            guard fd >= 0 else { continue }
            Self.write(fd, entry.oldBytes, at: entry.isTruncate ? entry.offset : entry.offset)
            let floor = state.durableEnd[entry.path] ?? 0
            _ = Glibc.ftruncate(fd, off_t(max(entry.oldSize, entry.isTruncate ? entry.oldSize : floor)))
        }
        // Forward again, each one kept, dropped or torn.
        for entry in ordered {
            let fd = handle(entry.path)
            guard fd >= 0 else { continue }
            switch Int.random(in: 0..<3, using: &random) {
            case 0:  // dropped
                continue
            case 1:  // kept
                if entry.isTruncate {
                    _ = Glibc.ftruncate(fd, off_t(entry.offset))
                } else {
                    Self.write(fd, entry.newBytes, at: entry.offset)
                }
            default:  // torn: each sector it touches kept or not (a truncate happens or not)
                if entry.isTruncate {
                    if Bool.random(using: &random) { _ = Glibc.ftruncate(fd, off_t(entry.offset)) }
                    continue
                }
                let end = entry.offset + Int64(entry.newBytes.count)
                var start = entry.offset
                while start < end {
                    let boundary = min(end, (start / Int64(sector) + 1) * Int64(sector))
                    if Bool.random(using: &random) {
                        let from = Int(start - entry.offset)
                        Self.write(fd, Array(entry.newBytes[from..<from + Int(boundary - start)]), at: start)
                    }
                    start = boundary
                }
            }
        }
    }

    private static func write(_ fd: Int32, _ bytes: [UInt8], at offset: Int64) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done)) }
            if n <= 0 { return }
            done += n
        }
    }

    /// Regular files under `root`, relative to it.
    private static func files(under root: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            var st = stat()
            if Glibc.lstat(root + relative, &st) == 0, st.st_mode & S_IFMT == S_IFREG { found.append(relative) }
        }
        return found
    }

    private static let seekData: Int32 = 3  // SEEK_DATA (Linux)
    private static let seekHole: Int32 = 4  // SEEK_HOLE

    /// Copies a file's data extents only (SEEK_DATA / SEEK_HOLE), so sparse devices stay sparse.
    package static func sparseCopy(from source: String, to target: String) {
        try? FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var input = Glibc.open(source, O_RDONLY | O_CLOEXEC | Syscalls.oDirect)  // see `reader`
        if input < 0 { input = Glibc.open(source, O_RDONLY | O_CLOEXEC) }
        guard input >= 0 else { return }
        defer { _ = Glibc.close(input) }
        let output = Glibc.open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else { return }
        defer { _ = Glibc.close(output) }
        let size = size(input)
        let chunk = 1 << 20
        var at: off_t = 0
        while at < size {
            let data = lseek(input, at, Self.seekData)
            if data < 0 { break }
            let hole = min(lseek(input, data, Self.seekHole), off_t(size))
            var offset = data / 4096 * 4096
            while offset < hole {
                let want = Int(min(Int64(chunk), (Int64(hole) - Int64(offset) + 4095) / 4096 * 4096))
                let bytes = read(input, count: want, at: Int64(offset))
                let keep = min(bytes.count, Int(hole - offset))
                _ = bytes.withUnsafeBytes { Glibc.pwrite(output, $0.baseAddress, keep, offset) }
                offset += off_t(keep)
            }
            at = max(hole, at + 1)
        }
        _ = Glibc.ftruncate(output, off_t(size))
    }
}
