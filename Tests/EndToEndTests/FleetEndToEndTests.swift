// A fleet on loopback: real etcd members and appliance nodes (`serve --cluster`), each node with
// its own pool. Volumes made through any node, objects written and read through every node to
// every volume (native and S3, every byte checked), names unique across the fleet, a node with
// another token refused, a restarted node taking its pool back under the next epoch, and a dead
// node's volumes answered 502/503 (never served wrong) until it returns.
import EtcdTestSupport
import Foundation
import Glibc
import Testing

/// Nodes of one fleet, each an `ApplianceProcess` on fixed loopback ports (the fleet needs the URL
/// it advertises before it listens).
final class FleetNodes: @unchecked Sendable {
    // @unchecked: driven by one test at a time.
    static let token = "fleet-test-token-0123456789abcdef"
    let etcd: EtcdMembers
    private(set) var nodes: [String: ApplianceProcess] = [:]
    private var ports: [String: (api: Int, s3: Int)] = [:]
    private var dataDirs: [String: URL] = [:]

    /// Seconds of the nodes' leases (`--lease-seconds`).
    let leaseSeconds: Int

    /// The cluster key file every node is given (made by the first node to start).
    let keyDirectory = ApplianceProcess.makeTempDir()
    var clusterKeyFile: String { keyDirectory.appendingPathComponent("cluster.key").path }

    init(etcdMembers: Int = 1, leaseSeconds: Int = 10) throws {
        etcd = try EtcdMembers(count: etcdMembers)
        self.leaseSeconds = leaseSeconds
    }

    /// Starts node `name` (again, on its data dir and ports, when it ran before).
    @discardableResult
    func start(_ name: String, token: String = FleetNodes.token, extra: [String] = []) throws -> ApplianceProcess {
        let port = ports[name] ?? (EtcdMembers.freePort(), EtcdMembers.freePort())
        ports[name] = port
        let dir = dataDirs[name] ?? ApplianceProcess.makeTempDir()
        dataDirs[name] = dir
        let node = try ApplianceProcess(
            dataDir: dir,
            extraArguments: [
                "--listen", "127.0.0.1:\(port.api)", "--s3-listen", "127.0.0.1:\(port.s3)", "--cluster", etcd.endpoints, "--node-name", name,
                "--token", token, "--lease-seconds", String(leaseSeconds),
            ] + (extra.contains("--cluster-key-file") ? [] : ["--cluster-key-file", clusterKeyFile]) + extra)
        nodes[name] = node
        return node
    }

    /// Node `name` starts on `dir` (a data directory an appliance used before it joined).
    func use(_ dir: URL, for name: String) { dataDirs[name] = dir }

    subscript(name: String) -> ApplianceProcess { nodes[name]! }

    func dataDir(_ name: String) -> URL { dataDirs[name]! }

    func port(_ name: String) -> Int { ports[name]!.api }

    func signal(_ name: String, _ signal: Int32) { Glibc.kill(nodes[name]!.process.processIdentifier, signal) }

    func kill(_ name: String) {
        guard let node = nodes[name], node.process.isRunning else { return }
        Glibc.kill(node.process.processIdentifier, SIGKILL)
        node.process.waitUntilExit()
    }

    func stopAll() {
        for node in nodes.values { node.stop(removeData: false) }
        for dir in dataDirs.values + [keyDirectory] { try? FileManager.default.removeItem(at: dir) }
        etcd.stop()
    }

