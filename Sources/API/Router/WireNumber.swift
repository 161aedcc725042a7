// Numbers taken from the wire (headers, query parameters, XML text): parsed once into a bounded
// value before any arithmetic, so no length, offset, count or expiry a client sends can overflow
// what is computed from it. What is not a plain decimal is malformed; what exceeds its bound is
// too large: each caller refuses both with its own error.
package enum WireNumber: Equatable, Sendable {
    case value(Int64)
    /// Only digits, but more than the bound allows (any number of digits).
    case tooLarge
    /// Empty, a sign, spaces inside, a fraction, an exponent, hex, or anything else.
    case malformed

    /// `text` as a decimal of ASCII digits (optional spaces or tabs around it) at most `limit`.
    package static func parse(_ text: some StringProtocol, limit: Int64 = .max) -> WireNumber {
        precondition(limit >= 0)
        var bytes = Substring(text).utf8[...]
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        guard !bytes.isEmpty else { return .malformed }
        var value: Int64 = 0
        var over = false
        for byte in bytes {
            guard byte >= 0x30, byte <= 0x39 else { return .malformed }
            let digit = Int64(byte - 0x30)
            if !over {
                if digit > limit || value > (limit - digit) / 10 { over = true } else { value = value * 10 + digit }
            }
        }
        return over ? .tooLarge : .value(value)
    }

    /// The value, or nil when malformed or over `limit` (for callers with one answer for both).
    package static func bounded(_ text: some StringProtocol, limit: Int64 = .max) -> Int64? {
        if case .value(let value) = parse(text, limit: limit) { return value }
        return nil
    }
}
