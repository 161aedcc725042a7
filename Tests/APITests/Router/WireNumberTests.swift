import Testing

// Numbers from the wire: every digit string is a value, too large, or malformed, and never traps.
@testable import API

@Suite struct WireNumberTests {
    @Test func plainDecimalsWithinTheBound() {
        #expect(WireNumber.parse("0") == .value(0))
        #expect(WireNumber.parse(" 42\t") == .value(42))
        #expect(WireNumber.parse("9223372036854775807") == .value(.max))
        #expect(WireNumber.parse("1000", limit: 1000) == .value(1000))
        #expect(WireNumber.parse("0000000000000000000000000001", limit: 5) == .value(1))
    }

    @Test func pastTheBoundIsTooLargeNotATrap() {
        for text in ["9223372036854775808", "18446744073709551616", String(repeating: "9", count: 400)] {
            #expect(WireNumber.parse(text) == .tooLarge)
        }
        #expect(WireNumber.parse("1001", limit: 1000) == .tooLarge)
        #expect(WireNumber.parse("5", limit: 0) == .tooLarge)
        #expect(WireNumber.parse("10", limit: 9) == .tooLarge)
    }

    @Test func anythingButDigitsIsMalformed() {
        for text in ["", " ", "-1", "+5", "0x10", "1e3", "1.5", "5 5", "١٢", "12a", "9223372036854775808x", "\u{0}1"] {
            #expect(WireNumber.parse(text) == .malformed, "\(text.debugDescription)")
        }
    }

    /// Random digit strings against arithmetic on arbitrary-length decimals (as strings).
    @Test func agreesWithAModelOnRandomDigitStrings() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let length = Int.random(in: 1...25, using: &generator)
            let digits = String((0..<length).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
            let limit = Int64.random(in: 0...Int64.max, using: &generator)
            let trimmed = String(digits.drop { $0 == "0" })
            let limitText = String(limit)
            let within = trimmed.count < limitText.count || (trimmed.count == limitText.count && trimmed <= limitText)
            let parsed = WireNumber.parse(digits, limit: limit)
            if within {
                #expect(parsed == .value(Int64(trimmed.isEmpty ? "0" : trimmed)!), "\(digits) limit \(limit)")
            } else {
                #expect(parsed == .tooLarge, "\(digits) limit \(limit)")
            }
        }
    }
}