    /// Waits until every running node's view has `volumes` in its directory.
    func waitForDirectory(_ volumes: Set<String>, seconds: Double = 15) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        for node in nodes.values where node.process.isRunning {
            while true {
                let listed = Set(
                    ((try await node.request("GET", "/v1/cluster").json["volumes"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String })
                if volumes.isSubset(of: listed) { break }
                guard Date() < deadline else { throw HTTPClientError("the directory did not show \(volumes) in \(seconds) s: \(listed)") }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}

@Suite(.serialized) struct FleetEndToEndTests {
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    /// A console page, after logging in with the token (curl: it keeps the cookies, follows no redirect).
    static func consolePage(_ node: ApplianceProcess, _ path: String) throws -> String {
        let jar = ApplianceProcess.makeTempDir().appendingPathComponent("cookies").path
        defer { try? FileManager.default.removeItem(atPath: (jar as NSString).deletingLastPathComponent) }
        func curl(_ arguments: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["curl", "-sS", "-b", jar, "-c", jar] + arguments
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        let base = node.baseURL.absoluteString
        let login = try curl([base + "/ui/login"])
        guard let range = login.range(of: #"name="csrf" value="([0-9a-f]+)""#, options: .regularExpression) else {
            throw HTTPClientError("no csrf on the login page")
        }
        let nonce = login[range].split(separator: "\"")[3]
        _ = try curl(["--data-urlencode", "csrf=\(nonce)", "--data-urlencode", "token=\(node.token)", base + "/ui/login"])
        return try curl([base + path])
    }

    @Test func volumesAndObjectsThroughEveryNode() async throws {
        let fleet = try FleetNodes()
        defer { fleet.stopAll() }
        for name in ["n1", "n2", "n3"] { try fleet.start(name) }

        // Volumes made through different nodes, placed on the node named.
        var homes: [String: String] = [:]
        for (index, (via, home)) in [("n1", "n2"), ("n2", "n3"), ("n3", "n1")].enumerated() {
            let volume = "fleet-vol-\(index)"
            let made = try await fleet[via].request("POST", "/v1/volumes", json: ["name": volume, "capacity_bytes": 64 << 20, "node": home])
            #expect(made.status == 201, "\(made.text)")
            #expect(made.json["node"] as? String == home)
            homes[volume] = home
        }
        // Names are the fleet's: taken through another node is a conflict; a node not alive is refused.
        let again = try await fleet["n3"].request("POST", "/v1/volumes", json: ["name": "fleet-vol-0", "capacity_bytes": 1 << 20])
        #expect(again.status == 409)
        let nowhere = try await fleet["n1"].request("POST", "/v1/volumes", json: ["name": "fleet-vol-x", "capacity_bytes": 1 << 20, "node": "n9"])
        #expect(nowhere.status == 400)
        try await fleet.waitForDirectory(Set(homes.keys))

        // Every node lists every volume with its node.
        for name in ["n1", "n2", "n3"] {
            let list = try await fleet[name].request("GET", "/v1/volumes").json["volumes"] as? [[String: Any]] ?? []
            let shown = Dictionary(uniqueKeysWithValues: list.compactMap { v in (v["name"] as? String).map { ($0, v["node"] as? String ?? "") } })
            for (volume, home) in homes { #expect(shown[volume] == home, "\(name) lists \(shown)") }
        }

        // Writes through every node to every volume; every byte read back through every node.
        var written: [String: [UInt8]] = [:]
        var seed: UInt64 = 1
        for volume in homes.keys.sorted() {
            for via in ["n1", "n2", "n3"] {
                let size = seed % 3 == 0 ? 3 << 20 : Int(seed * 977 % 70_000)
                let body = Self.bytes(size, seed: seed)
                seed += 1
                let path = "/v1/volumes/\(volume)/objects/from-\(via)"
                let put = try await fleet[via].request("PUT", path, body: Data(body))
                #expect(put.status == 201, "\(put.text)")
                written[path] = body
            }
        }
        for (path, body) in written {
            for via in ["n1", "n2", "n3"] {
                let got = try await fleet[via].request("GET", path)
                #expect(got.status == 200 && Array(got.body) == body, "\(via) \(path): \(got.status)")
                let head = try await fleet[via].request("HEAD", path)
                #expect(head.status == 200 && head.header("Content-Length") == String(body.count))
            }
            let range = try await fleet["n1"].request("GET", path, headers: ["Range": "bytes=10-19"])
            if body.count >= 20 { #expect(range.status == 206 && Array(range.body) == Array(body[10..<20])) }
        }
        // Errors pass back as the owner gives them.
        let missing = try await fleet["n1"].request("GET", "/v1/volumes/fleet-vol-0/objects/none")
        #expect(missing.status == 404 && missing.header("Content-Type") == "application/problem+json")
        let unauthenticated = try await fleet["n1"].request("GET", "/v1/volumes/fleet-vol-0/objects/from-n1", auth: false)
        #expect(unauthenticated.status == 401)
        // A delete through a node that is not the owner.
        let deleted = try await fleet["n3"].request("DELETE", "/v1/volumes/fleet-vol-0/objects/from-n2")
        #expect(deleted.status == 204)
        #expect(try await fleet["n2"].request("GET", "/v1/volumes/fleet-vol-0/objects/from-n2").status == 404)

        // S3 through a node that is not the bucket's: the owner's key, the owner checks it.
        let s3 = try S3Client(fleet["n2"], via: fleet["n1"])
        let body = Self.bytes(200_000, seed: 99)
        #expect(try s3.request("PUT", "/fleet-vol-0/s3-object", body: body).status == 200)
        let got = try s3.request("GET", "/fleet-vol-0/s3-object")
        #expect(got.status == 200 && Array(got.body) == body)
        #expect(try await fleet["n3"].request("GET", "/v1/volumes/fleet-vol-0/objects/s3-object").body == Data(body))

        // The console of n1 lists the other nodes' volumes, each linked to its node's console.
        let page = try Self.consolePage(fleet["n1"], "/ui/volumes")
        for (volume, home) in homes where home != "n1" {
            #expect(page.contains("href=\"http://127.0.0.1:\(fleet.port(home))/ui/volumes/\(volume)/objects\""), "\(volume) on \(home)")
        }
        #expect(page.contains("/ui/volumes/fleet-vol-2/objects"))  // n1's own, with its figures

        // The cluster as every node sees it: three nodes, each holding its own pool under epoch 1.
        let cluster = try await fleet["n1"].request("GET", "/v1/cluster").json
        #expect((cluster["nodes"] as? [[String: Any]])?.count == 3)
        let pool = cluster["pool"] as? [String: Any] ?? [:]
        #expect(pool["lease"] as? String == "held" && pool["epoch"] as? Int == 1 && pool["writable"] as? Bool == true)
        #expect((cluster["pools"] as? [[String: Any]])?.allSatisfy { ($0["owner"] as? String) != nil && ($0["epoch"] as? Int) == 1 } == true)
    }

    @Test func aVolumeMadeAMomentAgoThroughAnotherNodeIsReachedAtOnce() async throws {
        let fleet = try FleetNodes()
        defer { fleet.stopAll() }
        try fleet.start("n1")
        try fleet.start("n2")
        for round in 0..<5 {
            let volume = "fresh-\(round)"
            #expect(
                try await fleet["n1"].request("POST", "/v1/volumes", json: ["name": volume, "capacity_bytes": 1 << 20, "node": "n1"]).status == 201)
            // At once through n2, before its keeper read the directory again: a streamed PUT, a GET, the volume itself.
            let body = Data(Self.bytes(2000 + round, seed: UInt64(round)))
            let put = try await fleet["n2"].request("PUT", "/v1/volumes/\(volume)/objects/k", body: body)
            #expect(put.status == 201, "\(put.status) \(put.text)")
            #expect(try await fleet["n2"].request("GET", "/v1/volumes/\(volume)/objects/k").body == body)
            let shown = try await fleet["n2"].request("GET", "/v1/volumes/\(volume)")
            #expect(shown.status == 200 && shown.json["node"] as? String == "n1")
        }
        // A volume nobody has is still a 404 from the node asked.
        #expect(try await fleet["n2"].request("GET", "/v1/volumes/nobody-has-it/objects/k").status == 404)
    }

    @Test func aNodeWithAnotherTokenIsRefused() async throws {
        let fleet = try FleetNodes()
        defer { fleet.stopAll() }
        try fleet.start("n1")
        #expect {
            try fleet.start("n2", token: "another-token-0123456789abcdef")
        } throws: { error in
            "\(error)".contains("the fleet's admin token is another one")
        }
    }

    @Test func aRestartedNodeTakesItsPoolBackUnderTheNextEpochAndADeadOnesVolumesAreRefused() async throws {
        let fleet = try FleetNodes(leaseSeconds: 5)
        defer { fleet.stopAll() }
        // No takeover here (the device files are shared on this machine: n1 would take n2's pool).
        try fleet.start("n1", extra: ["--takeover", "off"])
        try fleet.start("n2", extra: ["--takeover", "off"])
        #expect(
            try await fleet["n1"].request("POST", "/v1/volumes", json: ["name": "on-two", "capacity_bytes": 1 << 20, "node": "n2"]).status == 201)
        try await fleet.waitForDirectory(["on-two"])
        let body = Data(Self.bytes(5000, seed: 7))
        #expect(try await fleet["n1"].request("PUT", "/v1/volumes/on-two/objects/k", body: body).status == 201)

        // A clean stop gives the leases back; the restart takes the pool under epoch 2.
        fleet["n2"].stop(removeData: false)
        try fleet.start("n2", extra: ["--takeover", "off"])
        let pool = try await fleet["n2"].request("GET", "/v1/cluster").json["pool"] as? [String: Any] ?? [:]
        #expect(pool["epoch"] as? Int == 2)
        try await fleet.waitForDirectory(["on-two"])
        var read = try await fleet["n1"].request("GET", "/v1/volumes/on-two/objects/k")
        for _ in 0..<50 where read.status != 200 {  // until n1's view has n2 back
            try await Task.sleep(for: .milliseconds(100))
            read = try await fleet["n1"].request("GET", "/v1/volumes/on-two/objects/k")
        }
        #expect(read.status == 200 && read.body == body)

        // Killed: its volumes are refused through the others (502 while its record lives, then
        // 503 once its lease has expired), never served wrong.
        fleet.kill("n2")
        let gone = try await fleet["n1"].request("GET", "/v1/volumes/on-two/objects/k")
        #expect([502, 503].contains(gone.status), "\(gone.status) \(gone.text)")
        try await Task.sleep(for: .seconds(8))
        let later = try await fleet["n1"].request("GET", "/v1/volumes/on-two/objects/k")
        #expect(later.status == 503 && later.header("Retry-After") != nil, "\(later.status) \(later.text)")
        // It comes back (its previous lease expired meanwhile): served again.
        try fleet.start("n2", extra: ["--takeover", "off"])
        var back = try await fleet["n1"].request("GET", "/v1/volumes/on-two/objects/k")
        for _ in 0..<50 where back.status != 200 {
            try await Task.sleep(for: .milliseconds(100))
            back = try await fleet["n1"].request("GET", "/v1/volumes/on-two/objects/k")
        }
        #expect(back.status == 200 && back.body == body)
    }

    @Test func oneSetOfAccessKeysForTheWholeFleet() async throws {
        let fleet = try FleetNodes()
        defer { fleet.stopAll() }
        try fleet.start("n1")
        // n2's pool is the smallest: buckets made through it go to another node.
        try fleet.start("n2", extra: ["--device-size", String(64 << 20)])
        try fleet.start("n3")
        // Every node wrote the fleet's default key into its data directory, the first node's.
        let defaults = try ["n1", "n2", "n3"].map { try S3Client(fleet[$0]).accessKeyID }
        #expect(Set(defaults).count == 1, "\(defaults)")

        // A key made through n1, used at once through n2 (which has not read the fleet since).
        let made = try await fleet["n1"].request("POST", "/v1/access-keys", json: ["name": "app", "create_buckets": true])
        #expect(made.status == 201, "\(made.text)")
        let id = made.json["access_key_id"] as? String ?? ""
        let secret = made.json["secret_access_key"] as? String ?? ""
        let viaTwo = try S3Client(fleet["n2"], id: id, secret: secret)
        let created = try viaTwo.request("PUT", "/fleet-bucket")
        #expect(created.status == 200, "\(created.status) \(String(decoding: created.body, as: UTF8.self))")
        let shown = try await fleet["n3"].request("GET", "/v1/volumes/fleet-bucket")
        #expect(shown.status == 200, "\(shown.text)")
        #expect(["n1", "n3"].contains(shown.json["node"] as? String ?? ""), "placed on \(shown.json["node"] ?? "nothing"), not the fullest node")
        #expect(try viaTwo.request("PUT", "/fleet-bucket").status == 409)  // BucketAlreadyOwnedByYou, through the bucket's node

        // Objects with that key through every node, every byte back through every other.
        var written: [String: [UInt8]] = [:]
        for (index, via) in ["n1", "n2", "n3"].enumerated() {
            let body = Self.bytes(30_000 + index * 7919, seed: UInt64(40 + index))
            #expect(try S3Client(fleet[via], id: id, secret: secret).request("PUT", "/fleet-bucket/from-\(via)", body: body).status == 200)
            written["from-\(via)"] = body
        }
        for (key, body) in written {
            for via in ["n1", "n2", "n3"] {
                let got = try S3Client(fleet[via], id: id, secret: secret).request("GET", "/fleet-bucket/\(key)")
                #expect(got.status == 200 && Array(got.body) == body, "\(via) \(key): \(got.status)")
            }
        }

        // ListBuckets on every node: the key's bucket; the default key (every volume) every node's.
        #expect(
            try await fleet["n3"].request("POST", "/v1/volumes", json: ["name": "native-on-two", "capacity_bytes": 1 << 20, "node": "n2"]).status
                == 201)
        try await fleet.waitForDirectory(["fleet-bucket", "native-on-two"])
        for via in ["n1", "n2", "n3"] {
            let mine = try S3Client(fleet[via], id: id, secret: secret).request("GET", "/")
            #expect(S3Client.elements("Name", in: String(decoding: mine.body, as: UTF8.self)) == ["fleet-bucket"], "\(via)")
            let all = try S3Client(fleet[via]).request("GET", "/")
            let names = S3Client.elements("Name", in: String(decoding: all.body, as: UTF8.self))
            #expect(names.contains("fleet-bucket") && names.contains("native-on-two"), "\(via): \(names)")
        }

        // A permission taken away through n3 holds on every node within a keeper's tick.
        let changed = try await fleet["n3"].request("PATCH", "/v1/access-keys/\(id)", json: ["permissions": ["fleet-bucket": "read"]])
        #expect(changed.status == 200, "\(changed.text)")
        for via in ["n1", "n2", "n3"] {
            let client = try S3Client(fleet[via], id: id, secret: secret)
            var status = 0
            for _ in 0..<40 {
                status = try client.request("PUT", "/fleet-bucket/refused", body: [1, 2, 3]).status
                if status == 403 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(status == 403, "\(via)")
            #expect(try client.request("GET", "/fleet-bucket/from-n1").status == 200)
        }
        // A grant on a volume the fleet has not is refused, and changes nothing.
        let bad = try await fleet["n2"].request("PATCH", "/v1/access-keys/\(id)", json: ["permissions": ["no-such-volume": "read"]])
        #expect(bad.status == 400, "\(bad.text)")
        #expect((try await fleet["n1"].request("GET", "/v1/access-keys/\(id)").json["permissions"] as? [String: String]) == ["fleet-bucket": "read"])

        // Deleted through n2: refused by every node within a keeper's tick.
        #expect(try await fleet["n2"].request("DELETE", "/v1/access-keys/\(id)").status == 204)
        for via in ["n1", "n2", "n3"] {
            let client = try S3Client(fleet[via], id: id, secret: secret)
            var status = 0
            for _ in 0..<40 {
                status = try client.request("GET", "/fleet-bucket/from-n1").status
                if status == 403 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(status == 403, "\(via)")
        }

        // A node with another cluster key, or none while the fleet has one, is refused at start.
        let other = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: other) }
        let otherKey = other.appendingPathComponent("other.key").path
        try Data((0..<32).map { UInt8($0) }).write(to: URL(fileURLWithPath: otherKey))
        #expect {
            try fleet.start("n4", extra: ["--cluster-key-file", otherKey])
        } throws: { "\($0)".contains("is not this fleet's cluster key") }
        #expect {
            try fleet.start("n5", extra: ["--cluster-key-file", other.appendingPathComponent("missing.key").path])
        } throws: { "\($0)".contains("no cluster key at") }
    }

    @Test func aStandaloneAppliancesKeysJoinTheFleetWithItOnce() async throws {
        // A standalone appliance with a volume, its default key and a key of its own on that volume.
        let dir = ApplianceProcess.makeTempDir()
        let alone = try ApplianceProcess(dataDir: dir, extraArguments: ["--token", FleetNodes.token])
        #expect(try await alone.request("POST", "/v1/volumes", json: ["name": "legacy", "capacity_bytes": 1 << 20]).status == 201)
        let made = try await alone.request("POST", "/v1/access-keys", json: ["name": "old", "permissions": ["legacy": "write"]])
        let (id, secret) = (made.json["access_key_id"] as? String ?? "", made.json["secret_access_key"] as? String ?? "")
        let oldDefault = try S3Client(alone)
        #expect(try S3Client(alone, id: id, secret: secret).request("PUT", "/legacy/k", body: [9, 8, 7]).status == 200)
        alone.stop(removeData: false)

        let fleet = try FleetNodes()
        defer { fleet.stopAll() }
        try fleet.start("n1")
        #expect(try await fleet["n1"].request("POST", "/v1/volumes", json: ["name": "on-one", "capacity_bytes": 1 << 20]).status == 201)
        fleet.use(dir, for: "n2")
        try fleet.start("n2")
        try await fleet.waitForDirectory(["legacy", "on-one"])

        // Its key works through any node, on its volume only.
        let viaOne = try S3Client(fleet["n1"], id: id, secret: secret)
        let got = try viaOne.request("GET", "/legacy/k")
        #expect(got.status == 200 && Array(got.body) == [9, 8, 7], "\(got.status)")
        #expect(try viaOne.request("GET", "/on-one/k").status == 403)
        // Its old default key (every volume of its own) gains no other node's volume.
        let oldViaOne = try S3Client(fleet["n1"], id: oldDefault.accessKeyID, secret: oldDefault.secret)
        #expect(try oldViaOne.request("GET", "/legacy/k").status == 200)
        #expect(try oldViaOne.request("PUT", "/on-one/k", body: [1]).status == 403)
        // The fleet's default key (the first node's) reaches both.
        #expect(try S3Client(fleet["n1"], via: fleet["n2"]).request("GET", "/legacy/k").status == 200)

        // Deleted in the fleet, the key stays deleted when n2 starts again.
        #expect(try await fleet["n1"].request("DELETE", "/v1/access-keys/\(id)").status == 204)
        fleet["n2"].stop(removeData: false)
        try fleet.start("n2")
        #expect(try await fleet["n2"].request("GET", "/v1/access-keys/\(id)").status == 404)
        #expect(try S3Client(fleet["n2"], id: id, secret: secret).request("GET", "/legacy/k").status == 403)
    }

    @Test func aForwardedDownloadLeftHalfWayOrCutByItsOwnersDeathIsNeverServedWhole() async throws {
        let fleet = try FleetNodes(leaseSeconds: 5)
        defer { fleet.stopAll() }
        try fleet.start("n1", extra: ["--takeover", "off"])
        try fleet.start("n2", extra: ["--takeover", "off"])
        #expect(try await fleet["n1"].request("POST", "/v1/volumes", json: ["name": "far", "capacity_bytes": 256 << 20, "node": "n2"]).status == 201)
        try await fleet.waitForDirectory(["far"])
        let body = Data(Self.bytes(96 << 20, seed: 5))
        #expect(try await fleet["n1"].request("PUT", "/v1/volumes/far/objects/big", body: body).status == 201)
        let get = "/v1/volumes/far/objects/big"

        // Clients that leave half way through a forwarded download leave nothing stuck behind.
        for _ in 0..<16 {
            let client = try RawConnection(port: fleet.port("n1"))
            try client.sendHead("GET", get, token: FleetNodes.token)
            _ = client.receiveBytes(max: 3 << 20)
        }
        for _ in 0..<3 { #expect(try await fleet["n1"].request("GET", get).body == body) }

        // The owner killed part way: the client gets fewer bytes than the Content-Length said, and
        // the connection closes (an error, never a short body passed off as whole).
        let client = try RawConnection(port: fleet.port("n1"))
        try client.sendHead("GET", get, token: FleetNodes.token)
        var got = client.receiveBytes(max: 4 << 20)
        fleet.kill("n2")
        got += client.receiveBytes(max: 200 << 20, timeout: .seconds(30))
        let headEnd = got.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound ?? 0
        let head = String(decoding: got[..<headEnd], as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 200") && head.lowercased().contains("content-length: \(body.count)"), "\(head)")
        let received = got.count - headEnd
        #expect(received > 0 && received < body.count, "\(received) of \(body.count) bytes")
        #expect(Data(got[headEnd...]) == body.prefix(received))  // what came is right
        #expect(try await fleet["n1"].request("GET", "/healthz").status == 200)
    }
}
