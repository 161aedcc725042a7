// All wiring: open the Engine (catalog, devices) → default devices → router → HTTP server.
import API
import Engine
import Foundation
import Glibc
import Logging

struct Application: Sendable {
    let engine: Engine
    let server: HTTPServer
    let logger: Logger

    /// Stop accepting, finish in-flight requests, then close the engine (and the database).
    func shutdown() {
        server.shutdown()
        engine.shutdown()
    }
}

func buildApplication(_ config: ApplianceConfiguration, logger: Logger) throws -> Application {
    let engine = try Engine.open(dataDirectory: config.dataDirectory, logger: logger, cacheBytes: config.cacheBytes)
    do {
        try engine.bootstrapFileDevices(count: config.deviceCount, size: config.deviceSize, directory: config.dataDirectory + "/devices")
        let token = try resolveToken(config, logger: logger)
        let metrics = HTTPMetrics()
        let router = Routes.makeRouter(engine: engine, token: token, metrics: metrics)
        let server = HTTPServer(
            configuration: .init(host: config.host, port: config.port, maxConnections: config.maxConnections, eventThreads: config.httpThreads), router: router, logger: logger)
        try server.start()
        let host = config.host.contains(":") ? "[\(config.host)]" : config.host
        logger.info("listening on http://\(host):\(server.port)", metadata: ["pool": "\(engine.poolUUID.uuidString.lowercased())"])
        return Application(engine: engine, server: server, logger: logger)
    } catch {
        engine.shutdown()
        throw error
    }
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
