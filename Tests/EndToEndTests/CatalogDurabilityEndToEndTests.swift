// A sync PUT is durable on a power cut only if the catalog commit that points at its data is in a
// WAL that SQLite has fsynced before the answer. Traced from outside with strace: every sync PUT
// and DELETE must cost the running server an fsync of catalog.sqlite-wal (under WAL with
// `synchronous = NORMAL` there were 11 of them for 579 sync PUTs: checkpoints only).
import Foundation
import Testing

@Suite struct CatalogDurabilityEndToEndTests {
    /// Traces fsync/fdatasync of every thread of `pid` into a file, with the paths of their fds.
    final class FsyncTrace {
        let output: URL
        let process = Process()

        /// Attaches to every thread but io_uring's workers (`iou-*`: they never stop for a tracer,
        /// so strace could not detach from them), following the threads they start.
        init(pid: Int32, in dir: URL) throws {
            output = dir.appendingPathComponent("fsyncs-\(UUID().uuidString).trace")
            let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").filter { tid in
                let name = (try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/comm", encoding: .utf8)) ?? "iou-"
                return !name.hasPrefix("iou-")
            }
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["strace", "-f", "-y", "-e", "trace=fsync,fdatasync", "-o", output.path, "-p", tasks.joined(separator: ",")]
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(500_000)  // Attached by then (it prints nothing until a traced call).
        }

        /// Stops tracing; the number of syncs of files whose path ends in `suffix`.
        func stop(countingPathsEndingIn suffix: String) throws -> Int {
            process.interrupt()
            let deadline = Date().addingTimeInterval(3)
            while process.isRunning, Date() < deadline { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            let text = try String(contentsOf: output, encoding: .utf8)
            try? FileManager.default.removeItem(at: output)
            return text.split(separator: "\n").filter { $0.contains("sync(") && $0.contains(suffix + ">") && !$0.contains("= -1") }.count
        }
    }

    @Test func everySyncCommitSyncsTheCatalogsWAL() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app)
        // io_uring starts its workers on first use: before the tracer attaches, not while it traces.
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/warm", body: Data("warm".utf8)).status == 201)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/warm?io=direct", body: Data("warm".utf8)).status == 200)
        let trace = try FsyncTrace(pid: app.process.processIdentifier, in: FileManager.default.temporaryDirectory)
        let puts = 12
        for i in 0..<puts {
            let query = i % 2 == 0 ? "" : "?io=direct"
            #expect(try await app.request("PUT", "/v1/volumes/objs/objects/o\(i)\(query)", body: Data(repeating: UInt8(i), count: 5000)).status == 201)
        }
        #expect(try await app.request("DELETE", "/v1/volumes/objs/objects/o0").status == 204)
        let walSyncs = try trace.stop(countingPathsEndingIn: "catalog.sqlite-wal")
        #expect(walSyncs >= puts + 1, "\(walSyncs) fsyncs of the catalog's WAL for \(puts) sync PUTs and a DELETE")
    }
}
