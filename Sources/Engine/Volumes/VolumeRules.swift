// Validation of volume parameters: names, capacities, replica counts, snapshot names.
enum VolumeRules {
    static let maxCapacity: Int64 = 1 << 56
    static let maxReplicas: Int64 = 16

    /// 3–63 characters of [a-z0-9-], starting and ending alphanumeric.
    static func validate(name: String) throws(EngineError) {
        let bytes = Array(name.utf8)
        func alnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        guard (3...63).contains(bytes.count) else {
            throw .invalidArgument(field: "name", reason: "must be 3 to 63 characters long")
        }
        guard bytes.allSatisfy({ alnum($0) || $0 == 0x2D }) else {
            throw .invalidArgument(field: "name", reason: "may contain only lowercase letters, digits and '-'")
        }
        guard alnum(bytes.first!), alnum(bytes.last!) else {
            throw .invalidArgument(field: "name", reason: "must start and end with a lowercase letter or digit")
        }
    }

    /// 1–63 characters of [A-Za-z0-9._-], starting with a letter or digit (never '@', which
    /// separates a volume from its snapshot in `volume@snapshot`).
    static func validate(snapshotName name: String) throws(EngineError) {
        let bytes = Array(name.utf8)
        func alnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) }
        guard (1...63).contains(bytes.count) else {
            throw .invalidArgument(field: "name", reason: "a snapshot's name must be 1 to 63 characters long")
        }
        guard bytes.allSatisfy({ alnum($0) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F }), alnum(bytes[0]) else {
            throw .invalidArgument(
                field: "name", reason: "a snapshot's name may contain only letters, digits, '.', '_' and '-', and starts with a letter or digit")
        }
    }

    static func validate(capacity: Int64) throws(EngineError) {
        guard (1...maxCapacity).contains(capacity) else {
            throw .invalidArgument(field: "capacity_bytes", reason: "must be between 1 and \(maxCapacity)")
        }
    }

    static func validate(replicas: Int64) throws(EngineError) {
        guard (1...maxReplicas).contains(replicas) else {
            throw .invalidArgument(field: "replicas", reason: "must be between 1 and \(maxReplicas)")
        }
    }
}
