// `appliance serve`: flags (each also readable from an APPLIANCE_* variable) → configuration → run.
import API
import ArgumentParser
import Engine
import Foundation
import Logging

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the appliance's HTTP server (the default command).")

    @Option(help: "Address to listen on, HOST:PORT (env APPLIANCE_LISTEN; default 127.0.0.1:8080; port 0 picks a free port).")
    var listen: String?

    @Option(help: "Directory for the catalog, the token and default devices (env APPLIANCE_DATA_DIR; default ./data).")
    var dataDir: String?

    @Option(help: "Bearer token for /v1 (env APPLIANCE_TOKEN; default: generated into <data-dir>/token).")
    var token: String?

    @Option(help: "File-backed devices to create on first start when none is registered (env APPLIANCE_DEVICE_COUNT; default 2).")
    var deviceCount: Int?

    @Option(help: "Size in bytes of each default device file, created sparse (env APPLIANCE_DEVICE_SIZE; default 8 GiB).")
    var deviceSize: Int64?

    @Option(
        help:
            "Most concurrent connections; an idle one costs about 9 KiB, and the open-file limit is raised to fit (env APPLIANCE_MAX_CONNECTIONS; default 10000)."
    )
    var maxConnections: Int?

    @Option(
        help:
            "Seconds a request head may stall, and a keep-alive connection idle, before the connection is closed (env APPLIANCE_HEADER_TIMEOUT; default 30)."
    )
    var headerTimeout: Int?

    @Option(help: "Seconds a request body may stall before the connection is closed (env APPLIANCE_BODY_TIMEOUT; default 60).")
    var bodyTimeout: Int?

    @Option(
        help:
            "Slowest upload body kept, in bytes/s averaged over --upload-rate-window; a slower one is cut and its space released, 0 for none (env APPLIANCE_UPLOAD_MIN_RATE; default 1024)."
    )
    var uploadMinRate: Int?

    @Option(help: "Seconds over which --upload-min-rate is measured (env APPLIANCE_UPLOAD_RATE_WINDOW; default 60).")
    var uploadRateWindow: Int?

    @Option(help: "Uploads receiving their body at once into one volume; past it 503 SlowDown (env APPLIANCE_MAX_UPLOADS_PER_VOLUME; default 256).")
    var maxUploadsPerVolume: Int?

    @Option(
        help:
            "Uploads receiving their body at once by one access key (or the admin token); past it 503 SlowDown (env APPLIANCE_MAX_UPLOADS_PER_KEY; default 256)."
    )
    var maxUploadsPerKey: Int?

    @Option(help: "Worker threads per listener; past it requests wait in a queue shown on /metrics (env APPLIANCE_MAX_WORKERS; default 1024).")
    var maxWorkers: Int?

    @Option(
        help: "HTTP event-loop threads; disk work runs on worker threads beside them (env APPLIANCE_HTTP_THREADS; default two per core, at least 4).")
    var httpThreads: Int?

    @Option(help: "Page cache size in bytes (env APPLIANCE_CACHE_SIZE; default a quarter of RAM, at most 4 GiB).")
    var cacheSize: Int64?

    @Option(help: "S3 endpoint address, HOST:PORT or off (env APPLIANCE_S3_LISTEN; default 127.0.0.1:9000).")
    var s3Listen: String?

    @Option(help: "Region name the S3 endpoint reports (env APPLIANCE_S3_REGION; default us-east-1; signatures for any region are accepted).")
    var s3Region: String?

    @Option(
        help:
            "Domain for virtual-host-style S3 requests: a Host of BUCKET.DOMAIN addresses BUCKET (env APPLIANCE_S3_DOMAIN; default none: path-style only)."
    )
    var s3Domain: String?

    @Option(help: "Capacity in bytes of a bucket created through S3, a thin volume (env APPLIANCE_S3_BUCKET_CAPACITY; default the pool's capacity).")
    var s3BucketCapacity: Int64?

    @Option(help: "Replicas of a bucket created through S3 (env APPLIANCE_S3_BUCKET_REPLICAS; default 1).")
    var s3BucketReplicas: Int64?

    @Option(help: "Bytes of extent copies a scrub reads per second, 0 for no limit (env APPLIANCE_SCRUB_RATE; default 134217728, 128 MiB/s).")
    var scrubRate: Int64?

    @Option(help: "Seconds between periodic scrubs, 0 for none (env APPLIANCE_SCRUB_INTERVAL; default 0).")
    var scrubInterval: Int64?

    @Option(
        help:
            "Objects up to this many bytes are kept inline in the catalog, 0 for none, at most 1048576 (env APPLIANCE_INLINE_MAX_BYTES; default 8192)."
    )
    var inlineMaxBytes: Int64?

    @Option(
        help:
            "Open multipart uploads one bucket may hold; CreateMultipartUpload past it answers SlowDown (env APPLIANCE_MULTIPART_MAX_OPEN; default 10000)."
    )
    var multipartMaxOpen: Int?

    @Option(
        help:
            "Abort multipart uploads this long after they were created, freeing their parts: 7d, 36h, 90m, 45s, or off (env APPLIANCE_MULTIPART_EXPIRY; default off)."
    )
    var multipartExpiry: String?

    @Option(
        help:
            "TLS on both listeners: auto (a self-signed certificate made into <data-dir>/tls/ on first start) or off; --tls-cert and --tls-key give your own (env APPLIANCE_TLS; default off)."
    )
    var tls: String?

    @Option(
        help:
            "PEM certificate chain, the server's certificate first; with --tls-key turns TLS on, reloaded on SIGHUP (env APPLIANCE_TLS_CERT)."
    )
    var tlsCert: String?

    @Option(help: "PEM private key (unencrypted) of --tls-cert (env APPLIANCE_TLS_KEY).")
    var tlsKey: String?

    @Option(help: "Require the bearer token on /metrics, on or off (env APPLIANCE_METRICS_AUTH; default on unless --listen is a loopback address).")
    var metricsAuth: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical (env APPLIANCE_LOG_LEVEL; default info).")
    var logLevel: String?

    @Option(
        name: .customLong("device"),
        help:
            "A device of the pool, repeatable (env APPLIANCE_DEVICES, comma-separated): blank ones make a new pool on exactly them; ones that carry a pool import it. Without it, file devices in the data dir."
    )
    var devices: [String] = []

    @Option(help: "Devices holding a full copy of the catalog (env APPLIANCE_METADATA_COPIES; default 3, or every active device when fewer).")
    var metadataCopies: Int?

    @Option(
        help:
            "Join a fleet: etcd client URLs, comma-separated, e.g. http://10.0.0.1:2379,http://10.0.0.2:2379 (env APPLIANCE_CLUSTER; default: standalone)."
    )
    var cluster: String?

    @Option(help: "This node's name in the fleet, unique in it (env APPLIANCE_NODE_NAME; default the host name).")
    var nodeName: String?

    @Option(
        help:
            "The URL other nodes and clients reach this node's API at (env APPLIANCE_ADVERTISE; default from --listen, which then needs a port other than 0)."
    )
    var advertise: String?

    @Option(help: "The URL other nodes reach this node's S3 endpoint at (env APPLIANCE_S3_ADVERTISE; default from --s3-listen).")
    var s3Advertise: String?

    @Option(help: "Take over pools whose owner died when this node reaches their devices, on or off (env APPLIANCE_TAKEOVER; default on).")
    var takeover: String?

    @Option(
        help:
            "Seconds a node's and a pool's lease live in etcd without renewal; a dead owner's pool is free to take over after it (env APPLIANCE_LEASE_SECONDS; default 10)."
    )
    var leaseSeconds: Int?

    @Option(
        help:
            "The fleet's cluster key: 32 bytes, the same file on every node; it seals the S3 secrets the fleet keeps in etcd (env APPLIANCE_CLUSTER_KEY_FILE; default <data-dir>/cluster.key, made by the fleet's first node)."
    )
    var clusterKeyFile: String?

    func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ApplianceConfiguration {
        var config = ApplianceConfiguration()
        func pick(_ flag: String?, _ env: String) -> String? { flag ?? environment[env].flatMap { $0.isEmpty ? nil : $0 } }
        if let listen = pick(listen, "APPLIANCE_LISTEN") { (config.host, config.port) = try ApplianceConfiguration.parseListen(listen) }
        if let dir = pick(dataDir, "APPLIANCE_DATA_DIR") { config.dataDirectory = dir }
        // Resolved once, here: device paths under it are stored absolute (a relative `./data`
        // once failed `make serve` on a fresh clone half way through its first start).
        config.dataDirectory = ApplianceConfiguration.absolutePath(config.dataDirectory)
        config.token = pick(token, "APPLIANCE_TOKEN")
        if let token = config.token, token.count < 16 || token.contains(where: { $0.isWhitespace }) {
            throw ApplianceConfiguration.Invalid.value(name: "token", reason: "must be at least 16 characters without whitespace")
        }
        /// A numeric option from the flag or its variable, checked against `valid`.
        func number<T: FixedWidthInteger & SendableMetatype>(
            _ flag: T?, _ env: String, _ name: String, _ valid: ClosedRange<T>, _ reason: String
        ) throws -> T? {
            guard let raw = pick(flag.map(String.init), env) else { return nil }
            guard let value = T(raw), valid.contains(value) else {
                throw ApplianceConfiguration.Invalid.value(name: name, reason: reason)
            }
            return value
        }
        config.deviceCount = try number(deviceCount, "APPLIANCE_DEVICE_COUNT", "device-count", 0...64, "must be 0...64") ?? config.deviceCount
        config.deviceSize =
            try number(
                deviceSize, "APPLIANCE_DEVICE_SIZE", "device-size", (64 << 20)...Int64.max, "must be at least 67108864 (64 MiB)") ?? config.deviceSize
        config.maxConnections =
            try number(
                maxConnections, "APPLIANCE_MAX_CONNECTIONS", "max-connections", 1...1_000_000, "must be 1...1000000") ?? config.maxConnections
        config.headerTimeout =
            try number(
                headerTimeout, "APPLIANCE_HEADER_TIMEOUT", "header-timeout", 1...3600, "must be 1...3600 seconds") ?? config.headerTimeout
        config.bodyTimeout =
            try number(
                bodyTimeout, "APPLIANCE_BODY_TIMEOUT", "body-timeout", 1...3600, "must be 1...3600 seconds") ?? config.bodyTimeout
        config.uploadMinRate =
            try number(
                uploadMinRate, "APPLIANCE_UPLOAD_MIN_RATE", "upload-min-rate", 0...(1 << 30), "must be 0...1073741824 bytes/s")
            ?? config.uploadMinRate
        config.uploadRateWindow =
            try number(
                uploadRateWindow, "APPLIANCE_UPLOAD_RATE_WINDOW", "upload-rate-window", 1...3600, "must be 1...3600 seconds")
            ?? config.uploadRateWindow
        config.uploadBounds.perVolume =
            try number(
                maxUploadsPerVolume, "APPLIANCE_MAX_UPLOADS_PER_VOLUME", "max-uploads-per-volume", 1...100_000, "must be 1...100000")
            ?? config.uploadBounds.perVolume
        config.uploadBounds.perKey =
            try number(
                maxUploadsPerKey, "APPLIANCE_MAX_UPLOADS_PER_KEY", "max-uploads-per-key", 1...100_000, "must be 1...100000")
            ?? config.uploadBounds.perKey
        config.maxWorkers = try number(maxWorkers, "APPLIANCE_MAX_WORKERS", "max-workers", 16...100_000, "must be 16...100000") ?? config.maxWorkers
        // Uploads in all stay below the workers, so other requests always find one.
        config.uploadBounds.total = max(1, min(config.uploadBounds.total, config.maxWorkers * 3 / 4))
        config.httpThreads = try number(httpThreads, "APPLIANCE_HTTP_THREADS", "http-threads", 1...256, "must be 1...256") ?? config.httpThreads
        config.cacheBytes =
            try number(
                cacheSize, "APPLIANCE_CACHE_SIZE", "cache-size", (1 << 20)...Int64.max, "must be at least 1048576 (1 MiB)") ?? config.cacheBytes
        if let raw = pick(s3Listen, "APPLIANCE_S3_LISTEN") {
            if raw == "off" {
                config.s3Host = nil
            } else {
                do {
                    (config.s3Host, config.s3Port) = try ApplianceConfiguration.parseListen(raw)
                } catch {
                    throw ApplianceConfiguration.Invalid.value(name: "s3-listen", reason: "expected HOST:PORT or off, got \(raw)")
                }
            }
        }
        if let region = pick(s3Region, "APPLIANCE_S3_REGION") {
            guard !region.isEmpty, region.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                throw ApplianceConfiguration.Invalid.value(name: "s3-region", reason: "letters, digits and '-' only")
            }
            config.s3Region = region
        }
        if let domain = pick(s3Domain, "APPLIANCE_S3_DOMAIN") {
            let labels = domain.lowercased().split(separator: ".", omittingEmptySubsequences: false)
            guard !labels.isEmpty, domain.utf8.count <= 253,
                labels.allSatisfy({ label in
                    (1...63).contains(label.utf8.count) && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
                        && label.first != "-" && label.last != "-"
                })
            else {
                throw ApplianceConfiguration.Invalid.value(name: "s3-domain", reason: "a DNS name such as s3.example.com, got \(domain)")
            }
            config.s3Domain = domain.lowercased()
        }
        config.s3BucketCapacity =
            try number(
                s3BucketCapacity, "APPLIANCE_S3_BUCKET_CAPACITY", "s3-bucket-capacity", 0...(1 << 56), "must be 0 (the pool's capacity) to 2^56")
            ?? config.s3BucketCapacity
        config.s3BucketReplicas =
            try number(
                s3BucketReplicas, "APPLIANCE_S3_BUCKET_REPLICAS", "s3-bucket-replicas", 1...16, "must be 1...16") ?? config.s3BucketReplicas
        config.scrubRate =
            try number(scrubRate, "APPLIANCE_SCRUB_RATE", "scrub-rate", 0...Int64.max, "must be 0 (no limit) or more bytes per second")
            ?? config.scrubRate
        config.inlineMaxBytes =
            try number(
                inlineMaxBytes, "APPLIANCE_INLINE_MAX_BYTES", "inline-max-bytes", 0...Engine.inlineMaxBytesLimit,
                "must be between 0 (none inline) and \(Engine.inlineMaxBytesLimit) bytes") ?? config.inlineMaxBytes
        config.scrubInterval =
            try number(
                scrubInterval, "APPLIANCE_SCRUB_INTERVAL", "scrub-interval", 0...(10 * 365 * 86_400), "must be 0 (none) or seconds up to ten years")
            ?? config.scrubInterval
        config.multipartMaxOpen =
            try number(
                multipartMaxOpen, "APPLIANCE_MULTIPART_MAX_OPEN", "multipart-max-open", 1...1_000_000, "must be 1...1000000")
            ?? config.multipartMaxOpen
        if let raw = pick(multipartExpiry, "APPLIANCE_MULTIPART_EXPIRY") {
            guard let seconds = ApplianceConfiguration.parseDuration(raw), seconds <= 10 * 365 * 86_400 else {
                throw ApplianceConfiguration.Invalid.value(
                    name: "multipart-expiry", reason: "expected a duration such as 7d, 36h, 90m or 45s (up to ten years), or off; got \(raw)")
            }
            config.multipartExpiry = seconds
        }
        config.tls = try Self.resolveTLS(
            mode: pick(tls, "APPLIANCE_TLS"), certificate: pick(tlsCert, "APPLIANCE_TLS_CERT"), key: pick(tlsKey, "APPLIANCE_TLS_KEY"))
        switch pick(metricsAuth, "APPLIANCE_METRICS_AUTH") {
        case "on": config.metricsAuth = true
        case "off": config.metricsAuth = false
        case nil: config.metricsAuth = !ApplianceConfiguration.isLoopback(config.host)
        case let raw?: throw ApplianceConfiguration.Invalid.value(name: "metrics-auth", reason: "must be on or off, got \(raw)")
        }
        let devicePaths =
            devices.isEmpty
            ? (environment["APPLIANCE_DEVICES"] ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
            : devices
        for path in devicePaths where !path.hasPrefix("/") {
            throw ApplianceConfiguration.Invalid.value(name: "device", reason: "must be an absolute path, got \(path)")
        }
        config.devicePaths = devicePaths
        config.metadataCopies =
            try number(
                metadataCopies, "APPLIANCE_METADATA_COPIES", "metadata-copies", 1...64, "must be 1...64") ?? config.metadataCopies
        if let raw = pick(cluster, "APPLIANCE_CLUSTER") {
            config.fleet = try Self.resolveFleet(
                endpoints: raw, nodeName: pick(nodeName, "APPLIANCE_NODE_NAME"), advertise: pick(advertise, "APPLIANCE_ADVERTISE"),
                s3Advertise: pick(s3Advertise, "APPLIANCE_S3_ADVERTISE"), takeover: pick(takeover, "APPLIANCE_TAKEOVER"),
                leaseSeconds: try number(leaseSeconds, "APPLIANCE_LEASE_SECONDS", "lease-seconds", 5...300, "must be 5...300 seconds"), config: config
            )
            config.fleet?.clusterKeyFile =
                pick(clusterKeyFile, "APPLIANCE_CLUSTER_KEY_FILE") ?? config.dataDirectory + "/" + ApplianceConfiguration.clusterKeyFileName
        } else {
            for (flag, name) in [
                (nodeName, "node-name"), (advertise, "advertise"), (s3Advertise, "s3-advertise"), (takeover, "takeover"),
                (clusterKeyFile, "cluster-key-file"),
            ]
            where flag != nil {
                throw ApplianceConfiguration.Invalid.value(name: name, reason: "goes with --cluster (a fleet)")
            }
        }
        if let raw = pick(logLevel, "APPLIANCE_LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: raw) else {
                throw ApplianceConfiguration.Invalid.value(name: "log-level", reason: "unknown level \(raw)")
            }
            config.logLevel = level
        }
        return config
    }

    /// `--cluster` and the flags that go with it.
    static func resolveFleet(
        endpoints raw: String, nodeName: String?, advertise: String?, s3Advertise: String?, takeover: String?, leaseSeconds: Int?,
        config: ApplianceConfiguration
    ) throws -> ApplianceConfiguration.Fleet {
        let endpoints = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        func isURL(_ value: String) -> Bool {
            guard let url = URL(string: value), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else { return false }
            return url.path.isEmpty || url.path == "/"
        }
        guard !endpoints.isEmpty, endpoints.allSatisfy(isURL) else {
            throw ApplianceConfiguration.Invalid.value(
                name: "cluster", reason: "etcd client URLs such as http://127.0.0.1:2379, comma-separated; got \(raw)")
        }
        let name = nodeName ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "node"
        guard (1...63).contains(name.utf8.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw ApplianceConfiguration.Invalid.value(name: "node-name", reason: "1 to 63 letters, digits, '-' or '_'; got \(name)")
        }
        for (value, flag) in [(advertise, "advertise"), (s3Advertise, "s3-advertise")] {
            if let value, !isURL(value) {
                throw ApplianceConfiguration.Invalid.value(name: flag, reason: "a base URL such as http://10.0.0.5:8080, got \(value)")
            }
        }
        if advertise == nil, config.port == 0 || config.host == "0.0.0.0" || config.host == "::" {
            throw ApplianceConfiguration.Invalid.value(
                name: "advertise",
                reason:
                    "a fleet needs the URL other nodes reach this one at: give --advertise, or --listen with a reachable address and a port other than 0"
            )
        }
        var fleet = ApplianceConfiguration.Fleet(
            endpoints: endpoints, nodeName: name, advertise: advertise.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 },
            s3Advertise: s3Advertise.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 })
        switch takeover {
        case nil, "on": fleet.takeover = true
        case "off": fleet.takeover = false
        case let other?: throw ApplianceConfiguration.Invalid.value(name: "takeover", reason: "must be on or off, got \(other)")
        }
        if let leaseSeconds { fleet.leaseSeconds = leaseSeconds }
        return fleet
    }

    /// `--tls auto|off` and `--tls-cert`/`--tls-key` (both or neither; not with `auto` or `off`).
    static func resolveTLS(mode: String?, certificate: String?, key: String?) throws -> ApplianceConfiguration.TLS {
        if let mode, mode != "auto", mode != "off" {
            throw ApplianceConfiguration.Invalid.value(name: "tls", reason: "must be auto or off (or give --tls-cert and --tls-key), got \(mode)")
        }
        guard certificate != nil || key != nil else { return mode == "auto" ? .selfSigned : .off }
        if let mode { throw ApplianceConfiguration.Invalid.value(name: "tls", reason: "--tls \(mode) does not go with --tls-cert and --tls-key") }
        guard let certificate, let key else {
            throw ApplianceConfiguration.Invalid.value(
                name: certificate == nil ? "tls-cert" : "tls-key", reason: "TLS with your own certificate needs both --tls-cert and --tls-key")
        }
        return .files(.init(certificate: ApplianceConfiguration.absolutePath(certificate), key: ApplianceConfiguration.absolutePath(key)))
    }

    func run() throws {
        let config: ApplianceConfiguration
        do {
            config = try resolve()
        } catch {
            throw ValidationError(String(describing: error))
        }
        let level = config.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "appliance")
        SignalHandling.blockTerminationSignals()
        let app: Application
        do {
            app = try buildApplication(config, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        let signal = SignalHandling.waitForTermination(onHangup: { app.reloadTLS() })
        logger.info("shutting down", metadata: ["signal": "\(signal)"])
        app.shutdown()
        logger.info("stopped")
    }
}
