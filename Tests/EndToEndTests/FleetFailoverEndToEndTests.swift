// A fleet losing parts, on loopback with shared device files (every node reaches every pool's
// devices, as with SAS or iSCSI shared disks): the owner of a pool killed under 32 clients (another
// node takes the pool over; every acknowledged write is there), an owner stopped past its lease
// and woken after another node took its pool (it writes nothing and says it lost the pool), one
// etcd member of three killed (nothing stops), and etcd gone altogether (the owner writes on
// while its lease holds with a margin, then refuses writes but serves reads, and writes again
// once etcd is back).
import EtcdTestSupport
import Foundation
import Glibc
import Synchronization
import Testing

@Suite(.serialized) struct FleetFailoverEndToEndTests {
    /// Waits until `check` holds (polling every 200 ms), for at most `seconds`.
    static func eventually(_ seconds: Double, _ what: String, _ check: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while try await !check() {
            guard Date() < deadline else { throw HTTPClientError("not within \(seconds) s: \(what)") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    @Test func aKilledOwnersPoolIsTakenOverUnderLoadAndEveryAcknowledgedWriteIsThere() async throws {
        let fleet = try FleetNodes(etcdMembers: 3, leaseSeconds: 5)
        defer { fleet.stopAll() }
        for name in ["n1", "n2", "n3"] { try fleet.start(name) }
        #expect(
            try await fleet["n2"].request("POST", "/v1/volumes", json: ["name": "busy", "capacity_bytes": 128 << 20, "node": "n1"]).status == 201)
        #expect(
            try await fleet["n2"].request("POST", "/v1/volumes", json: ["name": "spare", "capacity_bytes": 1 << 20, "node": "n1"]).status == 201)
        try await fleet.waitForDirectory(["busy", "spare"])

        // 32 clients write new keys through n2 and n3 (never the owner) until told to stop.
        let acknowledged = Mutex<[String: [UInt8]]>([:])
        let stop = Atomic<Bool>(false)
        let killedAt = Mutex<Date?>(nil)
        let firstAfterKill = Mutex<Date?>(nil)
        let ports = [fleet.port("n2"), fleet.port("n3")]
        let token = FleetNodes.token
        let clients = (0..<32).map { client in
            Thread {
                var sequence = 0
                var connection: HTTPConnection?
                while !stop.load(ordering: .relaxed) {
                    let key = "c\(client)-\(sequence)"
                    let body = FleetEndToEndTests.bytes(1000 + (client * 131 + sequence * 17) % 6000, seed: UInt64(client * 100_000 + sequence))
                    do {
                        if connection == nil { connection = try HTTPConnection(port: ports[(client + sequence) % 2], timeout: 30) }
                        let answer = try connection!.exchange(
                            "PUT", "/v1/volumes/busy/objects/\(key)", headers: [("Authorization", "Bearer \(token)")], body: body)
                        if answer.status == 201 {
                            acknowledged.withLock { $0[key] = body }
                            if killedAt.withLock({ $0 }) != nil { firstAfterKill.withLock { $0 = $0 ?? Date() } }
                            sequence += 1
                        } else {
                            connection = nil
                            usleep(100_000)
                        }
                    } catch {
                        connection = nil
                        usleep(100_000)
                    }
                }
            }
        }
        for client in clients { client.start() }
        try await Task.sleep(for: .seconds(3))
        let before = acknowledged.withLock { $0.count }
        fleet.kill("n1")
        killedAt.withLock { $0 = Date() }
        try await Self.eventually(60, "writes acknowledged again after the owner died") { firstAfterKill.withLock { $0 } != nil }
        try await Task.sleep(for: .seconds(2))
        stop.store(true, ordering: .relaxed)
        try await Task.sleep(for: .seconds(1))
        let outage = firstAfterKill.withLock { $0 }!.timeIntervalSince(killedAt.withLock { $0 }!)
        // The lease (5 s) must expire, then the pool is opened elsewhere: well within 30 s here.
        #expect(outage < 30, "writes came back \(outage) s after the kill")
        let written = acknowledged.withLock { $0 }
        #expect(before > 0 && written.count > before)

        // Every acknowledged write, through both nodes left, byte for byte.
        var missing: [String] = []
        for (key, body) in written.sorted(by: { $0.key < $1.key }) {
            for via in ["n2", "n3"] {
                let got = try await fleet[via].request("GET", "/v1/volumes/busy/objects/\(key)")
                if got.status != 200 || Array(got.body) != body { missing.append("\(via):\(key):\(got.status)") }
            }
        }
        #expect(missing.isEmpty, "\(missing.count) of \(written.count * 2) reads wrong: \(missing.prefix(10))")
        let pools = try await fleet["n3"].request("GET", "/v1/cluster").json["pools"] as? [[String: Any]] ?? []
        #expect(pools.contains { ($0["owner"] as? String)?.contains("~") == true && ($0["epoch"] as? Int ?? 0) >= 2 }, "\(pools)")
        // The killed node, started again, finds its pool held by another node: it joins with no
        // pool of its own and serves every volume through the node that has it.
        try fleet.start("n1")
        let standing = try await fleet["n1"].request("GET", "/v1/cluster").json["pool"] as? [String: Any] ?? [:]
        #expect(standing["lease"] as? String == "none", "\(standing)")
        for (key, body) in written.sorted(by: { $0.key < $1.key }).prefix(20) {
            let got = try await fleet["n1"].request("GET", "/v1/volumes/busy/objects/\(key)")
            #expect(got.status == 200 && Array(got.body) == body, "n1 \(key): \(got.status)")
        }
        let late = Data(FleetEndToEndTests.bytes(10_000, seed: 4242))
        #expect(try await fleet["n1"].request("PUT", "/v1/volumes/busy/objects/after-return", body: late).status == 201)
        #expect(try await fleet["n2"].request("GET", "/v1/volumes/busy/objects/after-return").body == late)
        // It is no new volume's place.
        let placed = try await fleet["n1"].request("POST", "/v1/volumes", json: ["name": "after-return", "capacity_bytes": 1 << 20])
        #expect(placed.status == 201 && placed.json["node"] as? String != "n1", "\(placed.text)")
        let there = try await fleet["n2"].request("POST", "/v1/volumes", json: ["name": "not-there", "capacity_bytes": 1 << 20, "node": "n1"])
        #expect(there.status == 400, "\(there.text)")
        // A volume of the pool taken over, deleted through another node, leaves the directory:
        // its name is free again within a keeper's tick.
        #expect(try await fleet["n3"].request("DELETE", "/v1/volumes/spare").status == 204)
        var remade = 0
        for _ in 0..<50 {
            remade = try await fleet["n3"].request("POST", "/v1/volumes", json: ["name": "spare", "capacity_bytes": 1 << 20]).status
            if remade == 201 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(remade == 201)
        // S3 with the fleet's default key, through the returned node, to the pool taken over.
        let s3 = try S3Client(fleet["n2"], via: fleet["n1"])
        let got = try s3.request("GET", "/busy/after-return")
        #expect(got.status == 200 && Data(got.body) == late, "\(got.status)")
        print("fleet takeover under load: \(written.count) writes acknowledged (\(before) before the kill), writes back after \(outage) s")
    }

    @Test func anOwnerStoppedPastItsLeaseWakesToFindItsPoolTakenAndWritesNothing() async throws {
        let fleet = try FleetNodes(leaseSeconds: 5)
        defer { fleet.stopAll() }
        try fleet.start("n1")
        try fleet.start("n2")
        #expect(
            try await fleet["n2"].request("POST", "/v1/volumes", json: ["name": "paused", "capacity_bytes": 64 << 20, "node": "n1"]).status == 201)
        try await fleet.waitForDirectory(["paused"])
        let first = Data(FleetEndToEndTests.bytes(50_000, seed: 1))
        #expect(try await fleet["n2"].request("PUT", "/v1/volumes/paused/objects/before", body: first).status == 201)

        /// The bytes n1 wrote to its devices so far (its /metrics).
        func writtenByN1() async throws -> Double {
            let text = try await fleet["n1"].request("GET", "/metrics").text
            return text.split(separator: "\n").filter { $0.hasPrefix("appliance_device_written_bytes_total") }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
        }
        let writtenBefore = try await writtenByN1()
        fleet.signal("n1", SIGSTOP)
        try await Self.eventually(30, "n2 takes n1's pool over") {
            let pools = try await fleet["n2"].request("GET", "/v1/cluster").json["pools"] as? [[String: Any]] ?? []
            return pools.contains { ($0["owner"] as? String)?.hasPrefix("n2~") == true }
        }
        let second = Data(FleetEndToEndTests.bytes(50_000, seed: 2))
        try await Self.eventually(15, "a write through n2 to the pool taken over") {
            try await fleet["n2"].request("PUT", "/v1/volumes/paused/objects/after", body: second).status == 201
        }
        #expect(try await fleet["n2"].request("POST", "/v1/volumes/paused/flush").status < 300)
        let devices = fleet.dataDir("n1").appendingPathComponent("devices")
        func digest() throws -> [String: Int] {
            var sums: [String: Int] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: devices.path) {
                sums[name] = try Data(contentsOf: devices.appendingPathComponent(name)).hashValue
            }
            return sums
        }
        let quiet = try digest()

        // Woken: whatever it had under way, it writes nothing, and says it lost the pool.
        fleet.signal("n1", SIGCONT)
        let late = try await fleet["n1"].request("PUT", "/v1/volumes/paused/objects/late", body: Data("late".utf8))
        try await Self.eventually(15, "n1 reports that it lost its pool") {
            let pool = try await fleet["n1"].request("GET", "/v1/cluster").json["pool"] as? [String: Any] ?? [:]
            return pool["lease"] as? String == "lost" && (pool["lost_reason"] as? String ?? "").contains("another node took the pool over")
        }
        try await Task.sleep(for: .seconds(2))
        // A write through n1 after it lost the pool goes to the new owner (or was refused): never to the devices from n1.
        #expect([201, 503].contains(late.status), "\(late.status) \(late.text)")
        if late.status == 201 {
            #expect(try await fleet["n2"].request("GET", "/v1/volumes/paused/objects/late").body == Data("late".utf8))
        }
        // n2 wrote "late" (if it was forwarded): compare the devices only where n1 could have
        // written — a PUT refused or forwarded leaves n2's commit; so check through the catalog too.
        if late.status == 503 { #expect(try digest() == quiet, "the devices changed after n1 woke") }
        for (key, body) in [("before", first), ("after", second)] {
            for via in ["n1", "n2"] {
                let got = try await fleet[via].request("GET", "/v1/volumes/paused/objects/\(key)")
                #expect(got.status == 200 && got.body == body, "\(via) \(key): \(got.status)")
            }
        }
        // n1 wrote nothing to the devices since it was stopped (what it forwarded, n2 wrote).
        #expect(try await writtenByN1() == writtenBefore)
        #expect(fleet["n1"].process.isRunning)
    }

    @Test func oneEtcdMemberOfThreeKilledChangesNothing() async throws {
        let fleet = try FleetNodes(etcdMembers: 3)
        defer { fleet.stopAll() }
        try fleet.start("n1")
        try fleet.start("n2")
        fleet.etcd.kill(0)
        #expect(
            try await fleet["n1"].request("POST", "/v1/volumes", json: ["name": "quorum", "capacity_bytes": 1 << 20, "node": "n2"]).status == 201)
        try await fleet.waitForDirectory(["quorum"])
        let body = Data(FleetEndToEndTests.bytes(10_000, seed: 3))
        #expect(try await fleet["n1"].request("PUT", "/v1/volumes/quorum/objects/k", body: body).status == 201)
        try await Task.sleep(for: .seconds(6))  // longer than a lease: the leases were renewed
        #expect(try await fleet["n1"].request("GET", "/v1/volumes/quorum/objects/k").body == body)
        for name in ["n1", "n2"] {
            let pool = try await fleet[name].request("GET", "/v1/cluster").json["pool"] as? [String: Any] ?? [:]
            #expect(pool["lease"] as? String == "held" && pool["epoch"] as? Int == 1 && pool["writable"] as? Bool == true)
        }
    }

