// All wiring: open the Engine (catalog, devices) → default devices → router → HTTP server.
import API
import Engine
import Fleet
import Foundation
import Glibc
import Logging
import Synchronization

struct Application: Sendable {
    let engine: Engine
    let server: HTTPServer
    let console: Console
    /// The S3 listener (nil when off).
    let s3Server: HTTPServer?
    let logger: Logger
    /// The certificate files both listeners present (nil: plain HTTP).
    let tlsFiles: TLSIdentity.Files?
    /// This node's membership of a fleet (nil: standalone).
    let fleet: FleetMember?

    /// SIGHUP: loads the certificate files again; when they are bad the one in use stays.
    func reloadTLS() {
        guard let tlsFiles else {
            logger.notice("SIGHUP: TLS is off, nothing to reload")
            return
        }
        do {
            let summary = try TLSIdentity.install(tlsFiles)
            logTLS(summary, files: tlsFiles, logger: logger, event: "TLS certificate reloaded")
        } catch {
            logger.error("TLS certificate not reloaded; the one in use stays", metadata: ["error": "\(error)"])
        }
    }

    /// Stop accepting, finish in-flight requests, then close the engine (and the database).
    func shutdown() {
        s3Server?.shutdown()
        server.shutdown()
        console.stop()
        engine.shutdown()  // written back while the pool's lease still holds
        fleet?.leave()
    }
}

