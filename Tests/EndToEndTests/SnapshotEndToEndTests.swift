// Volume snapshots on the real binary, through the native API: take, list, read (?snapshot= on
// GET, HEAD and the listing), the figures (snapshot_bytes), every refusal with its status, a
// restart, and deleting a snapshot giving its space back.
import Foundation
import Testing

@Suite struct SnapshotEndToEndTests {
    @Test func aSnapshotKeepsTheVolumeAsItWas() async throws {
        let dataDir = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dataDir) }
        var app = try ApplianceProcess(dataDir: dataDir)
        defer { _ = app.stop(removeData: false) }
        #expect(try await app.request("POST", "/v1/volumes", json: ["name": "vms", "capacity_bytes": 64 << 20]).status == 201)
        let (a, b) = (ObjectEndToEndTests.randomData(300_000), ObjectEndToEndTests.randomData(5_000))
        #expect(try await app.request("PUT", "/v1/volumes/vms/objects/disk/a.img", body: a).status == 201)
        // Written async: a snapshot holds what was answered before it.
        #expect(try await app.request("PUT", "/v1/volumes/vms/objects/b.txt?durability=async", body: b).status == 201)

        let taken = try await app.request("POST", "/v1/volumes/vms/snapshots", json: ["name": "before-upgrade"])
        #expect(taken.status == 201)
        #expect(taken.json["name"] as? String == "before-upgrade")
        #expect(taken.headers["location"] == "/v1/volumes/vms/snapshots/before-upgrade")

        // Changed after the snapshot: a.img overwritten, b.txt deleted, c added, a.img patched.
        let a2 = ObjectEndToEndTests.randomData(200_000)
        #expect(try await app.request("PUT", "/v1/volumes/vms/objects/disk/a.img", body: a2).status == 200)
        #expect(try await app.request("DELETE", "/v1/volumes/vms/objects/b.txt").status == 204)
        #expect(try await app.request("PUT", "/v1/volumes/vms/objects/c", body: Data("new".utf8)).status == 201)
        #expect(
            try await app.request("PATCH", "/v1/volumes/vms/objects/disk/a.img", body: Data("xyz".utf8), headers: ["Content-Range": "bytes 0-2/*"])
                .status == 200)

        for restart in [false, true] {
            if restart {
                #expect(app.stop(removeData: false) == 0)
                app = try ApplianceProcess(dataDir: dataDir)
            }
            let old = try await app.request("GET", "/v1/volumes/vms/objects/disk/a.img?snapshot=before-upgrade")
            #expect(old.status == 200 && old.body == a, "restart \(restart)")
            #expect(try await app.request("GET", "/v1/volumes/vms/objects/b.txt?snapshot=before-upgrade").body == b)
            #expect(try await app.request("HEAD", "/v1/volumes/vms/objects/b.txt?snapshot=before-upgrade").headers["content-length"] == "5000")
            #expect(try await app.request("GET", "/v1/volumes/vms/objects/c?snapshot=before-upgrade").status == 404)
            #expect(try await app.request("GET", "/v1/volumes/vms/objects/b.txt").status == 404)
            var now = a2
            now.replaceSubrange(0..<3, with: Data("xyz".utf8))
            #expect(try await app.request("GET", "/v1/volumes/vms/objects/disk/a.img").body == now)
            let listed = try await app.request("GET", "/v1/volumes/vms/objects?snapshot=before-upgrade").json
            #expect((listed["objects"] as? [[String: Any]])?.compactMap { $0["key"] as? String } == ["b.txt", "disk/a.img"])
            let paged = try await app.request("GET", "/v1/volumes/vms/objects?snapshot=before-upgrade&limit=1").json
            #expect(paged["next_start_after"] as? String == "b.txt")
            let volume = try await app.request("GET", "/v1/volumes/vms").json
            // Held only by the snapshot: the a.img and b.txt it holds.
            #expect(volume["snapshot_bytes"] as? Int == a.count + b.count)
            #expect(volume["used_bytes"] as? Int == a.count + b.count + now.count + 3)
            let list = try await app.request("GET", "/v1/volumes/vms/snapshots").json
            #expect((list["snapshots"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["before-upgrade"])
            #expect(try await app.request("GET", "/v1/volumes/vms/snapshots/before-upgrade").json["volume"] as? String == "vms")
        }
    }

    @Test func everyWrongRequestIsRefusedAndChangesNothing() async throws {
        let app = try ApplianceProcess()
        defer { _ = app.stop() }
        #expect(try await app.request("POST", "/v1/volumes", json: ["name": "vms", "capacity_bytes": 64 << 20]).status == 201)
        #expect(try await app.request("PUT", "/v1/volumes/vms/objects/k", body: Data("v1".utf8)).status == 201)
        #expect(try await app.request("POST", "/v1/volumes/vms/snapshots", json: ["name": "s1"]).status == 201)
        for (body, status) in [
            (["name": "s1"], 409), (["name": ""], 400), (["name": "a@b"], 400), (["name": ".hidden"], 400),
            (["name": String(repeating: "x", count: 64)], 400), (["name": "ok", "extra": 1], 400),
        ] as [([String: Any], Int)] {
            let answer = try await app.request("POST", "/v1/volumes/vms/snapshots", json: body)
            #expect(answer.status == status, "\(body): \(answer.status)")
            #expect(answer.headers["content-type"] == "application/problem+json")
        }
        #expect(try await app.request("POST", "/v1/volumes/nope/snapshots", json: ["name": "s"]).status == 404)
        #expect(try await app.request("GET", "/v1/volumes/vms/objects/k?snapshot=nope").status == 404)
        #expect(try await app.request("GET", "/v1/volumes/vms/objects?snapshot=nope").status == 404)
        #expect(try await app.request("GET", "/v1/volumes/vms/objects/k?snapshot=").status == 400)
        #expect(try await app.request("GET", "/v1/volumes/vms/objects/k?snapshot=s1&version_id=null").status == 400)
        #expect(try await app.request("GET", "/v1/volumes/vms/snapshots/nope").status == 404)
        #expect(try await app.request("DELETE", "/v1/volumes/vms/snapshots/nope").status == 404)
        let names = try await app.request("GET", "/v1/volumes/vms/snapshots").json["snapshots"] as? [[String: Any]]
        #expect(names?.compactMap { $0["name"] as? String } == ["s1"])

        // A volume with snapshots is deleted only with force.
        #expect(try await app.request("DELETE", "/v1/volumes/vms/objects/k").status == 204)
        #expect(try await app.request("DELETE", "/v1/volumes/vms").status == 409)
        #expect(try await app.request("GET", "/v1/volumes/vms/objects/k?snapshot=s1").body == Data("v1".utf8))
        // Deleting the snapshot frees what only it held.
        #expect(try await app.request("GET", "/v1/volumes/vms").json["snapshot_bytes"] as? Int == 2)
        #expect(try await app.request("DELETE", "/v1/volumes/vms/snapshots/s1").status == 204)
        let volume = try await app.request("GET", "/v1/volumes/vms").json
        #expect(volume["snapshot_bytes"] as? Int == 0)
        #expect(volume["used_bytes"] as? Int == 0)
        #expect(try await app.request("DELETE", "/v1/volumes/vms").status == 204)
    }

    @Test func aCloneIsWritableAndSharesWithItsOrigin() async throws {
        let app = try ApplianceProcess()
        defer { _ = app.stop() }
        #expect(try await app.request("POST", "/v1/volumes", json: ["name": "vms", "capacity_bytes": 64 << 20, "replicas": 2]).status == 201)
        let image = ObjectEndToEndTests.randomData(400_000)
        #expect(try await app.request("PUT", "/v1/volumes/vms/objects/base.img", body: image).status == 201)
        #expect(try await app.request("POST", "/v1/volumes/vms/snapshots", json: ["name": "golden"]).status == 201)
        let pool = try await app.request("GET", "/v1/pool").json["allocated_bytes"] as? Int

        let created = try await app.request("POST", "/v1/volumes", json: ["name": "vm1", "clone_of": "vms@golden"])
        #expect(created.status == 201)
        #expect(created.json["clone_of"] as? String == "vms@golden")
        #expect(created.json["shared_bytes"] as? Int == image.count)
        #expect(created.json["exclusive_bytes"] as? Int == 0)
        #expect(created.json["replicas"] as? Int == 2)
        #expect(created.json["capacity_bytes"] as? Int == 64 << 20)
        #expect(try await app.request("GET", "/v1/pool").json["allocated_bytes"] as? Int == pool, "a clone allocates nothing")
        #expect(try await app.request("GET", "/v1/volumes/vm1/objects/base.img").body == image)
        #expect(try await app.request("GET", "/v1/volumes/vms").json["clone_of"] is NSNull)

        // Written in the clone: the origin and its snapshot are as they were.
        #expect(
            try await app.request("PATCH", "/v1/volumes/vm1/objects/base.img", body: Data("boot".utf8), headers: ["Content-Range": "bytes 0-3/*"])
                .status == 200)
        var patched = image
        patched.replaceSubrange(0..<4, with: Data("boot".utf8))
        #expect(try await app.request("GET", "/v1/volumes/vm1/objects/base.img").body == patched)
        #expect(try await app.request("GET", "/v1/volumes/vms/objects/base.img").body == image)
        #expect(try await app.request("GET", "/v1/volumes/vm1").json["exclusive_bytes"] as? Int == image.count)

        for (body, status) in [
            (["name": "vm2", "clone_of": "vms"], 400), (["name": "vm2", "clone_of": "vms@"], 400), (["name": "vm2", "clone_of": "a@b@c"], 400),
            (["name": "vm2", "clone_of": "vms@nope"], 404), (["name": "vm2", "clone_of": "nope@golden"], 404),
            (["name": "vm1", "clone_of": "vms@golden"], 409),
            (["name": "vm2"], 400),
        ] as [([String: Any], Int)] {
            let answer = try await app.request("POST", "/v1/volumes", json: body)
            #expect(answer.status == status, "\(body): \(answer.status) \(String(decoding: answer.body, as: UTF8.self))")
        }
        #expect(try await app.request("DELETE", "/v1/volumes/vms/snapshots/golden").status == 409)
        #expect(try await app.request("DELETE", "/v1/volumes/vms?force=true").status == 409)
        #expect(try await app.request("DELETE", "/v1/volumes/vm1?force=true").status == 204)
        #expect(try await app.request("DELETE", "/v1/volumes/vms/snapshots/golden").status == 204)
        #expect(try await app.request("DELETE", "/v1/volumes/vms?force=true").status == 204)
    }
}
