import Foundation
import Synchronization
import Testing

// The device set is the one owner of device state: an operator's change racing a failure found on
// the data path ends with one state that every reader agrees on (the device's reported state, the
// allocator's choice of devices, the space accounting's withheld figures) — a failed device never
// takes allocations again because an operator's change landed after the failure.
@testable import Engine

@Suite struct DeviceSetTests {
    @Test func anOperatorChangeRacingAFailureLeavesOneStateEveryoneReads() throws {
        for round in 0..<10 {
            let dir = try Scratch.directory()
            defer { Scratch.remove(dir) }
            let (engine, devices) = try Scratch.engine(dir, devices: 2, volume: "vol", replicas: 1)
            defer { engine.shutdown() }
            let (id, other) = (devices[0].id, devices[1].id)
            let start = DispatchGroup()
            let done = DispatchGroup()
            start.enter()
            done.enter()
            Thread {
                defer { done.leave() }
                start.wait()
                // readonly ⇄ active while the other thread fails the device.
                for target in [DeviceState.readonly, .active, .readonly, .active] { _ = try? engine.setDeviceState(id: id, to: target) }
            }.start()
            done.enter()
            Thread {
                defer { done.leave() }
                start.wait()
                for _ in 0..<Engine.deviceErrorThreshold { engine.deviceIOError(id) }
            }.start()
            start.leave()
            done.wait()

            #expect(try engine.device(id: id).state == .failed, "round \(round)")
            #expect(engine.devices.allocatable == [other], "a failed device takes no allocations (round \(round))")
            #expect(throws: EngineError.deviceStateChange(id: id, from: "failed", to: "active")) {
                try engine.setDeviceState(id: id, to: .active)
            }
            for _ in 0..<8 {
                let ranges = try #require(engine.allocator.allocate(length: 4096, replicas: 1))
                #expect(ranges.allSatisfy { $0.deviceID == other })
                engine.allocator.free(ranges)
            }
        }
    }
}