    @Test func withoutEtcdAnOwnerWritesUntilItsMarginThenOnlyReadsAndRecovers() async throws {
        let fleet = try FleetNodes(leaseSeconds: 5)
        defer { fleet.stopAll() }
        try fleet.start("n1")
        #expect(try await fleet["n1"].request("POST", "/v1/volumes", json: ["name": "alone", "capacity_bytes": 1 << 20]).status == 201)
        let body = Data(FleetEndToEndTests.bytes(3000, seed: 4))
        #expect(try await fleet["n1"].request("PUT", "/v1/volumes/alone/objects/k", body: body).status == 201)
        fleet.etcd.kill(0)
        // Lease 5 s, margin 2 s: writes go on for up to 3 s after the last renewal.
        #expect(try await fleet["n1"].request("PUT", "/v1/volumes/alone/objects/soon", body: body).status == 201)
        try await Task.sleep(for: .seconds(5))
        let fenced = try await fleet["n1"].request("PUT", "/v1/volumes/alone/objects/late", body: body)
        #expect(fenced.status == 503 && fenced.header("Retry-After") != nil, "\(fenced.status) \(fenced.text)")
        #expect(try await fleet["n1"].request("GET", "/v1/volumes/alone/objects/k").body == body)
        #expect(try await fleet["n1"].request("GET", "/v1/volumes/alone/objects/late").status == 404)
        let pool = try await fleet["n1"].request("GET", "/v1/cluster").json
        #expect((pool["pool"] as? [String: Any])?["writable"] as? Bool == false)
        #expect((pool["etcd"] as? [String: Any])?["reachable"] as? Bool == false)

        try fleet.etcd.start(0)
        var last = ""
        do {
            try await Self.eventually(30, "writes again once etcd is back") {
                let put = try await fleet["n1"].request("PUT", "/v1/volumes/alone/objects/back", body: body)
                last = "\(put.status) \(put.text)"
                return put.status == 201
            }
        } catch {
            Issue.record("\(error): last answer \(last); \(try await fleet["n1"].request("GET", "/v1/cluster").text)")
        }
        #expect(try await fleet["n1"].request("GET", "/v1/volumes/alone/objects/soon").body == body)
    }
}
