// The checksums S3 clients send (`x-amz-checksum-*` headers or trailers): CRC32, CRC32C,
// CRC64NVME, SHA1, SHA256, each base64 of the big-endian digest. Computed as the body streams.
import CCRC32C
import Crypto
import Foundation

enum S3ChecksumAlgorithm: String, CaseIterable, Sendable {
    case crc32 = "CRC32", crc32c = "CRC32C", crc64nvme = "CRC64NVME", sha1 = "SHA1", sha256 = "SHA256"

    /// The header (and trailer) name: `x-amz-checksum-crc32`, …
    var header: String { "x-amz-checksum-" + rawValue.lowercased() }

    init?(header name: String) {
        guard name.hasPrefix("x-amz-checksum-"), let found = Self.allCases.first(where: { $0.header == name }) else { return nil }
        self = found
    }

    init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.rawValue == name.uppercased() }) else { return nil }
        self = found
    }

    /// Bytes of the digest (a base64 value must decode to this many).
    var digestBytes: Int {
        switch self {
        case .crc32, .crc32c: 4
        case .crc64nvme: 8
        case .sha1: 20
        case .sha256: 32
        }
    }
}

/// A running checksum.
struct S3Checksum {
    let algorithm: S3ChecksumAlgorithm
    private var crc: UInt64 = 0
    private var sha1 = Insecure.SHA1()
    private var sha256 = SHA256()

    init(_ algorithm: S3ChecksumAlgorithm) {
        self.algorithm = algorithm
        if algorithm == .crc32 || algorithm == .crc64nvme { crc = algorithm == .crc32 ? 0xFFFF_FFFF : ~0 }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch algorithm {
        case .crc32: crc = UInt64(CRCTables.crc32(UInt32(crc), bytes))
        case .crc32c: crc = UInt64(appliance_crc32c(UInt32(crc), bytes.baseAddress, bytes.count))
        case .crc64nvme: crc = CRCTables.crc64(crc, bytes)
        case .sha1: sha1.update(bufferPointer: bytes)
        case .sha256: sha256.update(bufferPointer: bytes)
        }
    }

    /// The digest as S3 shows it (base64).
    func finalize() -> String { Data(digest()).base64EncodedString() }

    func digest() -> [UInt8] {
        func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
        switch algorithm {
        case .crc32: return bigEndian(~UInt32(crc))
        case .crc32c: return bigEndian(UInt32(crc))
        case .crc64nvme: return bigEndian(~crc)
        case .sha1: return Array(sha1.finalize())
        case .sha256: return Array(sha256.finalize())
        }
    }

    static func of(_ algorithm: S3ChecksumAlgorithm, _ bytes: [UInt8]) -> String {
        var checksum = S3Checksum(algorithm)
        bytes.withUnsafeBytes { checksum.update($0) }
        return checksum.finalize()
    }
}

/// Reflected table-driven CRCs, eight bytes at a time (slicing-by-8).
enum CRCTables {
    static let crc32Table: [[UInt32]] = slicing(poly: UInt32(0xEDB8_8320))
    static let crc64Table: [[UInt64]] = slicing(poly: UInt64(0x9A6C_9329_AC4B_C9B5))

    static func slicing<T: FixedWidthInteger & UnsignedInteger>(poly: T) -> [[T]] {
        var tables = [[T]](repeating: [T](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = T(i)
            for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ poly : c >> 1 }
            tables[0][i] = c
        }
        for i in 0..<256 {
            for t in 1..<8 { tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][Int(tables[t - 1][i] & 0xFF)] }
        }
        return tables
    }

    /// `crc` is the running register (pre-inverted by the caller).
    static func crc32(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c = crc
        var i = 0
        let n = bytes.count
        crc32Table.withUnsafeBufferPointer { t in
            let (t0, t1, t2, t3, t4, t5, t6, t7) = (t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7])
            while i + 8 <= n {
                let lo = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ c
                let hi = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                c =
                    t7[Int(lo & 0xFF)] ^ t6[Int((lo >> 8) & 0xFF)] ^ t5[Int((lo >> 16) & 0xFF)] ^ t4[Int(lo >> 24)]
                    ^ t3[Int(hi & 0xFF)] ^ t2[Int((hi >> 8) & 0xFF)] ^ t1[Int((hi >> 16) & 0xFF)] ^ t0[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = (c >> 8) ^ t0[Int((c ^ UInt32(bytes[i])) & 0xFF)]
                i += 1
            }
        }
        return c
    }

    static func crc64(_ crc: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var c = crc
        var i = 0
        let n = bytes.count
        crc64Table.withUnsafeBufferPointer { t in
            let (t0, t1, t2, t3, t4, t5, t6, t7) = (t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7])
            while i + 8 <= n {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ c
                c =
                    t7[Int(word & 0xFF)] ^ t6[Int((word >> 8) & 0xFF)] ^ t5[Int((word >> 16) & 0xFF)] ^ t4[Int((word >> 24) & 0xFF)]
                    ^ t3[Int((word >> 32) & 0xFF)] ^ t2[Int((word >> 40) & 0xFF)] ^ t1[Int((word >> 48) & 0xFF)] ^ t0[Int(word >> 56)]
                i += 8
            }
            while i < n {
                c = (c >> 8) ^ t0[Int((c ^ UInt64(bytes[i])) & 0xFF)]
                i += 1
            }
        }
        return c
    }
}
