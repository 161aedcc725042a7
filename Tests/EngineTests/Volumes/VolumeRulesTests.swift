import Testing

@testable import Engine

@Suite struct VolumeRulesTests {
    /// The field named by an `invalidArgument`, nil for anything else.
    static func field(_ error: EngineError?) -> String? {
        guard case .invalidArgument(let field, _)? = error else { return nil }
        return field
    }

    @Test(arguments: ["abc", "a-1", "0ab", "a--b", String(repeating: "a", count: 63)])
    func validNames(_ name: String) throws {
        try VolumeRules.validate(name: name)
    }

    @Test(arguments: ["", "ab", String(repeating: "a", count: 64), "-ab", "ab-", "Abc", "a_b", "a.b", "a b", "äbc"])
    func invalidNames(_ name: String) {
        let error = #expect(throws: EngineError.self) { try VolumeRules.validate(name: name) }
        #expect(Self.field(error) == "name")
    }

    @Test(arguments: [1, 1 << 30, VolumeRules.maxCapacity] as [Int64])
    func validCapacities(_ capacity: Int64) throws {
        #expect(VolumeRules.maxCapacity == 1 << 56)
        try VolumeRules.validate(capacity: capacity)
    }

    @Test(arguments: [0, -1, (1 << 56) + 1, Int64.max] as [Int64])
    func invalidCapacities(_ capacity: Int64) {
        let error = #expect(throws: EngineError.self) { try VolumeRules.validate(capacity: capacity) }
        #expect(Self.field(error) == "capacity_bytes")
    }

    @Test(arguments: [1, 3, 16] as [Int64])
    func validReplicas(_ replicas: Int64) throws {
        try VolumeRules.validate(replicas: replicas)
    }

    @Test(arguments: [0, -1, 17] as [Int64])
    func invalidReplicas(_ replicas: Int64) {
        let error = #expect(throws: EngineError.self) { try VolumeRules.validate(replicas: replicas) }
        #expect(Self.field(error) == "replicas")
    }
}
