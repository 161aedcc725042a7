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
        for device in snapshot.devices {
            let labels = [("device", device.id), ("path", device.path)]
            gauge("appliance_device_capacity_bytes", "Usable bytes on the device", device.capacityBytes, labels)
            gauge("appliance_device_used_bytes", "Bytes allocated on the device", device.usedBytes, labels)
            for state in DeviceState.allCases {
                gauge("appliance_device_state", "1 for the device's current state", device.state == state ? 1 : 0,
                      [("device", device.id), ("state", state.rawValue)])
            }
        }
        for volume in snapshot.volumes {
            let labels = [("volume", volume.name)]
            gauge("appliance_volume_capacity_bytes", "Volume quota in bytes", volume.capacityBytes, labels)
            gauge("appliance_volume_used_bytes", "Logical bytes of the volume's objects", volume.usedBytes, labels)
            gauge("appliance_volume_reserved_bytes", "Pool bytes reserved for the volume and not yet allocated", volume.reservedBytes, labels)
            gauge("appliance_volume_objects", "Objects in the volume", volume.objectCount, labels)
        }
        registry.emit(into: &buffer)
    }
}
