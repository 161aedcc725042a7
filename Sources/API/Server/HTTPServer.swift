// The libmicrohttpd daemon: lifecycle and threading model. A few event-loop threads (epoll, two
// per core) parse requests and send responses for all connections; they never wait. Requests that
// can (cached object reads, health) are answered right there. Anything that may wait on disk, a
// commit or a flush runs on a worker thread (WorkerPool) while its connection is suspended; upload
// bodies reach their worker through an UploadPump and disk-read bodies come back through a
// DownloadPump. So a slow transfer or a long flush stalls only its own connection, and a cache
// hit costs no thread switch. A connection that waits for its client holds no thread, only its
// socket and MHD's state, so the connection limit is high; a head that stops arriving (and an idle
// keep-alive connection) is cut after the header timeout, a body after the body timeout.
// Shutdown stops accepting, waits for in-flight requests, then stops the daemon.
import CMicroHTTPD
import Engine
import Foundation
import Glibc
package import Logging
import Synchronization

package final class HTTPServer: Sendable {
    /// Uploads whose Content-Length is at most this are opened on a worker once their whole body
    /// is in (`RequestState.openWhenBodyIn`); larger ones as soon as their head is.
    static let openAfterBodyLimit: Int64 = 64 << 10

    package struct Configuration: Sendable {
        package var host: String
        package var port: UInt16
        /// Open connections at most. An idle one costs about 9 KiB (measured with 2,000 that sent
        /// part of a head: 4.5 KiB resident, the touched page of its memory pool and MHD's state,
        /// and as much kernel memory for the socket); only a request that waits on disk holds a
        /// worker thread. With 512, 600 stalled clients kept everyone else in the listen backlog.
        package var maxConnections: Int
        /// Event-loop threads (0: two per core, at least 4).
        package var eventThreads: Int
        /// Largest request body the server buffers (JSON bodies); larger gets 413.
        package var maxBodyBytes: Int
        /// Idle seconds before a connection is closed while its request head arrives, between
        /// keep-alive requests and while a response without request body is sent (nginx:
        /// client_header_timeout, keepalive_timeout, send_timeout).
        package var headerTimeout: Int
        /// Idle seconds before a connection is closed while a request body arrives and its answer
        /// is sent (nginx: client_body_timeout). A suspended connection (a worker has it) has none.
        package var bodyTimeout: Int
        /// An upload whose body comes slower than `uploadMinRate` bytes/s over `uploadRateWindow`
        /// seconds is cut and its space released (0: no floor).
        package var uploadMinRate: Int
        package var uploadRateWindow: Int
        /// Worker threads at most; past it jobs wait in a queue (its depth is on /metrics).
        package var maxWorkers: Int
        /// TLS 1.2/1.3 only, presenting the installed `TLSIdentity`; plain HTTP when false.
        package var tls: Bool

        package init(
            host: String, port: UInt16, maxConnections: Int = 10_000, eventThreads: Int = 0, maxBodyBytes: Int = 1 << 20,
            headerTimeout: Int = 30, bodyTimeout: Int = 60, uploadMinRate: Int = 1024, uploadRateWindow: Int = 60, maxWorkers: Int = 1024,
            tls: Bool = false
        ) {
            self.tls = tls
            self.uploadMinRate = uploadMinRate
            self.uploadRateWindow = uploadRateWindow
            self.maxWorkers = maxWorkers
            self.host = host
            self.port = port
            self.maxConnections = maxConnections
            self.eventThreads = eventThreads
            self.maxBodyBytes = maxBodyBytes
            self.headerTimeout = headerTimeout
            self.bodyTimeout = bodyTimeout
        }
    }

    let router: Router
    let logger: Logger
    let configuration: Configuration
    /// The MHD_Daemon pointer's bits (OpaquePointer is not Sendable); 0 when not running.
    private let daemon = Atomic<UInt>(0)
    let inFlight = Atomic<Int>(0)
    /// Set while `shutdown` waits for the requests in flight; `drained` wakes it.
    let draining = Atomic<Bool>(false)
    let drained = Lock(())
    let requestCounter = Atomic<UInt64>(0)
    /// After a burst, the memory its transfers freed goes back to the kernel.
    let workers: WorkerPool
    private let boundPort = Atomic<UInt16>(0)

    package init(configuration: Configuration, router: Router, logger: Logger) {
        self.configuration = configuration
        self.router = router
        self.logger = logger
        workers = WorkerPool(name: "http-worker", maxThreads: configuration.maxWorkers, whenQuiet: { HeapTrim.release() })
    }

    /// The worker pool's figures for /metrics: threads alive, and jobs waiting for one.
    var workerFigures: (threads: Int, queued: Int) { workers.figures }

    /// The port actually bound (meaningful after `start`, also when 0 was asked for).
    package var port: UInt16 { boundPort.load(ordering: .acquiring) }

    package enum StartError: Error, CustomStringConvertible {
        case cannotStart(host: String, port: UInt16)
        case noCertificate
        package var description: String {
            switch self {
            case .cannotStart(let host, let port): "cannot listen on \(host):\(port) (address invalid or in use)"
            case .noCertificate: "TLS is on but no certificate is installed"
            }
        }
    }

    package func start() throws(StartError) {
        if configuration.tls, !TLSIdentity.isInstalled { throw .noCertificate }
        let context = Unmanaged.passUnretained(self).toOpaque()
        // A 32 KiB memory pool per connection: MHD zeroes it between keep-alive requests, and at
        // 64 KiB that memset alone was 5% of a cache-hit 4 KiB GET.
        // Two loops per core, at least 4: a loop that is descheduled (or held up by a lock an
        // inline handler needs) holds up only its share of the connections. On 2 cores, cached
        // 4 KiB GETs under wrk -c32 measured the same with 2, 4 or 8 loops (0.8-1.0x nginx, noise).
        let threads = configuration.eventThreads > 0 ? configuration.eventThreads : max(4, 2 * ProcessInfo.processInfo.activeProcessorCount)
        // The daemon's timeout is the header timeout: the many idle connections stay on MHD's
        // sorted timeout list, which costs nothing until one is due; requests with a body switch.
        let handle = appliance_mhd_start(
            configuration.host, configuration.port, configuration.tls ? 1 : 0, 32 * 1024, UInt32(configuration.headerTimeout),
            UInt32(configuration.maxConnections), UInt32(threads),
            accessHandlerTrampoline, context, requestCompletedTrampoline, context)
        guard let handle else { throw .cannotStart(host: configuration.host, port: configuration.port) }
        daemon.store(UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle))), ordering: .releasing)
        boundPort.store(appliance_mhd_bound_port(handle), ordering: .releasing)
    }

    /// Stops accepting connections, lets in-flight requests finish (up to `drainTimeout`), then
    /// stops the daemon (closing idle keep-alive connections).
    package func shutdown(drainTimeout: Duration = .seconds(30)) {
        let bits = daemon.exchange(0, ordering: .acquiringAndReleasing)
        guard let handle = OpaquePointer(bitPattern: bits) else { return }
        let listenFD = MHD_quiesce_daemon(handle)
        draining.store(true, ordering: .releasing)
        let seconds = Double(drainTimeout.components.seconds) + Double(drainTimeout.components.attoseconds) / 1e18
        drained.wait(seconds: seconds) { _ in inFlight.load(ordering: .acquiring) == 0 }
        let remaining = inFlight.load(ordering: .acquiring)
        if remaining > 0 {
            // Some may be suspended while a worker still runs them, and MHD_stop_daemon must not
            // see a suspended connection: the daemon is left to the process's exit.
            logger.warning("stopping with requests still in flight", metadata: ["count": "\(remaining)"])
        } else {
            MHD_stop_daemon(handle)
        }
        if listenFD >= 0 { Glibc.close(listenFD) }
    }
}
