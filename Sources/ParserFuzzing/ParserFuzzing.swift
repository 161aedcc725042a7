// One fuzz input, one parser: the first byte names the parser (a letter, so corpus files read as
// text; any other byte picks one by its value), the rest is that parser's input. Every parser
// must answer any input with a value or a refusal: a trap here is a bug in the parser. Where a
// parser promises more (a range inside the object, a decoding that round-trips), that is checked
// too, and a broken promise traps.
package enum ParserFuzzing {
    /// The letters that select a parser (see `dispatch`).
    package static let letters: [UInt8] = Array("FNRPUASVWCXQ".utf8)

    /// Runs the parser `bytes` selects on the rest of them.
    package static func run(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let selector = bytes.first else { return }
        var input = FuzzInput(Array(bytes)[1...])
        dispatch(letters.contains(selector) ? selector : letters[Int(selector) % letters.count], &input)
    }

    /// Starts what the router targets run against (an engine, an access key) before the first input.
    package static func prepare() {
        _ = FuzzFixture.shared
    }

    package static func run(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { run($0) }
    }

    private static func dispatch(_ letter: UInt8, _ input: inout FuzzInput) {
        switch Unicode.Scalar(letter) {
        case "F": FramingFuzz.framing(&input)
        case "N": FramingFuzz.wireNumber(&input)
        case "R": RangeFuzz.range(&input)
        case "P": RangeFuzz.patchRange(&input)
        case "U": RoutingFuzz.percentDecoding(&input)
        case "A": RoutingFuzz.adminRouter(&input)
        case "S": RoutingFuzz.s3Router(&input)
        case "V": SignatureFuzz.sigV4(&input)
        case "W": SignatureFuzz.sigV2(&input)
        case "C": AWSChunkedFuzz.decode(&input)
        case "X": XMLFuzz.parse(&input)
        case "Q": S3QueryFuzz.parameters(&input)
        default: preconditionFailure("no parser for \(letter)")
        }
    }

    /// Traps with `message` when a parser broke a promise (libFuzzer then keeps the input).
    static func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
        if !condition() { fatalError("parser invariant broken: \(message())") }
    }
}