func buildApplication(_ config: ApplianceConfiguration, logger: Logger) throws -> Application {
    let connections = connectionLimit(config, logger: logger)
    try DataDirectoryLock.acquire(config.dataDirectory)
    let tlsFiles = try installTLS(config, logger: logger)
    let scheme = tlsFiles == nil ? "http" : "https"
    // In a fleet, the pool's lease is taken before the engine opens (opening writes to the devices).
    let token = try resolveToken(config, logger: logger)
    let joined = try config.fleet.map { fleet in try joinFleet(fleet, config: config, token: token, scheme: scheme, logger: logger) }
    let member = joined?.member
    // A node whose pool another node took over serves an empty pool of its own, on no device.
    let withoutPool = joined?.withoutPool ?? false
    let engine: Engine
    do {
        engine =
            withoutPool
            ? try openWithoutPool(config, logger: logger)
            : try Engine.open(
                dataDirectory: config.dataDirectory, logger: logger, cacheBytes: config.cacheBytes, metadataCopies: config.metadataCopies,
                devicePaths: config.devicePaths, fence: member?.fence ?? WriteFence())
    } catch {
        member?.leave()
        throw error
    }
    do {
        if withoutPool {
            // No device: the pool's devices are another node's now.
        } else if config.devicePaths.isEmpty {
            try engine.bootstrapFileDevices(
                count: config.deviceCount, size: config.deviceSize, directory: config.dataDirectory + "/" + Engine.deviceDirectoryName)
        } else {
            try engine.adoptNamedDevices(config.devicePaths)
        }
        engine.configureScrub(rate: config.scrubRate, interval: Double(config.scrubInterval))
        try engine.configureInline(maxBytes: config.inlineMaxBytes)
        engine.configureMultipart(maxOpenUploadsPerVolume: config.multipartMaxOpen, expiry: Double(config.multipartExpiry))
        let uploads = UploadLimits(config.uploadBounds)
        let metrics = HTTPMetrics()
        let ownKeys = try AccessKeyStore(engine: engine, keyFile: config.secretsKeyFile)
        if !ownKeys.unreadable.isEmpty {
            logger.warning(
                "access keys whose secret this data directory's s3-secrets.key cannot unseal (a pool imported into a new data directory?) sign nothing: delete them and create new ones",
                metadata: ["keys": "\(ownKeys.unreadable.map { "\($0.id) (\($0.name))" })"])
        }
        // In a fleet, the fleet's keys (in etcd, sealed with the cluster key) serve every pool this node serves.
        let fleetKeys = try member.map { member in
            try AccessKeyStore.fleet(member, clusterKey: try AccessKeyStore.clusterKey(at: config.fleet!.clusterKeyFile, fleet: member.accessKeys))
        }
        let serving: PoolServing = { pool, paths, fence in
            try servePoolTakenOver(
                pool, devicePaths: paths, fence: fence, config: config, token: token, keys: fleetKeys, metrics: metrics, uploads: uploads,
                logger: logger)
        }
        if withoutPool { try member?.attachWithoutPool(serving: serving) } else { try member?.attach(engine, serving: serving) }
        if let member, let fleetKeys { try copyKeysIntoFleet(ownKeys, into: fleetKeys, member: member, logger: logger) }
        let keys = fleetKeys ?? ownKeys
        if let key = try keys.bootstrapDefaultKey(credentialsFile: config.credentialsFile) {
            logger.info("generated S3 access key \(key.id) into \(config.credentialsFile) (profile appliance, mode 0600)")
        } else if let key = try keys.writeFleetDefaultKey(credentialsFile: config.credentialsFile) {
            logger.info("wrote the fleet's default S3 access key \(key.id) into \(config.credentialsFile) (profile appliance, mode 0600)")
        }
        let fleetRouting = member.map { FleetRouting(member: $0) }
        let s3Port = Atomic<UInt16>(0)
        let console = Console(
            engine: engine, metrics: metrics,
            settings: ConsoleSettings(
                tls: tlsFiles != nil, s3Port: { config.s3Host == nil ? nil : s3Port.load(ordering: .acquiring) }, region: config.s3Region))
        let router = Routes.makeRouter(
            engine: engine, token: token, metrics: metrics, keys: keys, metricsAuth: config.metricsAuth, uploads: uploads, console: console,
            fleet: fleetRouting)
        let server = HTTPServer(
            configuration: .init(
                host: config.host, port: config.port, maxConnections: connections, eventThreads: config.httpThreads,
                headerTimeout: config.headerTimeout, bodyTimeout: config.bodyTimeout, uploadMinRate: config.uploadMinRate,
                uploadRateWindow: config.uploadRateWindow, maxWorkers: config.maxWorkers, tls: tlsFiles != nil),
            router: router, logger: logger)
        metrics.track(server, listener: "admin")
        metrics.track(uploads)
        try server.start()
        let host = config.host.contains(":") ? "[\(config.host)]" : config.host
        logger.info(
            "listening on \(scheme)://\(host):\(server.port)",
            metadata: ["pool": "\(engine.poolUUID.uuidString.lowercased())", "metrics_auth": "\(config.metricsAuth ? "on" : "off")"])
        var s3Server: HTTPServer?
        if let s3Host = config.s3Host {
            let settings = S3Settings(
                region: config.s3Region, bucketCapacity: config.s3BucketCapacity, bucketReplicas: config.s3BucketReplicas,
                domain: config.s3Domain)
            let s3 = HTTPServer(
                configuration: .init(
                    host: s3Host, port: config.s3Port, maxConnections: connections, eventThreads: config.httpThreads,
                    maxBodyBytes: 4 << 20, headerTimeout: config.headerTimeout, bodyTimeout: config.bodyTimeout,
                    uploadMinRate: config.uploadMinRate, uploadRateWindow: config.uploadRateWindow, maxWorkers: config.maxWorkers,
                    tls: tlsFiles != nil),
                router: S3Routes.makeRouter(engine: engine, keys: keys, settings: settings, metrics: metrics, uploads: uploads, fleet: fleetRouting),
                logger: logger)
            metrics.track(s3, listener: "s3")
            do {
                try s3.start()
            } catch {
                server.shutdown()
                throw error
            }
            s3Port.store(s3.port, ordering: .releasing)
            let shown = s3Host.contains(":") ? "[\(s3Host)]" : s3Host
            logger.info(
                "S3 endpoint listening on \(scheme)://\(shown):\(s3.port)",
                metadata: ["region": "\(config.s3Region)", "virtual_host_domain": "\(config.s3Domain ?? "none")"])
            s3Server = s3
        }
        console.start()
        logger.info("web console at \(scheme)://\(host):\(server.port)/ui/ (log in with the bearer token)")
        return Application(
            engine: engine, server: server, console: console, s3Server: s3Server, logger: logger, tlsFiles: tlsFiles, fleet: member)
    } catch {
        member?.leave()
        engine.shutdown()
        throw error
    }
}

