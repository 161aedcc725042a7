// Renders an engine snapshot as Prometheus families. A fresh registry per scrape, so devices and
// volumes that are gone disappear from the exposition.
import Engine
import Prometheus

enum EngineCollector {
    static func emit(_ snapshot: EngineSnapshot, into buffer: inout [UInt8]) {
        let registry = PrometheusCollectorRegistry()
        let pool = snapshot.pool
        func gauge(_ name: String, _ help: String, _ value: Int64, _ labels: [(String, String)] = []) {
            registry.makeGauge(descriptor: .init(metricName: name, unitName: "", helpText: help), labels: labels).set(Double(value))
        }
        gauge("appliance_pool_capacity_bytes", "Usable bytes on all member devices", pool.capacityBytes)
        gauge("appliance_pool_allocated_bytes", "Bytes allocated to object data (all replicas)", pool.allocatedBytes)
        gauge("appliance_pool_reserved_bytes", "Bytes reserved for thick volumes and not yet allocated", pool.reservedBytes)
        gauge("appliance_pool_free_bytes", "Bytes neither allocated nor reserved", pool.freeBytes)
        gauge("appliance_pool_devices", "Member devices", Int64(pool.deviceCount))
        gauge("appliance_pool_volumes", "Volumes", Int64(pool.volumeCount))
        gauge("appliance_pool_degraded_bytes", "Bytes of copies on failed devices, not yet re-created elsewhere", pool.degradedBytes)
        let metadata = pool.metadataCopies
        gauge(
            "appliance_metadata_copies_wanted", "Catalog copies wanted (--metadata-copies, or every active device when fewer)", Int64(metadata.wanted)
        )
        gauge("appliance_metadata_copies_healthy", "Catalog copies on active devices", Int64(metadata.healthy))
        gauge("appliance_metadata_database_bytes", "Bytes of the catalog database file (the WAL aside)", snapshot.metadata.databaseBytes)
        gauge("appliance_metadata_capacity_bytes", "Room for the catalog database in the smallest copy", snapshot.metadata.databaseCapacity)
        gauge("appliance_metadata_generation", "Generation of the catalog's copy set", Int64(snapshot.metadata.generation))
        for device in metadata.devices {
            gauge("appliance_metadata_copy", "1 for each device holding a copy of the catalog", 1, [("device", device)])
        }
        for device in snapshot.devices {
            // By id and operator label, never by path: a scrape must not map the host's disks.
            let labels = [("device", device.id), ("label", device.label ?? "")]
            gauge("appliance_device_capacity_bytes", "Usable bytes on the device", device.capacityBytes, labels)
            gauge("appliance_device_used_bytes", "Bytes allocated on the device", device.usedBytes, labels)
            gauge(
                "appliance_device_moved_bytes", "Bytes of copies moved off the device by a drain or rebuild (since start)", device.movedBytes, labels)
            for state in DeviceState.allCases {
                gauge(
                    "appliance_device_state", "1 for the device's current state", device.state == state ? 1 : 0,
                    [("device", device.id), ("state", state.rawValue)])
            }
        }
        for volume in snapshot.volumes {
            let labels = [("volume", volume.name)]
            gauge("appliance_volume_capacity_bytes", "Volume quota in bytes", volume.capacityBytes, labels)
            gauge("appliance_volume_used_bytes", "Logical bytes of the volume's objects, every version", volume.usedBytes, labels)
            gauge("appliance_volume_noncurrent_bytes", "Logical bytes of object versions that are not current", volume.noncurrentBytes, labels)
            gauge("appliance_volume_snapshot_bytes", "Logical bytes held only by the volume's snapshots", volume.snapshotBytes, labels)
            gauge(
                "appliance_volume_shared_bytes", "Logical bytes of objects that read bytes another owns (a clone's origin, copies)",
                volume.sharedBytes, labels)
            gauge("appliance_volume_reserved_bytes", "Pool bytes reserved for the volume and not yet allocated", volume.reservedBytes, labels)
            gauge("appliance_volume_objects", "Objects in the volume", volume.objectCount, labels)
            gauge("appliance_volume_dirty_pages", "Cached pages with data not yet written back", volume.cache.dirtyPages, labels)
            gauge("appliance_volume_dirty_bytes", "Bytes of dirty pages", volume.cache.dirtyBytes, labels)
            gauge("appliance_volume_writeback_pages", "Pages under writeback", volume.cache.writebackPages, labels)
            gauge("appliance_volume_cached_pages", "Pages in the page cache", volume.cache.cachedPages, labels)
        }
        func counter(_ name: String, _ help: String, _ value: Int64, _ labels: [(String, String)]) {
            registry.makeCounter(descriptor: .init(metricName: name, unitName: "", helpText: help), labels: labels)
                .increment(by: value)
        }
        func counters(_ prefix: String, _ what: String, _ labels: [(String, String)], _ c: IOCounters) {
            counter("\(prefix)_read_bytes_total", "Bytes read from the \(what)", c.bytesRead, labels)
            counter("\(prefix)_written_bytes_total", "Bytes written to the \(what)", c.bytesWritten, labels)
            counter("\(prefix)_read_ops_total", "Read operations on the \(what)", c.readOps, labels)
            counter("\(prefix)_write_ops_total", "Write operations on the \(what)", c.writeOps, labels)
        }
        for volume in snapshot.volumes {
            let labels = [("volume", volume.name)]
            counters("appliance_volume", "volume", labels, snapshot.io.volumes[volume.name] ?? IOCounters())
            counter("appliance_volume_cache_hits_total", "Page-cache hits (pages) on reads", volume.cache.hits, labels)
            counter("appliance_volume_cache_misses_total", "Page-cache misses (page runs filled from disk)", volume.cache.misses, labels)
            counter("appliance_volume_writeback_bytes_total", "Bytes written back from the cache", volume.cache.writebackBytes, labels)
        }
        counter("appliance_metadata_syncs_total", "Syncs of the catalog (each reaches every copy)", Int64(snapshot.metadata.syncs), [])
        counter(
            "appliance_metadata_checksum_failures_total", "Catalog pages read back with a bad checksum (per copy)",
            Int64(snapshot.metadata.checksumFailures), [])
        counter("appliance_metadata_repaired_pages_total", "Catalog pages rewritten from a good copy", Int64(snapshot.metadata.repairedPages), [])
        gauge("appliance_pool_reservable_bytes", "Pool bytes new writes can still reserve", snapshot.cache.reservable)
        gauge("appliance_cache_capacity_bytes", "Bound on the page cache's cached pages", snapshot.cache.capacityBytes)
        gauge("appliance_engine_worker_threads", "Engine worker threads alive (writeback helpers, read-ahead)", Int64(snapshot.workerThreads))
        gauge("appliance_engine_worker_queue_depth", "Engine jobs waiting for a worker thread", Int64(snapshot.workerQueue))
        gauge("appliance_cache_memory_bytes", "Memory carved for page frames (kept for reuse, never returned)", snapshot.cache.memoryBytes)
        gauge("appliance_cache_used_bytes", "Page frames holding data: cached, staged by uploads, or being sent", snapshot.cache.usedBytes)
        counter("appliance_writeback_bytes_total", "Bytes written back from the page cache", snapshot.cache.writebackBytes, [])
        counter("appliance_writeback_errors_total", "Writebacks that failed (the data stays dirty for a retry)", snapshot.cache.writebackErrors, [])
        counter("appliance_writeback_throttled_total", "Times a writer waited for writeback above the hard dirty limit", snapshot.cache.throttled, [])
        for (name, counts) in snapshot.io.modes.sorted(by: { $0.key < $1.key }) {
            let parts = name.split(separator: "|").map(String.init)
            let labels = [("volume", parts[0]), ("mode", parts[1])]
            counter("appliance_volume_mode_read_bytes_total", "Object bytes read, by IO mode", counts.bytesRead, labels)
            counter("appliance_volume_mode_written_bytes_total", "Object bytes written, by IO mode", counts.bytesWritten, labels)
            counter("appliance_volume_mode_read_ops_total", "Object reads, by IO mode", counts.readOps, labels)
            counter("appliance_volume_mode_write_ops_total", "Object writes, by IO mode", counts.writeOps, labels)
        }
        for device in snapshot.devices {
            let c = snapshot.io.devices[device.id] ?? IOCounters()
            let labels = [("device", device.id)]
            counters("appliance_device", "device", labels, c)
            counter("appliance_device_io_errors_total", "IO errors (EIO, short IO) on the device", c.ioErrors, labels)
            counter("appliance_device_checksum_errors_total", "Blocks read from the device that failed their checksum", c.checksumErrors, labels)
        }
        let scrub = snapshot.scrub
        counter("appliance_scrub_checked_bytes_total", "Bytes of extent copies read and verified by scrubs", scrub.checkedBytes, [])
        counter("appliance_scrub_errors_total", "Copies found bad (checksum, IO error, failed device) by scrubs and reads", scrub.errors, [])
        counter("appliance_scrub_repaired_total", "Bad copies rewritten from good ones (scrub and read repair)", scrub.repaired, [])
        counter("appliance_scrub_unrepairable_total", "Byte ranges no copy holds intact", scrub.unrepairable, [])
        gauge("appliance_scrub_running", "1 while a scrub runs", scrub.running ? 1 : 0)
        gauge("appliance_scrub_run_checked_bytes", "Bytes the running (or last) scrub has checked", scrub.runCheckedBytes)
        gauge("appliance_scrub_run_total_bytes", "Bytes of copies the running (or last) scrub checks in all", scrub.runTotalBytes)
        registry.makeGauge(
            descriptor: .init(
                metricName: "appliance_scrub_last_completed_timestamp_seconds", unitName: "", helpText: "When the last scrub finished (0: never)"),
            labels: []
        )
        .set(scrub.lastFinished)
        registry.emit(into: &buffer)
        emitLatency(snapshot.io.latency, into: &buffer)
    }

    /// The engine IO latency histogram. Its buckets are counted in the engine (which knows no
    /// metrics library), so the family is rendered here in the text format.
    private static func emitLatency(_ histograms: [String: LatencyHistogram], into buffer: inout [UInt8]) {
        let name = "appliance_engine_io_duration_seconds"
        var text = "# HELP \(name) Engine IO latency (io_uring submit to completion) by operation\n# TYPE \(name) histogram\n"
        for operation in ["read", "write", "sync"] {
            let histogram = histograms[operation] ?? LatencyHistogram()
            var cumulative: Int64 = 0
            for (index, bound) in LatencyHistogram.bounds.enumerated() {
                cumulative += histogram.counts[index]
                text += "\(name)_bucket{op=\"\(operation)\",le=\"\(bound)\"} \(cumulative)\n"
            }
            text += "\(name)_bucket{op=\"\(operation)\",le=\"+Inf\"} \(histogram.count)\n"
            text += "\(name)_sum{op=\"\(operation)\"} \(histogram.sum)\n"
            text += "\(name)_count{op=\"\(operation)\"} \(histogram.count)\n"
        }
        buffer += Array(text.utf8)
    }
}
