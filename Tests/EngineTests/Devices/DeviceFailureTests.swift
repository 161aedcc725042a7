import Foundation
import Glibc
import Testing

// A device that keeps failing IO is taken out of service: reads go to the other replica, nothing
// new is allocated on it, and it reports `failed`.
@testable import Engine

@Suite struct DeviceFailureTests {
    @Test func repeatedIOErrorsFailTheDeviceAndReadsUseTheOtherReplica() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 2, volume: "mirror", replicas: 2)
        defer { engine.shutdown() }
        let (a, b) = (devices[0], devices[1])
        let data = Scratch.randomBytes(50_000)
        try Scratch.upload(engine, "mirror", "k", data)

        func readDirect() throws -> [UInt8] {
            let reader = try engine.openObject(volume: "mirror", key: "k")
            defer { reader.close() }
            var bytes = [UInt8](repeating: 0, count: data.count)
            _ = try bytes.withUnsafeMutableBytes { try reader.read(at: 0, into: $0) }
            return bytes
        }
        // Replicas are read in device-id order: the first one gets the injected errors.
        let first = min(a.id, b.id)
        for _ in 0..<Engine.deviceErrorThreshold {
            Syscalls.injectFault(call: "io_uring read", errno: EIO, thisThreadOnly: true)
            #expect(try readDirect() == data, "served from the other replica")
        }
        #expect(try engine.device(id: first).state == .failed)
        #expect(try engine.device(id: first == a.id ? b.id : a.id).state == .active)
        #expect(try readDirect() == data)
        // Nothing new lands on the failed device: a 2-replica write has only one device left.
        #expect(throws: EngineError.self) {
            let w = try engine.beginUpload(volume: "mirror", key: "new", contentType: nil, length: 4096)
            try [UInt8](repeating: 1, count: 4096).withUnsafeBytes { try w.append($0) }
            _ = try w.commit()
        }
    }
}
