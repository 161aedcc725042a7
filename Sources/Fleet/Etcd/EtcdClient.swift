// An etcd v3 client over etcd's gRPC gateway (JSON over HTTP, `/v3/...`; keys and values in
// base64, 64-bit numbers as strings), through the fleet's HTTP client. It is the only way the
// fleet reaches etcd: keys, ranges, transactions and leases. Calls are synchronous and may block
// (never on an event loop). With several endpoints, a call that cannot reach one tries the next;
// the one that answered is tried first next time.
import Foundation
import Synchronization

package struct EtcdKeyValue: Sendable, Equatable {
    package var key: String
    package var value: [UInt8]
    package var createRevision: Int64
    package var modRevision: Int64
    /// The lease the key is attached to (0: none).
    package var lease: Int64

    package var text: String { String(decoding: value, as: UTF8.self) }
}

/// A condition of a transaction.
package enum EtcdCompare: Sendable {
    /// The key does not exist.
    case absent(String)
    /// The key exists.
    case present(String)
    /// The key was last changed at this revision (0: it does not exist).
    case modRevision(String, equals: Int64)
    case value(String, equals: [UInt8])
}

/// An operation of a transaction.
package enum EtcdOperation: Sendable {
    case put(String, [UInt8], lease: Int64 = 0)
    case delete(String)
    case get(String)
}

package struct EtcdTxnResult: Sendable {
    package var succeeded: Bool
    /// The key-values each `get` of the branch taken found, in order.
    package var found: [[EtcdKeyValue]]
}

package enum EtcdError: Error, CustomStringConvertible, Equatable {
    /// No endpoint answered.
    case unreachable(String)
    /// etcd answered with an error.
    case refused(status: Int, message: String)
    case malformed(String)

    package var description: String {
        switch self {
        case .unreachable(let why): "etcd unreachable: \(why)"
        case .refused(let status, let message): "etcd refused (\(status)): \(message)"
        case .malformed(let why): "etcd answered something unexpected: \(why)"
        }
    }
}