/// Joins the fleet `--cluster` names and takes the lease of the pool the data directory's devices
/// carry (a pool not made yet is taken once the engine has made it: `attach`). `withoutPool`:
/// another node holds that pool (it took it over while this node was down).
func joinFleet(
    _ fleet: ApplianceConfiguration.Fleet, config: ApplianceConfiguration, token: String, scheme: String, logger: Logger
) throws -> (member: FleetMember, withoutPool: Bool) {
    func url(_ host: String, _ port: UInt16) -> String { "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)" }
    let s3 = fleet.s3Advertise ?? config.s3Host.flatMap { host in config.s3Port == 0 ? nil : url(host, config.s3Port) }
    var settings = FleetSettings(endpoints: fleet.endpoints, nodeName: fleet.nodeName, api: fleet.advertise ?? url(config.host, config.port), s3: s3)
    settings.takeover = fleet.takeover
    settings.leaseSeconds = fleet.leaseSeconds
    settings.marginSeconds = max(2, Double(fleet.leaseSeconds) * 0.3)
    let member = try FleetMember.connect(settings: settings, token: token, logger: logger)
    var withoutPool = false
    do {
        if let pool = try Engine.discoverPool(dataDirectory: config.dataDirectory, devicePaths: config.devicePaths) {
            let taken = Result { () throws(FleetError) in try member.take(pool: pool.uuidString.lowercased()) }
            if case .failure(let error) = taken, case .poolHeld(let pool, let node, let epoch) = error {
                logger.notice(
                    "pool \(pool) is held by node \(node) (epoch \(epoch)), which took it over: this node joins with no pool of its own; it forwards requests to the volumes' nodes and may take pools over"
                )
                withoutPool = true
            } else {
                try taken.get()
            }
        } else {
            member.fence.hold(until: Int64.max)  // A pool made now: nobody else can know it yet.
        }
    } catch {
        member.leave()
        throw error
    }
    logger.info(
        "joined the fleet as node \(fleet.nodeName)\(withoutPool ? ", without a pool" : "")",
        metadata: ["etcd": "\(fleet.endpoints.joined(separator: ","))", "api": "\(settings.api)", "s3": "\(s3 ?? "none")"])
    return (member, withoutPool)
}

/// The engine of a node without a pool of its own: an empty pool on no device in
/// `<data-dir>/pools/none` (its catalog in that directory), which no volume is placed in.
func openWithoutPool(_ config: ApplianceConfiguration, logger: Logger) throws -> Engine {
    let directory = config.dataDirectory + "/pools/none"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    return try Engine.open(dataDirectory: directory, logger: logger, cacheBytes: 1 << 20, metadataCopies: config.metadataCopies)
}

/// Copies the keys this node's pool had before it joined into the fleet (once per pool: a key
/// deleted in the fleet stays deleted when the node starts again).
func copyKeysIntoFleet(_ own: AccessKeyStore, into fleet: AccessKeyStore, member: FleetMember, logger: Logger) throws {
    guard let pool = member.poolID, try !member.accessKeys.copied(from: pool) else { return }
    let volumes = Set(member.view(force: true).volumes.filter { $0.value.pool == pool }.keys)
    let copied = try fleet.copyIn(own, poolVolumes: volumes)
    try member.accessKeys.markCopied(from: pool)
    if !copied.isEmpty { logger.notice("copied this node's S3 access keys into the fleet", metadata: ["keys": "\(copied)"]) }
}

