// `appliance check --data-dir DIR [--verify-data]`: the offline fsck of a stopped appliance's data
// directory (Engine+Check.swift says what is checked). Prints each problem and a summary; exit
// status 0 when there is none, 1 when there are problems, 2 when the directory cannot be checked.
import ArgumentParser
import Engine
import Foundation
import Logging

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a stopped appliance's data directory: catalog, superblocks, extents, free space, and optionally every checksum.")

    @Option(help: "The data directory to check (the appliance must not be running on it).")
    var dataDir: String

    @Flag(help: "Also read every copy of every object's data back and verify its checksums.")
    var verifyData = false

    @Option(
        name: .customLong("device"),
        help: "A device of the pool, repeatable: where the catalog's copies are read from (default: the data dir's record of the devices).")
    var devices: [String] = []

    func run() throws {
        let fileManager = FileManager.default
        let known = [Engine.catalogFileName, "devices.json", Engine.deviceDirectoryName].contains {
            fileManager.fileExists(atPath: dataDir + "/" + $0)
        }
        guard known || !devices.isEmpty else {
            print(
                "error: \(dataDir) holds no catalog and no record of devices: not an appliance data directory (name the pool's devices with --device)"
            )
            throw ExitCode(2)
        }
        let engine: Engine
        do {
            try DataDirectoryLock.acquire(dataDir)
            var logger = Logger(label: "check")
            logger.logLevel = .error
            engine = try Engine.open(dataDirectory: dataDir, logger: logger, cacheBytes: 64 << 20, devicePaths: devices, placeMetadata: false)
        } catch {
            print("error: \(error)")
            throw ExitCode(2)
        }
        defer { engine.shutdown() }
        let report = engine.check(verifyData: verifyData)
        for problem in report.problems { print("problem: \(problem)") }
        print(report.summary)
        if !report.ok { throw ExitCode(1) }
    }
}
