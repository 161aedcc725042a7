// An object version's id as clients see it: "null" for the null version (a volume that never had
// versioning, or a write while it was suspended), otherwise made from the version's row id, which
// the catalog never gives twice (AUTOINCREMENT): unique, and ordered as the versions were made.
// Sixteen hex digits; clients treat it as opaque.

package struct VersionID: Hashable, Sendable, CustomStringConvertible {
    /// The row id of a versioned row; nil for the null version.
    package let rowID: Int64?

    package static let null = VersionID(rowID: nil)

    package init(rowID: Int64?) {
        self.rowID = rowID
    }

    /// "null", or sixteen hex digits naming a row; nil for anything else.
    package init?(parsing text: String) {
        if text == "null" {
            rowID = nil
            return
        }
        guard text.utf8.count == 16, text.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }),
            let value = UInt64(text, radix: 16), value > 0, value <= UInt64(Int64.max)
        else { return nil }
        rowID = Int64(value)
    }

    package var description: String {
        guard let rowID else { return "null" }
        let hex = String(UInt64(rowID), radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    }
}
