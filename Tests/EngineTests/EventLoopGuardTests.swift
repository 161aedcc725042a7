import Foundation
import Testing

// Debug builds trap when code that may wait runs on an event loop thread; off the loop (and on
// the loop for what never waits) nothing happens.
@testable import Engine

@Suite struct EventLoopGuardTests {
    @Test func theMarkIsScopedToItsCallback() {
        #expect(!EventLoopGuard.isOnLoop)
        EventLoopGuard.onLoop {
            #expect(EventLoopGuard.isOnLoop)
            EventLoopGuard.onLoop { #expect(EventLoopGuard.isOnLoop) }
            #expect(EventLoopGuard.isOnLoop)
        }
        #expect(!EventLoopGuard.isOnLoop)
    }

    @Test func waitingOffTheLoopIsFine() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        #expect(try engine.listVolumes().isEmpty)
    }

    #if DEBUG
        // The child traps before it could clean up, so the parent owns the directory.
        @Test func aCatalogCallOnAnEventLoopTraps() async throws {
            let scratch = try Scratch.directory()
            defer { Scratch.remove(scratch) }
            let path = scratch.path
            await #expect(processExitsWith: .failure) { [path = path as String] in
                let dir = URL(filePath: path)
                let engine = try Scratch.engine(dir)
                _ = try? EventLoopGuard.onLoop { try engine.listVolumes() }
            }
        }

        @Test func diskIOOnAnEventLoopTraps() async throws {
            let scratch = try Scratch.directory()
            defer { Scratch.remove(scratch) }
            let path = scratch.path
            await #expect(processExitsWith: .failure) { [path = path as String] in
                let dir = URL(filePath: path)
                let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
                try Scratch.upload(engine, "vol", "k", [1, 2, 3])
                let reader = try engine.openObject(volume: "vol", key: "k")
                var buffer = [UInt8](repeating: 0, count: 3)
                _ = try? EventLoopGuard.onLoop { try buffer.withUnsafeMutableBytes { try reader.read(at: 0, into: $0) } }
            }
        }
    #endif
}
