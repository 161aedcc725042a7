// /v1/volumes and /v1/pool against the real binary: create, validation, quota/space errors, resize, delete.
import Foundation
import Testing

@Suite struct VolumeEndToEndTests {
    @Test func createGetListResizeDelete() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let created = try await app.request("POST", "/v1/volumes", json: ["name": "photos", "capacity_bytes": 10 << 20])
        #expect(created.status == 201)
        #expect(created.header("Location") == "/v1/volumes/photos")
        #expect(created.json["replicas"] as? Int == 1)
        #expect(created.json["provisioning"] as? String == "thin")
        #expect(created.json["used_bytes"] as? Int == 0)
        #expect(created.json["reserved_bytes"] as? Int == 0)
        #expect(created.json["object_count"] as? Int == 0)
        _ = try await app.request("POST", "/v1/volumes", json: ["name": "archive", "capacity_bytes": 1 << 20])
        let names = (try await app.request("GET", "/v1/volumes").json["volumes"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(names == ["archive", "photos"])

        let resized = try await app.request("PATCH", "/v1/volumes/photos", json: ["capacity_bytes": 20 << 20])
        #expect(resized.status == 200)
        #expect(resized.json["capacity_bytes"] as? Int == 20 << 20)
        #expect(try await app.request("GET", "/v1/volumes/photos").json["capacity_bytes"] as? Int == 20 << 20)

        #expect(try await app.request("DELETE", "/v1/volumes/photos").status == 204)
        #expect(try await app.request("GET", "/v1/volumes/photos").status == 404)
        #expect(try await app.request("DELETE", "/v1/volumes/photos").status == 404)
        #expect(try await app.request("DELETE", "/v1/volumes/archive?force=maybe").status == 400)
        #expect(try await app.request("DELETE", "/v1/volumes/archive?force=true").status == 204)
    }

    @Test func invalidInputIs400NamingTheField() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let cases: [([String: Any], String)] = [
            (["name": "ab", "capacity_bytes": 1], "name"),
            (["name": "-abc", "capacity_bytes": 1], "name"),
            (["name": "Upper", "capacity_bytes": 1], "name"),
            (["name": String(repeating: "a", count: 64), "capacity_bytes": 1], "name"),
            (["name": "okname", "capacity_bytes": 0], "capacity_bytes"),
            (["name": "okname", "capacity_bytes": "10"], "capacity_bytes"),
            (["name": "okname"], "capacity_bytes"),
            (["name": "okname", "capacity_bytes": 1, "replicas": 0], "replicas"),
            (["name": "okname", "capacity_bytes": 1, "replicas": true], "replicas"),
            (["name": "okname", "capacity_bytes": 1, "provisioning": "fat"], "provisioning"),
            (["name": "okname", "capacity_bytes": 1, "extra": 1], "extra"),
            (["name": 7, "capacity_bytes": 1], "name"),
        ]
        for (body, field) in cases {
            let response = try await app.request("POST", "/v1/volumes", json: body)
            #expect(response.status == 400, "\(body)")
            #expect(response.header("Content-Type") == "application/problem+json")
            #expect((response.json["detail"] as? String)?.contains(field) == true, "\(body): \(response.text)")
        }
        #expect(try await app.request("POST", "/v1/volumes", body: Data("[1,2]".utf8)).status == 400)
        #expect(try await app.request("POST", "/v1/volumes", body: Data("not json".utf8)).status == 400)
        #expect((try await app.request("GET", "/v1/volumes").json["volumes"] as? [Any])?.isEmpty == true)
    }

    @Test func conflictsAndSpace() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let pool = try await app.request("GET", "/v1/pool").json
        let free = try #require(pool["free_bytes"] as? Int)
        #expect(pool["device_count"] as? Int == 2)

        #expect(try await app.request("POST", "/v1/volumes", json: ["name": "dup", "capacity_bytes": 1]).status == 201)
        #expect(try await app.request("POST", "/v1/volumes", json: ["name": "dup", "capacity_bytes": 1]).status == 409)
        #expect(try await app.request("POST", "/v1/volumes", json: ["name": "three", "capacity_bytes": 1, "replicas": 3]).status == 409)

        let tooThick = try await app.request(
            "POST", "/v1/volumes", json: ["name": "fat", "capacity_bytes": free, "replicas": 2, "provisioning": "thick"])
        #expect(tooThick.status == 507)
        #expect(try await app.request("GET", "/v1/volumes/fat").status == 404)

        let thin = try await app.request("POST", "/v1/volumes", json: ["name": "overcommit", "capacity_bytes": free * 10])
        #expect(thin.status == 201)

        let thick = try await app.request(
            "POST", "/v1/volumes", json: ["name": "thick", "capacity_bytes": free / 4, "replicas": 2, "provisioning": "thick"])
        #expect(thick.status == 201)
        #expect(thick.json["reserved_bytes"] as? Int == (free / 4) * 2)
        let after = try await app.request("GET", "/v1/pool").json
        #expect(after["reserved_bytes"] as? Int == (free / 4) * 2)
        #expect(after["free_bytes"] as? Int == free - (free / 4) * 2)
        #expect(after["volume_count"] as? Int == 3)

        let grow = try await app.request("PATCH", "/v1/volumes/thick", json: ["capacity_bytes": free])
        #expect(grow.status == 507)
        #expect(try await app.request("GET", "/v1/volumes/thick").json["capacity_bytes"] as? Int == free / 4)
        #expect(try await app.request("PATCH", "/v1/volumes/thick", json: ["capacity_bytes": 0]).status == 400)
        #expect(try await app.request("PATCH", "/v1/volumes/thick", json: [:]).status == 400)
        #expect(try await app.request("PATCH", "/v1/volumes/missing", json: ["capacity_bytes": 5]).status == 404)
    }

    @Test func concurrentThickCreatesNeverOverReserve() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let free = try #require(try await app.request("GET", "/v1/pool").json["free_bytes"] as? Int)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<8 {
                group.addTask {
                    try await app.request("POST", "/v1/volumes", json: ["name": "race-\(i)", "capacity_bytes": free / 3, "provisioning": "thick"])
                        .status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 201 }.count == 3)
        #expect(statuses.filter { $0 == 507 }.count == 5)
        let pool = try await app.request("GET", "/v1/pool").json
        #expect((pool["reserved_bytes"] as? Int ?? 0) <= (pool["capacity_bytes"] as? Int ?? 0))
    }
}
