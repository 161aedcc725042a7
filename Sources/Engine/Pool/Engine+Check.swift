// `appliance check` (offline fsck) and the power-cut test's verdict on a reopened pool: the
// catalog's integrity, every device's superblock, every extent copy inside its device's data area
// and disjoint from every other, free space and allocations tiling each device exactly, and with
// `verifyData` every copy of every object's extents read back against its checksums.
import Catalog
import Foundation

package struct CheckReport: Sendable {
    package var problems: [String] = []
    package var devices = 0
    package var objects = 0
    /// Extent copies (replicas) the catalog records, parts of multipart uploads included.
    package var copies = 0
    /// Copies read back and verified (with `verifyData`), and their bytes.
    package var verifiedCopies = 0
    package var verifiedBytes: Int64 = 0
    /// Copies of the catalog checked.
    package var catalogCopies = 0
    /// Inline extents (bytes in the catalog) verified (with `verifyData`).
    package var inlineExtents = 0

    package var ok: Bool { problems.isEmpty }

    package var summary: String {
        let verified =
            (verifiedCopies > 0 ? ", \(verifiedCopies) copies (\(verifiedBytes) bytes) verified" : "")
            + (inlineExtents > 0 ? ", \(inlineExtents) inline objects verified" : "")
        return "\(devices) devices, \(catalogCopies) catalog copies, \(objects) objects, \(copies) extent copies\(verified): "
            + (ok ? "no problems" : "\(problems.count) problem(s)")
    }
}

extension Engine {
    /// Runs every check; nothing is changed.
    package func check(verifyData: Bool) -> CheckReport {
        var report = CheckReport()
        do {
            report.problems += try catalog.integrityProblems().map { "catalog: \($0)" }
            report.problems += mirror.verify()
            let copies = metadataCopiesStatus
            report.catalogCopies = copies.devices.count
            if copies.healthy < copies.wanted {
                report.problems.append("catalog: \(copies.healthy) copies on active devices, \(copies.wanted) wanted")
            }
            let records = try catalog.deviceRecords()
            report.devices = records.count
            for record in records { report.problems += checkSuperblock(record) }
            let replicas = try catalog.allExtentReplicas()
            report.copies = replicas.count
            report.problems += Self.placementProblems(replicas, devices: records)
            report.problems += spaceAudit()
            // Every version of every key (versions not current, too), then every row kept for
            // snapshots, a page at a time.
            for volume in try catalog.volumeRecords() {
                var after: (key: String, rowID: Int64?)?
                while true {
                    let page = try catalog.listVersions(volumeID: volume.id!, prefix: "", after: after, limit: 1000)
                    for record in page where !record.deleteMarker {
                        let name = "\(volume.name)/\(record.key)" + (record.versioned ? "@\(record.versionID)" : "")
                        try check(record, name: name, verifyData: verifyData, into: &report)
                    }
                    guard page.count == 1000, let last = page.last else { break }
                    after = (last.key, last.id)
                }
                var kept: (key: String, rowID: Int64)?
                while true {
                    let page = try catalog.keptRows(volumeID: volume.id!, after: kept, limit: 1000)
                    for record in page where !record.deleteMarker {
                        let name = "\(volume.name)/\(record.key) (row \(record.id!), kept for snapshots)"
                        try check(record, name: name, verifyData: verifyData, into: &report)
                    }
                    guard page.count == 1000, let last = page.last else { break }
                    kept = (last.key, last.id!)
                }
            }
        } catch {
            report.problems.append("catalog: \(error)")
        }
        return report
    }

    /// Counts one object row and, with `verifyData`, reads and verifies every copy of its bytes.
    private func check(_ record: ObjectRecord, name: String, verifyData: Bool, into report: inout CheckReport) throws {
        report.objects += 1
        guard verifyData, let object = try catalog.object(rowID: record.id!) else { return }
        for extent in object.extents.map(Extent.init) {
            if extent.isInline {
                report.inlineExtents += 1
                if let problem = checkInline(extent, key: record.key) {
                    report.problems.append("\(name) bytes \(extent.logicalOffset)-\(extent.logicalEnd - 1): \(problem)")
                }
            }
            for replica in extent.replicas {
                report.verifiedCopies += 1
                report.verifiedBytes += Int64(extent.checksums.count) * Extent.checksumBlock
                if let problem = checkReplica(extent, replica) {
                    report.problems.append("\(name) bytes \(extent.logicalOffset)-\(extent.logicalEnd - 1): \(problem)")
                }
            }
        }
    }

    private func checkSuperblock(_ record: DeviceRecord) -> [String] {
        let name = "device \(record.id) (\(record.path))"
        if let reason = devices.failureReason(id: record.id) { return ["\(name): \(reason)"] }
        guard let device = devices.device(id: record.id) else { return ["\(name): not open"] }
        do {
            switch try device.readSuperblock() {
            case .superblock(let superblock):
                var problems: [String] = []
                if superblock.poolUUID != poolUUID { problems.append("\(name): its superblock names pool \(superblock.poolUUID), not this one") }
                if superblock.deviceUUID.uuidString.lowercased() != record.id.lowercased() {
                    problems.append("\(name): its superblock names device \(superblock.deviceUUID)")
                }
                if superblock.dataOffset != record.dataOffset {
                    problems.append("\(name): data offset \(superblock.dataOffset) on disk, \(record.dataOffset) in the catalog")
                }
                return problems
            case let other:
                return ["\(name): no valid superblock (\(other))"]
            }
        } catch {
            return ["\(name): \(error)"]
        }
    }

    /// Every copy inside its device's data area, and no two copies sharing a byte.
    static func placementProblems(_ replicas: [ExtentReplicaRecord], devices: [DeviceRecord]) -> [String] {
        let areas = Dictionary(uniqueKeysWithValues: devices.map { ($0.id, $0.dataOffset..<$0.dataOffset + $0.capacityBytes) })
        var problems: [String] = []
        for (device, copies) in Dictionary(grouping: replicas, by: \.deviceId) {
            guard let area = areas[device] else {
                problems.append("\(copies.count) extent copies on device \(device), which the catalog does not have")
                continue
            }
            var end = area.lowerBound
            for copy in copies.sorted(by: { $0.physicalOffset < $1.physicalOffset }) {
                let range = copy.physicalOffset..<copy.physicalOffset + copy.length
                if copy.length <= 0 || range.lowerBound < area.lowerBound || range.upperBound > area.upperBound {
                    problems.append("device \(device.prefix(8)): extent copy \(range) lies outside the data area \(area)")
                }
                if range.lowerBound < end { problems.append("device \(device.prefix(8)): extent copy \(range) overlaps another ending at \(end)") }
                end = max(end, range.upperBound)
            }
        }
        return problems
    }
}
