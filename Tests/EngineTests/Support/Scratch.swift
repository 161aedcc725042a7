import Foundation
import Logging

// Temporary directories, sparse device files and engines for the Engine tests.
@testable import Engine

enum Scratch {
    static let mebibyte: Int64 = 1 << 20

    /// A fresh directory under the system temporary directory; the caller removes it in `defer`.
    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.resolvingSymlinksInPath()
            .appending(path: "engine-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func remove(_ url: URL) { try? FileManager.default.removeItem(at: url) }

    /// A sparse file of `size` bytes, optionally starting with `header`.
    @discardableResult
    static func file(_ directory: URL, _ name: String, size: Int64 = 128 << 20, header: [UInt8] = []) throws -> String {
        let path = directory.appending(path: name).path
        guard FileManager.default.createFile(atPath: path, contents: Data(header)) else {
            throw CocoaError(.fileWriteUnknown)
        }
        let handle = try FileHandle(forWritingTo: URL(filePath: path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: UInt64(size))
        return path
    }

    /// The first superblock-sized block of the file at `path`, read through the page cache.
    static func header(_ path: String) throws -> [UInt8] {
        let handle = try FileHandle(forReadingFrom: URL(filePath: path))
        defer { try? handle.close() }
        return Array(try handle.read(upToCount: SuperblockFormat.blockSize) ?? Data())
    }

    static func decodedHeader(_ path: String) throws -> SuperblockFormat.Decoded {
        try header(path).withUnsafeBytes { SuperblockFormat.decode($0) }
    }

    /// `count` pseudo-random bytes from `seed`, 8 at a time: for the tens of MiB that
    /// `randomBytes` would take seconds to make in a debug build.
    static func splitMixBytes(_ count: Int, seed: UInt64 = 0x5EED) -> [UInt8] {
        var generator = SplitMix(state: seed)
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            for offset in stride(from: 0, to: count - count % 8, by: 8) {
                raw.storeBytes(of: generator.next(), toByteOffset: offset, as: UInt64.self)
            }
            for offset in count - count % 8..<count { raw[offset] = UInt8(truncatingIfNeeded: generator.next()) }
        }
        return bytes
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[0] = 0xFF  // Never the superblock magic, never all zero.
        return bytes
    }

    /// An engine whose data directory is `<directory>/<name>`; the caller shuts it down.
    static func engine(_ directory: URL, _ name: String = "data", devicePaths: [String] = [], metadataCopies: Int = 3) throws -> Engine {
        try Engine.open(
            dataDirectory: directory.appending(path: name).path,
            logger: Logger(label: "engine-tests", factory: { _ in SwiftLogNoOpLogHandler() }), metadataCopies: metadataCopies,
            devicePaths: devicePaths)
    }

    /// An engine with `devices` sparse device files (a.img, b.img, …) of `deviceSize` bytes and
    /// one thin volume; the caller shuts it down.
    static func engine(
        _ directory: URL, devices: Int, deviceSize: Int64 = 128 << 20, volume: String, capacity: Int64 = 64 << 20, replicas: Int64 = 1
    ) throws -> (Engine, [DeviceInfo]) {
        let engine = try engine(directory)
        let added = try (0..<devices).map { i in
            try engine.addDevice(
                path: try file(directory, "\(Character(UnicodeScalar(UInt8(97 + i)))).img", size: deviceSize), label: nil, force: false)
        }
        _ = try engine.createVolume(name: volume, capacityBytes: capacity, replicas: replicas, provisioning: .thin)
        return (engine, added)
    }

    /// Uploads `data` as `key` through the direct writer.
    /// A buffered PUT (or, with `mode: .patch`, a PATCH) of `data`, finished `sync` or async; the
    /// finished upload is returned for tests that watch what it still holds.
    @discardableResult
    static func bufferedUpload(
        _ engine: Engine, _ volume: String, _ key: String, _ data: [UInt8], mode: BufferedUpload.Mode = .replace, sync: Bool
    ) throws -> BufferedUpload {
        let upload = try engine.beginBufferedUpload(volume: volume, key: key, contentType: nil, length: Int64(data.count), mode: mode)!
        try data.withUnsafeBytes { try upload.append($0) }
        _ = try upload.finish(sync: sync)
        return upload
    }

    static func upload(_ engine: Engine, _ volume: String, _ key: String, _ data: [UInt8], cacheThrough: Bool = false) throws {
        let writer = try engine.beginUpload(volume: volume, key: key, contentType: nil, length: Int64(data.count), cacheThrough: cacheThrough)
        try data.withUnsafeBytes { try writer.append($0) }
        _ = try writer.commit()
    }

    /// A PUT of random bytes, of a size picked from `sizes`, through a path picked at random
    /// (buffered and durable, buffered and async, direct), as the model tests make them.
    static func putOnAnyPath(
        _ engine: Engine, _ volume: String, _ key: String, sizes: [Int], random: inout SplitMix
    ) throws -> (bytes: [UInt8], info: ObjectInfo) {
        let size = sizes[Int(random.next() % UInt64(sizes.count))]
        let bytes = splitMixBytes(size, seed: random.next())
        var options = [WriteOptions(io: .buffered, sync: true), WriteOptions(io: .buffered, sync: false), WriteOptions(io: .direct, sync: true)][
            Int(random.next() % 3)]
        options.length = Int64(size)
        let upload = try engine.openWrite(volume: volume, key: key, options)
        try bytes.withUnsafeBytes { try upload.append($0) }
        return (bytes, try upload.commit(etag: nil))
    }

    /// Runs `body(i)` for i in 0..<count, each on a thread of its own (concurrentPerform may run
    /// them one after another on two cores), and waits for all.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            Thread {
                body(i)
                group.leave()
            }.start()
        }
        group.wait()
    }

    /// `count` bytes (all to the end by default) of `key` from `offset`, read directly from disk
    /// and verified.
    static func readObject(_ engine: Engine, _ volume: String, _ key: String, offset: Int64 = 0, count: Int? = nil) throws -> [UInt8] {
        let reader = try engine.openObject(volume: volume, key: key)
        defer { reader.close() }
        let total = count ?? Int(reader.info.size - offset)
        return try readAll(count: total, chunk: 1 << 20) { at, buffer in try reader.read(at: offset + at, into: buffer) }
    }

    /// `count` bytes read through `read(offset, destination)` at most `chunk` at a time, up to
    /// the first empty read; bytes never read keep `fill`.
    static func readAll(
        count: Int, chunk: Int = .max, fill: UInt8 = 0, _ read: (Int64, UnsafeMutableRawBufferPointer) throws -> Int
    ) rethrows -> [UInt8] {
        var bytes = [UInt8](repeating: fill, count: count)
        var at = 0
        while at < count {
            let end = at + min(count - at, chunk)
            let n = try bytes.withUnsafeMutableBytes { try read(Int64(at), UnsafeMutableRawBufferPointer(rebasing: $0[at..<end])) }
            if n == 0 { break }
            at += n
        }
        return bytes
    }
}
