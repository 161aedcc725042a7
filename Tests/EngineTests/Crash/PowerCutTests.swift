import Foundation
import Testing

// Power cuts at every durability barrier of a workload (PowerCutRun), and the bugs planted in the
// engine that the same check must catch. Bounded for `make test`; APPLIANCE_POWERCUT_SCALE=N runs
// N seeds of N times as many operations and crash points (APPLIANCE_POWERCUT_SEED: the first). The durability model is one per
// process, hence serialized.
@testable import Engine

@Suite(.serialized) struct PowerCutTests {
    static var scale: Int { Int(ProcessInfo.processInfo.environment["APPLIANCE_POWERCUT_SCALE"] ?? "") ?? 1 }
    /// The first seed (APPLIANCE_POWERCUT_SEED); rounds take the next ones.
    static var seed: UInt64 { UInt64(ProcessInfo.processInfo.environment["APPLIANCE_POWERCUT_SEED"] ?? "") ?? 0xC0FFEE }

    @Test func everyCrashPointKeepsWhatWasAcknowledged() throws {
        var total = PowerCutReport(seed: 0)
        for round in 0..<Self.scale {
            let settings = PowerCutRun.Settings(seed: Self.seed &+ UInt64(round), opsPerThread: 14 * Self.scale, maxImages: 60 * Self.scale)
            let report = try PowerCutRun.run(settings)
            print("[power-cut] \(report.summary)")
            for violation in report.violations.prefix(10) { print("[power-cut]   \(violation)") }
            #expect(report.violations.isEmpty, "\(report.violations.prefix(5))")
            #expect(report.images > 20, "too few crash points: \(report.summary)")
            total.barriers += report.barriers
            total.images += report.images
            total.statesChecked += report.statesChecked
            total.undurableWrites += report.undurableWrites
            total.snapshotsChecked += report.snapshotsChecked
            total.clonesChecked += report.clonesChecked
            total.copiesMade += report.copiesMade
        }
        print(
            "[power-cut] total over \(Self.scale) seed(s): \(total.images) crash points, \(total.statesChecked) key states, \(total.snapshotsChecked) snapshots, \(total.clonesChecked) clones, \(total.copiesMade) copies, \(total.undurableWrites) undurable writes"
        )
    }

    @Test(arguments: [
        ("the catalog commit before the data's fdatasync", PlantedFaults.commitBeforeDataSync),
        ("a catalog without synchronous = FULL", PlantedFaults.catalogWithoutFullSync),
        ("space reused before the commit that freed it is durable", PlantedFaults.reuseBeforeFreeIsDurable),
        ("a commit answered before every catalog copy is synced", PlantedFaults.catalogCopiesUnsynced),
    ])
    func aPlantedBugIsCaught(_ name: String, _ fault: PlantedFaults) throws {
        var found: PowerCutReport?
        for seed in UInt64(1)...4 {
            let report = try PowerCutRun.run(.init(seed: seed, opsPerThread: 12, maxImages: 60, planted: fault, stopAtFirstViolation: true))
            print("[power-cut] planted \(name): \(report.summary)")
            if !report.violations.isEmpty {
                found = report
                print("[power-cut]   first: \(report.violations[0].prefix(400))")
                break
            }
        }
        #expect(found != nil, "the power-cut check did not catch \(name)")
    }
}
