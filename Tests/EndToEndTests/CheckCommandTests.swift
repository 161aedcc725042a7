// `appliance check`: the real binary on a real data directory, clean, with one copy of an object
// rotted on its device file (found through the catalog's extent map), missing, and in use.
import Catalog
import Engine
import Foundation
import Testing

@Suite struct CheckCommandTests {
    /// Runs `appliance check` with `arguments`; its exit status and output.
    static func check(_ arguments: [String]) throws -> (status: Int32, output: String) { try run(["check"] + arguments) }

    /// Runs `appliance` with `arguments` to its end; its exit status and output.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = ApplianceProcess.binary
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func findsARottedCopyOnlyWhenAskedToReadTheData() async throws {
        let app = try ApplianceProcess(extraArguments: ["--s3-listen", "off"])
        try await ObjectEndToEndTests.makeVolume(app, replicas: 2)
        let data = ObjectEndToEndTests.randomData(300_000)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/photo", body: data).status == 201)

        // Running: the data directory is locked.
        let busy = try Self.check(["--data-dir", app.dataDir.path])
        #expect(busy.status == 2, "\(busy.output)")
        #expect(busy.output.contains("in use"))
        app.stop(removeData: false)
        defer { try? FileManager.default.removeItem(at: app.dataDir) }

        let clean = try Self.check(["--data-dir", app.dataDir.path, "--verify-data"])
        #expect(clean.status == 0, "\(clean.output)")
        #expect(clean.output.contains("1 objects, 2 extent copies, 2 copies"), "\(clean.output)")

        // Rot 2 bytes of one copy, 5000 bytes in.
        let (found, devicePath) = try OpenedCatalog.withCatalog(dataDirectory: app.dataDir.path) { catalog in
            let first = try catalog.allExtentReplicas().first
            return (first, try catalog.devices().first { $0.record.id == first?.deviceId }?.record.path)
        }
        let copy = try #require(found)
        let device = try #require(devicePath)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: device))
        try handle.seek(toOffset: UInt64(copy.physicalOffset + 5000))
        try handle.write(contentsOf: Data([0xDE, 0xAD]))
        try handle.close()

        let quick = try Self.check(["--data-dir", app.dataDir.path])
        #expect(quick.status == 0, "without --verify-data the data is not read: \(quick.output)")
        let deep = try Self.check(["--data-dir", app.dataDir.path, "--verify-data"])
        #expect(deep.status == 1, "\(deep.output)")
        #expect(deep.output.contains("problem: objs/photo bytes 0-299999"), "\(deep.output)")
        #expect(deep.output.contains("fail their checksum"), "\(deep.output)")
        #expect(deep.output.contains("1 problem(s)"), "\(deep.output)")
    }

    @Test func aDirectoryWithoutACatalogIsNotChecked() throws {
        let dir = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try Self.check(["--data-dir", dir.path])
        #expect(result.status == 2)
        #expect(result.output.contains("not an appliance data directory"))
    }
}