/// Opens a pool this node takes over (its devices at the paths its owner published, its own data
/// directory `<data-dir>/pools/<pool>`, the fence its lease holds) and serves it on listeners of
/// its own (ephemeral ports on the listen address), which its record in the fleet names.
func servePoolTakenOver(
    _ pool: String, devicePaths: [String], fence: WriteFence, config: ApplianceConfiguration, token: String, keys fleetKeys: AccessKeyStore?,
    metrics: HTTPMetrics, uploads: UploadLimits, logger: Logger
) throws -> ServedPool {
    let directory = config.dataDirectory + "/pools/" + pool
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    let engine = try Engine.open(
        dataDirectory: directory, logger: logger, cacheBytes: max(1 << 20, config.cacheBytes / 4), metadataCopies: config.metadataCopies,
        devicePaths: devicePaths, fence: fence)
    do {
        guard engine.poolUUID.uuidString.lowercased() == pool else { throw FleetError.pool("the devices carry pool \(engine.poolUUID), not \(pool)") }
        engine.configureScrub(rate: config.scrubRate, interval: Double(config.scrubInterval))
        try engine.configureInline(maxBytes: config.inlineMaxBytes)
        engine.configureMultipart(maxOpenUploadsPerVolume: config.multipartMaxOpen, expiry: Double(config.multipartExpiry))
        let keys = try fleetKeys ?? AccessKeyStore(engine: engine, keyFile: directory + "/" + ApplianceConfiguration.secretsKeyFileName)
        let listen = { (router: Router, bodyBytes: Int) in
            HTTPServer(
                configuration: .init(
                    host: config.host, port: 0, maxConnections: 1024, eventThreads: 2, maxBodyBytes: bodyBytes, headerTimeout: config.headerTimeout,
                    bodyTimeout: config.bodyTimeout, uploadMinRate: config.uploadMinRate, uploadRateWindow: config.uploadRateWindow,
                    maxWorkers: config.maxWorkers, tls: config.tls != .off),
                router: router, logger: logger)
        }
        let server = listen(Routes.makeRouter(engine: engine, token: token, metrics: metrics, keys: keys, uploads: uploads), 1 << 20)
        try server.start()
        let s3 = listen(
            S3Routes.makeRouter(
                engine: engine, keys: keys, settings: S3Settings(region: config.s3Region, bucketReplicas: config.s3BucketReplicas), metrics: metrics,
                uploads: uploads), 4 << 20)
        do {
            try s3.start()
        } catch {
            server.shutdown()
            throw error
        }
        let scheme = config.tls == .off ? "http" : "https"
        let host = config.fleet?.advertise.flatMap { URL(string: $0)?.host } ?? config.host
        let shown = host.contains(":") ? "[\(host)]" : host
        return ServedPool(
            engine: engine, api: "\(scheme)://\(shown):\(server.port)", s3: "\(scheme)://\(shown):\(s3.port)",
            stop: {
                s3.shutdown()
                server.shutdown()
                engine.shutdown()
            })
    } catch {
        engine.shutdown()
        throw error
    }
}

