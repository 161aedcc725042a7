// HTTP request metrics, labelled by route template (never by raw path).
import Engine
import Prometheus
import Synchronization

package final class HTTPMetrics: Sendable {
    // nonisolated(unsafe): MetricNameDescriptor is an immutable struct of strings that lacks a Sendable annotation.
    let registry = PrometheusCollectorRegistry()
    private static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10),
    ]

    nonisolated(unsafe) private static let requests = MetricNameDescriptor(
        namespace: "appliance", subsystem: "http", metricName: "requests", unitName: "total",
        helpText: "HTTP requests by route template, method and status")
    nonisolated(unsafe) private static let latency = MetricNameDescriptor(
        namespace: "appliance", subsystem: "http", metricName: "request_duration", unitName: "seconds",
        helpText: "HTTP request latency by route template and method")

    nonisolated(unsafe) private static let s3Requests = MetricNameDescriptor(
        namespace: "appliance", subsystem: "s3", metricName: "requests", unitName: "total",
        helpText: "S3 requests by operation (PutObject, GetObject, ...) and status")

    /// Requests answered on both listeners since start (the console's activity graph).
    let answered = Atomic<Int64>(0)

    package init() {}

    /// A gauge read at scrape time: name, help, labels, value.
    typealias Gauge = (name: String, help: String, labels: [(String, String)], value: Int64)
    private let gaugeSources = Lock<[@Sendable () -> [Gauge]]>([])

    /// Adds gauges read at every scrape (the servers' worker pools, uploads in flight).
    private func addGauges(_ source: @escaping @Sendable () -> [Gauge]) {
        gaugeSources.withLock { $0.append(source) }
    }

    /// A listener's worker pool: threads alive, and requests waiting for one.
    package func track(_ server: HTTPServer, listener: String) {
        addGauges { [weak server] in
            guard let figures = server?.workerFigures else { return [] }
            return [
                ("appliance_http_worker_threads", "Worker threads alive", [("listener", listener)], Int64(figures.threads)),
                ("appliance_http_worker_queue_depth", "Requests waiting for a worker thread", [("listener", listener)], Int64(figures.queued)),
            ]
        }
    }

    /// Uploads receiving their body, both listeners together.
    package func track(_ uploads: UploadLimits) {
        addGauges { [uploads] in
            [("appliance_http_uploads_in_flight", "Uploads receiving their body (both listeners)", [], Int64(uploads.inFlight))]
        }
    }

    func emitGauges(into buffer: inout [UInt8]) {
        let registry = PrometheusCollectorRegistry()
        for source in gaugeSources.withLock({ $0 }) {
            for gauge in source() {
                registry.makeGauge(descriptor: .init(metricName: gauge.name, unitName: "", helpText: gauge.help), labels: gauge.labels)
                    .set(Double(gauge.value))
            }
        }
        registry.emit(into: &buffer)
    }

    /// The registry's metric objects for each label set, looked up once (the registry formats
    /// labels on every make call): the route's counter and histogram, and on the S3 listener the
    /// operation's counter, under one key and one lock.
    private struct Handles {
        var requests: Counter
        var latency: DurationHistogram
        var s3Requests: Counter?
    }

    private let handles = Lock<[String: Handles]>([:])

    /// A request answered: by route, method and status, and by S3 operation when `operation` is given.
    func record(route: String, method: String, status: Int, duration: Duration, operation: String? = nil) {
        answered.add(1, ordering: .relaxed)
        let key = operation.map { "\(route) \(method) \(status) \($0)" } ?? "\(route) \(method) \(status)"
        let found = handles.withLock { cache in
            if let found = cache[key] { return found }
            let made = Handles(
                requests: registry.makeCounter(
                    descriptor: Self.requests, labels: [("route", route), ("method", method), ("status", String(status))]),
                latency: registry.makeDurationHistogram(
                    descriptor: Self.latency, labels: [("route", route), ("method", method)], buckets: Self.buckets),
                s3Requests: operation.map {
                    registry.makeCounter(descriptor: Self.s3Requests, labels: [("operation", $0), ("status", String(status))])
                })
            cache[key] = made
            return made
        }
        found.requests.increment()
        found.latency.recordNanoseconds(duration.nanoseconds)
        found.s3Requests?.increment()
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