package final class EtcdClient: Sendable {
    package let endpoints: [String]
    private let http: CurlClient
    private let timeout: Double
    private let preferred = Atomic<Int>(0)
    private let settleSeconds: Double

    /// `endpoints`: base URLs such as `http://127.0.0.1:2379`. `timeout`: seconds per call and
    /// endpoint; `settleSeconds`: how long a call keeps trying while no member can answer.
    package init(endpoints: [String], http: CurlClient, timeout: Double = 2, settleSeconds: Double = 3) {
        self.settleSeconds = settleSeconds
        precondition(!endpoints.isEmpty)
        self.endpoints = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.http = http
        self.timeout = timeout
    }

    // MARK: keys

    package func get(_ key: String) throws(EtcdError) -> EtcdKeyValue? {
        try Self.keyValues(call("kv/range", ["key": Self.base64(key)])).first
    }

    /// Every key under `prefix`, in key order.
    package func list(prefix: String) throws(EtcdError) -> [EtcdKeyValue] {
        try Self.keyValues(call("kv/range", ["key": Self.base64(prefix), "range_end": Self.base64(Self.prefixEnd(prefix))]))
    }

    package func put(_ key: String, _ value: [UInt8], lease: Int64 = 0) throws(EtcdError) {
        var body: [String: Any] = ["key": Self.base64(key), "value": Data(value).base64EncodedString()]
        if lease != 0 { body["lease"] = String(lease) }
        _ = try call("kv/put", body)
    }

    package func delete(_ key: String) throws(EtcdError) {
        _ = try call("kv/deleterange", ["key": Self.base64(key)])
    }

    /// Runs `success` when every comparison holds, else `failure`, atomically.
    package func transaction(
        _ compare: [EtcdCompare], success: [EtcdOperation], failure: [EtcdOperation] = []
    ) throws(EtcdError) -> EtcdTxnResult {
        let answer = try call(
            "kv/txn", ["compare": compare.map(Self.encode), "success": success.map(Self.encode), "failure": failure.map(Self.encode)])
        let succeeded = answer["succeeded"] as? Bool ?? false
        var found: [[EtcdKeyValue]] = []
        for response in answer["responses"] as? [[String: Any]] ?? [] {
            if let range = response["response_range"] as? [String: Any] { found.append(try Self.keyValues(range)) }
        }
        return EtcdTxnResult(succeeded: succeeded, found: found)
    }

    // MARK: leases

    /// A new lease of `ttl` seconds: its id and the TTL etcd granted.
    package func grantLease(ttl: Int) throws(EtcdError) -> (id: Int64, ttl: Int) {
        let answer = try call("lease/grant", ["TTL": String(ttl)])
        guard let id = Self.int64(answer["ID"]), let granted = Self.int64(answer["TTL"]), id != 0 else {
            throw .malformed("lease/grant without ID and TTL")
        }
        return (id, Int(granted))
    }

    /// Renews the lease: the seconds it has left now, 0 when it is gone (expired or revoked).
    package func keepAlive(_ lease: Int64) throws(EtcdError) -> Int {
        do {
            let answer = try call("lease/keepalive", ["ID": String(lease)])
            let result = answer["result"] as? [String: Any] ?? answer
            return Int(Self.int64(result["TTL"]) ?? 0)
        } catch .refused(let status, _) where status == 404 {
            return 0
        }
    }

    package func revoke(_ lease: Int64) throws(EtcdError) {
        do {
            _ = try call("lease/revoke", ["ID": String(lease)])
        } catch .refused(let status, _) where status == 404 {
            // Already gone.
        }
    }

    // MARK: transport

    /// POSTs `body` to `/v3/<path>` on the preferred endpoint, then each other one while none
    /// answers; when no member could answer (none reachable, or none with a leader: an election
    /// after a member died), again every quarter second for up to `settleSeconds`.
    private func call(_ path: String, _ body: [String: Any]) throws(EtcdError) -> [String: Any] {
        let payload: [UInt8]
        do {
            payload = Array(try JSONSerialization.data(withJSONObject: body))
        } catch {
            throw .malformed("cannot encode a request: \(error)")
        }
        let deadline = Date().addingTimeInterval(settleSeconds)
        while true {
            do {
                return try round(path, payload)
            } catch .unreachable(let why) {
                guard Date() < deadline else { throw .unreachable(why) }
                Thread.sleep(forTimeInterval: 0.25)
            }
        }
    }

    /// One try of every endpoint, the preferred first.
    private func round(_ path: String, _ payload: [UInt8]) throws(EtcdError) -> [String: Any] {
        let first = preferred.load(ordering: .relaxed)
        var failures: [String] = []
        for step in 0..<endpoints.count {
            let index = (first + step) % endpoints.count
            let exchange = HTTPExchange(
                method: "POST", url: endpoints[index] + "/v3/" + path, headers: [("Content-Type", "application/json")], body: .bytes(payload),
                timeout: timeout)
            let answer: HTTPAnswer
            do {
                answer = try http.fetch(exchange)
            } catch {
                failures.append("\(endpoints[index]): \(error.message)")
                continue
            }
            if step > 0 { preferred.store(index, ordering: .relaxed) }
            let object = (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any]
            guard answer.status == 200 else {
                // A member without a leader (a lost quorum) answers 503: another may have one.
                if answer.status == 503 {
                    failures.append("\(endpoints[index]): \(object?["message"] as? String ?? "unavailable")")
                    continue
                }
                throw .refused(
                    status: answer.status, message: object?["message"] as? String ?? String(decoding: answer.body.prefix(200), as: UTF8.self))
            }
            guard let object else { throw .malformed("not a JSON object from \(path)") }
            if let error = object["error"] as? [String: Any] {
                throw .refused(status: Self.statusOf(grpcCode: Self.int64(error["grpc_code"]) ?? 2), message: error["message"] as? String ?? "")
            }
            return object
        }
        throw .unreachable(failures.joined(separator: "; "))
    }

    private static func statusOf(grpcCode: Int64) -> Int { grpcCode == 5 ? 404 : 500 }

    // MARK: encoding

    private static func encode(_ compare: EtcdCompare) -> [String: Any] {
        switch compare {
        case .absent(let key): ["key": base64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"]
        case .present(let key): ["key": base64(key), "target": "CREATE", "result": "GREATER", "create_revision": "0"]
        case .modRevision(let key, let revision): ["key": base64(key), "target": "MOD", "result": "EQUAL", "mod_revision": String(revision)]
        case .value(let key, let value):
            ["key": base64(key), "target": "VALUE", "result": "EQUAL", "value": Data(value).base64EncodedString()]
        }
    }

    private static func encode(_ operation: EtcdOperation) -> [String: Any] {
        switch operation {
        case .put(let key, let value, let lease):
            var put: [String: Any] = ["key": base64(key), "value": Data(value).base64EncodedString()]
            if lease != 0 { put["lease"] = String(lease) }
            return ["request_put": put]
        case .delete(let key): return ["request_delete_range": ["key": base64(key)]]
        case .get(let key): return ["request_range": ["key": base64(key)]]
        }
    }

    private static func keyValues(_ answer: [String: Any]) throws(EtcdError) -> [EtcdKeyValue] {
        var found: [EtcdKeyValue] = []
        for kv in answer["kvs"] as? [[String: Any]] ?? [] {
            guard let key = (kv["key"] as? String).flatMap({ Data(base64Encoded: $0) }) else { throw .malformed("a key that is not base64") }
            let value = (kv["value"] as? String).flatMap { Data(base64Encoded: $0) } ?? Data()
            found.append(
                EtcdKeyValue(
                    key: String(decoding: key, as: UTF8.self), value: Array(value), createRevision: int64(kv["create_revision"]) ?? 0,
                    modRevision: int64(kv["mod_revision"]) ?? 0, lease: int64(kv["lease"]) ?? 0))
        }
        return found
    }

    /// etcd's gateway writes 64-bit numbers as strings.
    private static func int64(_ value: Any?) -> Int64? {
        if let string = value as? String { return Int64(string) }
        if let number = value as? NSNumber { return number.int64Value }
        return nil
    }

    private static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    /// The first key after every key with `prefix` (its last byte incremented).
    static func prefixEnd(_ prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0x7f {
                bytes[bytes.count - 1] = last + 1
                return String(decoding: bytes, as: UTF8.self)
            }
            bytes.removeLast()
        }
        return "\0"
    }
}
