// The 64-bit user_data carried by every SQE and returned in its CQE: the operation's kind in the
// top 8 bits (so a completion can name its call without looking the operation up) and the
// caller's operation index in the low 56.
import CURing

struct UserData: Equatable {
    enum Kind: UInt8 {
        case read = 1
        case write = 2
        case fdatasync = 3
        case fsync = 4

        /// The `SyscallError.call` for a failed completion of this kind (also the injectFault key).
        var call: String {
            switch self {
            case .read: "io_uring read"
            case .write: "io_uring write"
            case .fdatasync: "io_uring fdatasync"
            case .fsync: "io_uring fsync"
            }
        }
    }

    static let indexBits = 56
    static let maxIndex = (1 << indexBits) - 1

    let raw: UInt64

    init(index: Int, kind: Kind) {
        // user_data is a __u64 in both the SQE and the CQE; UserData must stay exactly that wide.
        assert(MemoryLayout<UserData>.size == MemoryLayout<UInt64>.size)
        assert(MemoryLayout.size(ofValue: io_uring_sqe().user_data) == MemoryLayout<UInt64>.size)
        assert(MemoryLayout.size(ofValue: io_uring_cqe().user_data) == MemoryLayout<UInt64>.size)
        precondition(index >= 0 && index <= Self.maxIndex, "operation index \(index) does not fit user_data")
        raw = UInt64(kind.rawValue) << UInt64(Self.indexBits) | UInt64(index)
    }

    init(raw: UInt64) { self.raw = raw }

    var index: Int { Int(truncatingIfNeeded: raw & UInt64(Self.maxIndex)) }

    var kind: Kind {
        guard let kind = Kind(rawValue: UInt8(truncatingIfNeeded: raw >> UInt64(Self.indexBits))) else {
            preconditionFailure("user_data \(raw) carries no known kind: a CQE we did not submit")
        }
        return kind
    }
}