/// The certificate for `--tls-cert`/`--tls-key` or `--tls auto`, installed before any listener
/// starts (a bad file stops the start here, with GnuTLS's reason); nil when TLS is off. With TLS
/// off a listener on an address other hosts reach gets a warning.
func installTLS(_ config: ApplianceConfiguration, logger: Logger) throws -> TLSIdentity.Files? {
    let hosts = [config.host] + (config.s3Host.map { [$0] } ?? [])
    let files: TLSIdentity.Files
    switch config.tls {
    case .off:
        for host in hosts where !ApplianceConfiguration.isLoopback(host) {
            logger.warning(
                "TLS is off on \(host), an address other hosts reach: the bearer token, keys' signatures and every object cross the network readable; use --tls auto or --tls-cert/--tls-key"
            )
        }
        return nil
    case .files(let given):
        files = given
    case .selfSigned:
        let (kept, made) = try SelfSignedCertificate.ensure(dataDirectory: config.dataDirectory, listenHosts: hosts)
        if let made { logger.notice("made a self-signed TLS certificate (\(made))", metadata: ["certificate": "\(kept.certificate)"]) }
        files = kept
    }
    let summary = try TLSIdentity.install(files)
    logTLS(summary, files: files, logger: logger, event: "TLS on (1.2 and 1.3) for both listeners")
    return files
}

/// One line naming the certificate (path, SHA-256 fingerprint, end of validity); a warning when
/// it is not valid now or ends within 30 days.
func logTLS(_ summary: TLSIdentity.Summary, files: TLSIdentity.Files, logger: Logger, event: String) {
    let metadata: Logger.Metadata = [
        "certificate": "\(files.certificate)", "sha256_fingerprint": "\(summary.fingerprint)",
        "not_after": "\(summary.notAfter.formatted(.iso8601))",
    ]
    logger.info("\(event)", metadata: metadata)
    let now = Date()
    if summary.notAfter < now || summary.notBefore > now {
        logger.warning("the TLS certificate is not valid now: clients will refuse it", metadata: metadata)
    } else if summary.notAfter.timeIntervalSince(now) < 30 * 86_400 {
        logger.warning("the TLS certificate ends within 30 days", metadata: metadata)
    }
}

/// `--max-connections`, within the open-file limit once its soft limit is raised to the hard one
/// (the usual soft limit, 1024, would hold connections far below it: at the limit MHD stops
/// accepting and new clients wait in the listen backlog). Some descriptors stay for the rest:
/// devices, rings, the catalog, MHD's own.
func connectionLimit(_ config: ApplianceConfiguration, logger: Logger) -> Int {
    let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    var limit = rlimit()
    guard getrlimit(resource, &limit) == 0 else { return config.maxConnections }
    if limit.rlim_cur < limit.rlim_max {
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        if setrlimit(resource, &raised) == 0 { limit = raised }
    }
    let files = Int(clamping: limit.rlim_cur)
    let connections = min(config.maxConnections, max(files - 256, 16))
    if connections < config.maxConnections {
        logger.warning(
            "open-file limit holds connections below --max-connections",
            metadata: ["open_files": "\(files)", "connections": "\(connections)", "max_connections": "\(config.maxConnections)"])
    }
    return connections
}

/// The token from the flag/env, else `<data-dir>/token`, generated (mode 0600) on first start.
/// Only where the token lives is logged, never the token.
func resolveToken(_ config: ApplianceConfiguration, logger: Logger) throws -> String {
    if let token = config.token {
        logger.info("bearer token from --token / APPLIANCE_TOKEN")
        return token
    }
    let path = config.tokenFile
    if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
        let token = existing.trimmingCharacters(in: .whitespacesAndNewlines)
        if !token.isEmpty {
            logger.info("bearer token in \(path)")
            return token
        }
    }
    var bytes = [UInt8](repeating: 0, count: 32)
    var generator = SystemRandomNumberGenerator()
    for i in bytes.indices { bytes[i] = generator.next() }
    let token = bytes.map { String(format: "%02x", $0) }.joined()
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw ApplianceConfiguration.Invalid.value(name: "token file", reason: "cannot create \(path)") }
    defer { close(fd) }
    fchmod(fd, 0o600)
    let line = Array((token + "\n").utf8)
    guard write(fd, line, line.count) == line.count, fsync(fd) == 0 else {
        throw ApplianceConfiguration.Invalid.value(name: "token file", reason: "cannot write \(path)")
    }
    logger.info("generated a bearer token into \(path) (mode 0600)")
    return token
}
