// The etcd client against a real etcd: keys, prefixes, transactions, leases, and endpoints that
// do not answer.
import EtcdTestSupport
import Foundation
import Testing

@testable import Fleet

@Suite(.serialized) struct EtcdClientTests {
    @Test func keysPrefixesAndTransactions() throws {
        let etcd = try EtcdMembers()
        defer { etcd.stop() }
        let client = EtcdClient(endpoints: [etcd.endpoints], http: CurlClient())
        #expect(try client.get("/t/a") == nil)
        try client.put("/t/a", Array("one".utf8))
        try client.put("/t/b", Array("two".utf8))
        try client.put("/u", Array("other".utf8))
        #expect(try client.get("/t/a")?.text == "one")
        #expect(try client.list(prefix: "/t/").map(\.key) == ["/t/a", "/t/b"])

        // Create only if absent: the first wins, the second finds what is there.
        let first = try client.transaction([.absent("/t/c")], success: [.put("/t/c", Array("x".utf8))], failure: [.get("/t/c")])
        #expect(first.succeeded)
        let second = try client.transaction([.absent("/t/c")], success: [.put("/t/c", Array("y".utf8))], failure: [.get("/t/c")])
        #expect(!second.succeeded)
        #expect(second.found.first?.first?.text == "x")

        // A compare on the revision a value was read at.
        let read = try #require(try client.get("/t/c"))
        try client.put("/t/c", Array("z".utf8))
        let stale = try client.transaction([.modRevision("/t/c", equals: read.modRevision)], success: [.delete("/t/c")])
        #expect(!stale.succeeded)
        #expect(try client.get("/t/c")?.text == "z")
        let value = try client.transaction([.value("/t/c", equals: Array("z".utf8))], success: [.delete("/t/c")])
        #expect(value.succeeded)
        #expect(try client.get("/t/c") == nil)
        try client.delete("/t/a")
        #expect(try client.list(prefix: "/t/").map(\.key) == ["/t/b"])
    }

    @Test func leasesKeepKeysAliveAndTakeThemAlong() throws {
        let etcd = try EtcdMembers()
        defer { etcd.stop() }
        let client = EtcdClient(endpoints: [etcd.endpoints], http: CurlClient())
        let lease = try client.grantLease(ttl: 2)
        #expect(lease.ttl == 2)
        try client.put("/l/held", Array("v".utf8), lease: lease.id)
        #expect(try client.get("/l/held")?.lease == lease.id)
        for _ in 0..<4 {
            usleep(700_000)
            #expect(try client.keepAlive(lease.id) == 2)
        }
        #expect(try client.get("/l/held") != nil)  // 2.8 s after the put: kept alive
        try client.revoke(lease.id)
        #expect(try client.get("/l/held") == nil)
        #expect(try client.keepAlive(lease.id) == 0)
        try client.revoke(lease.id)  // already gone: no error

        let short = try client.grantLease(ttl: 1)
        try client.put("/l/short", Array("v".utf8), lease: short.id)
        usleep(2_500_000)
        #expect(try client.get("/l/short") == nil)
        #expect(try client.keepAlive(short.id) == 0)
    }

    @Test func anEndpointThatDoesNotAnswerIsPassedOver() throws {
        let etcd = try EtcdMembers()
        defer { etcd.stop() }
        let dead = "http://127.0.0.1:\(EtcdMembers.freePort())"
        let client = EtcdClient(endpoints: [dead, etcd.endpoints], http: CurlClient())
        try client.put("/e/k", Array("v".utf8))
        #expect(try client.get("/e/k")?.text == "v")
        let nobody = EtcdClient(endpoints: [dead], http: CurlClient())
        #expect {
            try nobody.get("/e/k")
        } throws: { error in
            guard case EtcdError.unreachable = error else { return false }
            return true
        }
    }
}
