// A catalog that cannot be read is never taken for an answer: a scrub whose catalog reads fail
// ends `failed` with the reason (not `finished` with nothing found), and a drain whose catalog
// reads fail stops with the reason (not "the device holds no copies now").
import Catalog
import Foundation
import Glibc
import Testing

@testable import Engine

@Suite struct CatalogErrorTests {
    @Test func aScrubWhoseCatalogReadsFailEndsFailedWithTheReason() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, volume: "vol", replicas: 2)
        defer { engine.shutdown() }
        try Scratch.upload(engine, "vol", "a", Scratch.splitMixBytes(100_000, seed: 1))
        // Every catalog call of this engine's scrub thread fails.
        Syscalls.injectFault(call: engine.catalogFault, errno: EIO, threadNamed: "scrub", times: .max)
        defer { Syscalls.clearFault(call: engine.catalogFault) }

        _ = try engine.startScrub()
        #expect(engine.waitForScrubAndRepairs())
        let status = engine.scrubStatus()
        #expect(status.state == .failed)
        #expect(status.problem?.contains("catalog") == true)
        #expect(engine.scrubCounters().lastFinished == 0, "a failed scrub is not a finished one")
    }

    @Test func aDrainWhoseCatalogReadsFailStopsWithTheReasonAndTheDeviceStillHoldsItsCopies() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 3, volume: "vol", replicas: 2)
        defer { engine.shutdown() }
        for i in 0..<4 { try Scratch.upload(engine, "vol", "k\(i)", Scratch.splitMixBytes(50_000, seed: UInt64(i))) }
        let target = devices[0].id
        let before = engine.space.deviceAllocated(target)
        #expect(before > 0)
        Syscalls.injectFault(call: engine.catalogFault, errno: EIO, threadNamed: "evacuate", times: .max)
        defer { Syscalls.clearFault(call: engine.catalogFault) }

        _ = try engine.setDeviceState(id: target, to: .draining)
        let until = Date().addingTimeInterval(30)
        while engine.evacuator.running, Date() < until { usleep(10_000) }
        #expect(!engine.evacuator.running)
        #expect(engine.evacuator.stalled(target)?.contains("catalog") == true, "the job says why it stopped")
        #expect(engine.space.deviceAllocated(target) == before, "nothing was moved, nothing was taken as moved")
    }
}
