// What the router and authentication targets run against: an engine with no devices in a
// temporary data directory (removed at exit, or by the next run), one S3 access key allowed
// everywhere, and the two routers the server builds (the S3 one with virtual-host addressing). Made once per process: parsing never
// writes to it.
import API
import Engine
import Foundation
import Logging
import Synchronization

final class FuzzFixture: Sendable {
    static let shared = FuzzFixture()
    static let adminToken = "fuzz-admin-token"
    /// Virtual-host-style addressing is on: a Host of `<bucket>.s3.fuzz` is routed by its bucket.
    static let s3Domain = "s3.fuzz"

    let engine: Engine
    let key: AccessKey
    let admin: Router
    let s3: Router

    private init() {
        Self.removeStale()
        let directory = FileManager.default.temporaryDirectory.appending(path: "appliance-fuzz-\(getpid())").path
        fixtureDirectory.withLock { $0 = directory }
        atexit { fixtureDirectory.withLock { if let path = $0 { try? FileManager.default.removeItem(atPath: path) } } }
        do {
            engine = try Engine.open(
                dataDirectory: directory, logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }), cacheBytes: 8 << 20)
            let keys = try AccessKeyStore(engine: engine, keyFile: directory + "/s3-secrets.key")
            key = try keys.create(name: "fuzz", permissions: [AccessKeyStore.wildcard: .owner], createBuckets: true)
            admin = Routes.makeRouter(engine: engine, token: Self.adminToken, metrics: HTTPMetrics(), keys: keys)
            s3 = S3Routes.makeRouter(engine: engine, keys: keys, settings: S3Settings(domain: Self.s3Domain), metrics: HTTPMetrics())
        } catch {
            fatalError("the fuzz fixture cannot start an engine in \(directory): \(error)")
        }
    }

    /// Data directories of fuzzer processes that are gone (libFuzzer ends a run or a crash with
    /// `_Exit`, so the exit handler does not always run).
    private static func removeStale() {
        let temporary = FileManager.default.temporaryDirectory.path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [] where name.hasPrefix("appliance-fuzz-") {
            guard let pid = Int32(name.dropFirst("appliance-fuzz-".count)), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: temporary + "/" + name)
        }
    }

    static func context() -> RequestContext {
        RequestContext(requestID: "fuzz", logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))
    }
}

/// The fixture's data directory, for the exit handler (a C function pointer captures nothing).
private let fixtureDirectory = Mutex<String?>(nil)
