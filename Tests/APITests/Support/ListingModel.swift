import Foundation
import Logging

// For the listing property tests: an engine with one volume holding awkward keys (combining marks,
// CR/LF, emoji, U+10FFFF, '/'), some committed and some only in the cache, and the byte-wise model
// of a listing that the catalog's order implies.
@testable import API
@testable import Engine

struct ListingModel {
    enum Entry: Equatable, CustomStringConvertible {
        case key([UInt8])
        case prefix([UInt8])

        var description: String {
            switch self {
            case .key(let bytes): "key \(String(decoding: bytes, as: UTF8.self).debugDescription)"
            case .prefix(let bytes): "prefix \(String(decoding: bytes, as: UTF8.self).debugDescription)"
            }
        }
    }

    /// Pieces keys, prefixes and delimiters are made of: a key is a few of them.
    static let pieces = [
        "e", "e\u{0301}", "\u{0301}", "\u{E9}", "a", "b", "/", "/", "\r", "\n", "\r\n", "\u{1F600}", "\u{1F1EB}\u{1F1F7}", "%", "_",
        "\u{10FFFF}",
    ]
    static let delimiters = ["/", "\r", "\n", "\r\n", "e", "\u{0301}", "\u{1F600}", "/a", "\u{10FFFF}"]

    var keys: [String]

    static func randomKey(_ random: inout some RandomNumberGenerator) -> String {
        (0..<Int.random(in: 1...6, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
    }

    /// A prefix: empty, a cut of a key at any scalar (inside a grapheme too), or made up.
    func randomPrefix(_ random: inout some RandomNumberGenerator) -> String {
        switch Int.random(in: 0..<4, using: &random) {
        case 0: return ""
        case 1: return Self.randomKey(&random)
        default:
            let scalars = Array(keys.randomElement(using: &random)!.unicodeScalars)
            var prefix = String.UnicodeScalarView()
            prefix.append(contentsOf: scalars.prefix(Int.random(in: 0...scalars.count, using: &random)))
            return String(prefix)
        }
    }

    /// Every entry a listing of `prefix` grouped by `delimiter` holds, in order: keys are
    /// compared, matched and cut as UTF-8 bytes, as SQLite does.
    func entries(prefix: String, delimiter: String) -> [Entry] {
        let prefixBytes = Array(prefix.utf8)
        let delimiterBytes = Array(delimiter.utf8)
        var out: [Entry] = []
        for key in keys.map({ Array($0.utf8) }).sorted(by: { $0.lexicographicallyPrecedes($1) }) where key.starts(with: prefixBytes) {
            var entry = Entry.key(key)
            if !delimiterBytes.isEmpty, delimiterBytes.count <= key.count - prefixBytes.count {
                for start in prefixBytes.count...(key.count - delimiterBytes.count)
                where key[start..<start + delimiterBytes.count].elementsEqual(delimiterBytes) {
                    entry = .prefix(Array(key[..<(start + delimiterBytes.count)]))
                    break
                }
            }
            if out.last != entry { out.append(entry) }
        }
        return out
    }
}

/// An engine in a temporary directory with one device and volume `bkt`.
final class ListingEngine {
    let directory: URL
    let engine: Engine
    static let volume = "bkt"

    init() throws {
        directory = FileManager.default.temporaryDirectory.appending(path: "listing-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        engine = try Engine.open(
            dataDirectory: directory.appending(path: "data").path, logger: Logger(label: "listing-tests", factory: { _ in SwiftLogNoOpLogHandler() }))
        let device = directory.appending(path: "a.img").path
        FileManager.default.createFile(atPath: device, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(filePath: device))
        try handle.truncate(atOffset: 256 << 20)
        try handle.close()
        _ = try engine.addDevice(path: device, label: nil, force: false)
        _ = try engine.createVolume(name: Self.volume, capacityBytes: 128 << 20, replicas: 1, provisioning: .thin)
    }

    /// Stores `keys`: every third one is a buffered PUT acknowledged before it is written back
    /// (listings merge those from the cache).
    func store(_ keys: [String]) throws {
        for (index, key) in keys.enumerated() {
            let data: [UInt8] = [UInt8(truncatingIfNeeded: index)]
            if index % 3 == 2 {
                let upload = try engine.beginBufferedUpload(volume: Self.volume, key: key, contentType: nil, length: 1, mode: .replace)!
                try data.withUnsafeBytes { try upload.append($0) }
                _ = try upload.finish(sync: false)
            } else {
                let writer = try engine.beginUpload(volume: Self.volume, key: key, contentType: nil, length: 1)
                try data.withUnsafeBytes { try writer.append($0) }
                _ = try writer.commit()
            }
        }
    }

    /// `count` distinct keys (distinct as bytes: "\u{E9}" and "e\u{301}" are two keys).
    static func distinctKeys(_ count: Int, _ random: inout some RandomNumberGenerator) -> [String] {
        var seen = Set<[UInt8]>()
        var keys: [String] = []
        while keys.count < count {
            let key = ListingModel.randomKey(&random)
            if seen.insert(Array(key.utf8)).inserted { keys.append(key) }
        }
        return keys
    }

    deinit {
        engine.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }
}
