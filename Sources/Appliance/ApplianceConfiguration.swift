// Everything `serve` needs, resolved from flags, then APPLIANCE_* environment variables, then defaults.
import API
import Engine
import Foundation
import Glibc
import Logging

struct ApplianceConfiguration: Sendable {
    var host: String = "127.0.0.1"
    var port: UInt16 = 8080
    var dataDirectory: String = "./data"
    /// nil: read or generate `<data-dir>/token`.
    var token: String?
    var deviceCount: Int = 2
    /// `--device` paths: the pool's devices (no default file devices then).
    var devicePaths: [String] = []
    var metadataCopies = Engine.defaultMetadataCopies
    var deviceSize: Int64 = 8 << 30
    var maxConnections: Int = 10_000
    /// HTTP event-loop threads (0: two per core, at least 4).
    var httpThreads: Int = 0
    /// Idle seconds allowed while a request head arrives (and between keep-alive requests), and
    /// while a request body arrives.
    var headerTimeout: Int = 30
    var bodyTimeout: Int = 60
    /// An upload's body must bring at least `uploadMinRate` bytes/s over `uploadRateWindow`
    /// seconds, or it is cut and its space released (0: no floor).
    var uploadMinRate: Int = 1024
    var uploadRateWindow: Int = 60
    /// Uploads receiving their body at once: per volume, per access key (or the admin token), in all.
    var uploadBounds = UploadLimits.Bounds()
    /// Worker threads per listener at most.
    var maxWorkers: Int = 1024
    var logLevel: Logger.Level = .info
    var cacheBytes: Int64 = Engine.defaultCacheBytes
    /// The S3 listener (nil: off).
    var s3Host: String? = "127.0.0.1"
    var s3Port: UInt16 = 9000
    var s3Region = "us-east-1"
    /// Virtual-host-style S3 addressing under this domain (nil: path-style only).
    var s3Domain: String?
    /// Capacity of buckets created through S3 (0: the pool's capacity then).
    var s3BucketCapacity: Int64 = 0
    var s3BucketReplicas: Int64 = 1
    /// Bytes of copies a scrub reads per second (0: no limit), and seconds between periodic scrubs (0: none).
    var scrubRate: Int64 = 128 << 20
    var scrubInterval: Int64 = 0
    /// Objects up to this size are kept inline in the catalog (0: none).
    var inlineMaxBytes: Int64 = Engine.defaultInlineMaxBytes
    /// Open multipart uploads a volume may hold, and seconds after its creation an open upload is
    /// aborted (0: never).
    var multipartMaxOpen = 10_000
    var multipartExpiry: Int64 = 0
    /// TLS on both listeners: off (plain HTTP), the operator's PEM files, or a self-signed pair kept in the data dir.
    enum TLS: Sendable, Equatable {
        case off
        case files(TLSIdentity.Files)
        case selfSigned
    }
    var tls = TLS.off
    /// /metrics needs the bearer token (resolved from --metrics-auth, else on unless `host` is loopback).
    var metricsAuth = false
    /// A fleet (`--cluster`): nil for a standalone appliance.
    var fleet: Fleet?

    struct Fleet: Sendable {
        var endpoints: [String]
        var nodeName: String
        /// nil: derived from the listen address once the port is known.
        var advertise: String?
        var s3Advertise: String?
        var takeover = true
        var leaseSeconds = 10
        /// The fleet's cluster key (32 bytes; the same on every node): seals the S3 secrets in etcd.
        var clusterKeyFile = ""
    }

    static let tokenFileName = "token"
    static let credentialsFileName = "s3-credentials"
    static let secretsKeyFileName = "s3-secrets.key"
    static let clusterKeyFileName = "cluster.key"

    enum Invalid: Error, CustomStringConvertible {
        case listen(String)
        case value(name: String, reason: String)
        var description: String {
            switch self {
            case .listen(let value): "--listen \(value): expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080"
            case .value(let name, let reason): "\(name): \(reason)"
            }
        }
    }

    /// `path` made absolute against the working directory, `.` and `..` resolved.
    static func absolutePath(_ path: String, workingDirectory: String = FileManager.default.currentDirectoryPath) -> String {
        let base = path.hasPrefix("/") ? URL(fileURLWithPath: path) : URL(fileURLWithPath: workingDirectory).appendingPathComponent(path)
        let standardized = base.standardizedFileURL.path
        return standardized.count > 1 && standardized.hasSuffix("/") ? String(standardized.dropLast()) : standardized
    }

    /// Parses `HOST:PORT` or `[IPv6]:PORT`.
    static func parseListen(_ value: String) throws(Invalid) -> (String, UInt16) {
        let host: Substring
        let port: Substring
        if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
            host = value[value.index(after: value.startIndex)..<close]
            let rest = value[value.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .listen(value) }
            port = rest.dropFirst()
        } else {
            guard let colon = value.lastIndex(of: ":") else { throw .listen(value) }
            host = value[..<colon]
            port = value[value.index(after: colon)...]
        }
        guard !host.isEmpty, let number = UInt16(port) else { throw .listen(value) }
        return (String(host), number)
    }

    /// `7d`, `36h`, `90m`, `45s` or plain seconds, in seconds; `off` is 0. nil when malformed.
    static func parseDuration(_ value: String) -> Int64? {
        if value == "off" { return 0 }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        let unit = value.last.flatMap { units[$0] }
        guard let number = Int64(unit == nil ? value : String(value.dropLast())), number >= 0 else { return nil }
        let (seconds, overflow) = number.multipliedReportingOverflow(by: unit ?? 1)
        return overflow ? nil : seconds
    }

    /// A loopback address (127.0.0.0/8, ::1, an IPv4-mapped 127.x) or `localhost`: only this host reaches it.
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes == [UInt8](repeating: 0, count: 15) + [1] { return true }
        return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
    }

    var tokenFile: String { dataDirectory + "/" + Self.tokenFileName }
    var credentialsFile: String { dataDirectory + "/" + Self.credentialsFileName }
    var secretsKeyFile: String { dataDirectory + "/" + Self.secretsKeyFileName }
}
