// Whether a write can be placed at all: every extent it writes (or, for a buffered write, that
// its writeback will write copy-on-write) needs `replicas` distinct active devices. A write is
// refused before its first byte when they are not there (every device readonly, draining or
// failed, or fewer active ones than the volume's replicas), instead of being accepted and then
// failing at writeback.
import Catalog

extension Engine {
    /// An empty object writes no extent: it needs no device.
    func requirePlacement(_ volume: VolumeRecord, length: Int64?) throws(EngineError) {
        guard length != 0, allocator.activeDeviceCount() < volume.replicas else { return }
        let bytes = max(length ?? 0, Allocator.unit)
        throw .noSpace(.pool, needed: SpaceAccounting.physicalBytes(logical: bytes, replicas: volume.replicas), available: 0)
    }
}
