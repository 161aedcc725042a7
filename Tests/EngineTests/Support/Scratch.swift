// Temporary directories, sparse device files and engines for the Engine tests.
@testable import Engine
import Foundation
import Logging

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

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[0] = 0xFF  // Never the superblock magic, never all zero.
        return bytes
    }

    /// An engine whose data directory is `<directory>/<name>`; the caller shuts it down.
    static func engine(_ directory: URL, _ name: String = "data") throws -> Engine {
        try Engine.open(
            dataDirectory: directory.appending(path: name).path,
            logger: Logger(label: "engine-tests", factory: { _ in SwiftLogNoOpLogHandler() }))
    }
}
