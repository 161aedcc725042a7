// The console's activity graphs come from samples the server keeps: every `interval` seconds, the
// requests answered, the bytes read and written, the dirty pages and the reserved bytes, for the
// last hour (a ring of samples; nothing on disk). One PeriodicTask samples; pages read a copy.
import Engine
import Foundation
import Synchronization

final class ActivityHistory: Sendable {
    struct Sample: Sendable {
        var at: Double
        var requests: Int64
        var bytesRead: Int64
        var bytesWritten: Int64
        var dirtyPages: Int64
        var reservedBytes: Int64
    }

    let interval: Double
    let capacity: Int
    private let samples = Mutex<[Sample]>([])
    private let task = Mutex<PeriodicTask?>(nil)
    private let take: @Sendable () -> Sample?

    init(interval: Double = 10, window: Double = 3600, engine: Engine, metrics: HTTPMetrics) {
        self.interval = interval
        capacity = Int(window / interval) + 1
        take = { [weak engine] in
            guard let engine, let snapshot = try? engine.snapshot() else { return nil }
            return Self.sample(snapshot, requests: metrics.answered.load(ordering: .relaxed))
        }
    }

    static func sample(_ snapshot: EngineSnapshot, requests: Int64) -> Sample {
        let volumes = snapshot.io.volumes.values
        return Sample(
            at: Date().timeIntervalSince1970, requests: requests, bytesRead: volumes.reduce(0) { $0 + $1.bytesRead },
            bytesWritten: volumes.reduce(0) { $0 + $1.bytesWritten }, dirtyPages: snapshot.volumes.reduce(0) { $0 + $1.cache.dirtyPages },
            reservedBytes: snapshot.volumes.reduce(0) { $0 + $1.reservedBytes })
    }

    /// Takes the first sample and starts the sampling thread.
    func start() {
        record()
        let started = PeriodicTask(name: "console-activity", period: { [interval] in interval }) { [weak self] in
            guard let self else { return false }
            record()
            return true
        }
        task.withLock { $0 = started }
    }

    func stop() { task.withLock { $0 }?.stop() }

    private func record() {
        guard let sample = take() else { return }
        samples.withLock { all in
            all.append(sample)
            if all.count > capacity { all.removeFirst(all.count - capacity) }
        }
    }

    /// The kept samples and one taken now (not kept), oldest first.
    func recent() -> [Sample] {
        var all = samples.withLock { $0 }
        if let now = take() { all.append(now) }
        return all
    }
}

/// A small line chart as SVG (no script, no inline style): the values scaled into a fixed box.
enum SVGChart {
    static func render(_ series: [[Double]], label: String) -> String {
        let width = 300.0
        let height = 100.0
        let peak = max(series.flatMap { $0 }.max() ?? 0, 1e-9)
        var out = #"<svg class="chart" viewBox="0 0 300 100" preserveAspectRatio="none" role="img" aria-label=""#
        out += escape(label) + #"">"#
        out += #"<line x1="0" y1="99" x2="300" y2="99"/>"#
        for (index, values) in series.enumerated() where !values.isEmpty {
            let step = values.count > 1 ? width / Double(values.count - 1) : 0
            let points = values.enumerated().map { i, value in
                String(format: "%.1f,%.1f", Double(i) * step, height - 2 - (value / peak) * (height - 6))
            }
            out += #"<polyline class=""# + (index == 0 ? "first" : "second") + #"" points=""# + points.joined(separator: " ") + #""/>"#
        }
        return out + "</svg>"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
