// The request-parser fuzzer's entry point. Built by `make fuzz` with `-D FUZZING` and
// `-sanitize=fuzzer,address`, it is libFuzzer's driver calling `ParserFuzzing.run` with each
// input. Built plainly (`swift build`), it replays the files or directories it is given, e.g. a
// crash artifact without the sanitizer: `swift run FuzzParsers crash-…`.
import ParserFuzzing

#if FUZZING
    import CLibFuzzer

    /// What libFuzzer calls with each input.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzParsers(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        guard let data else { return 0 }
        ParserFuzzing.run(UnsafeBufferPointer(start: data, count: size))
        return 0
    }

    /// What libFuzzer calls once, before the first input.
    @_cdecl("LLVMFuzzerInitialize")
    public func fuzzParsersInitialize(
        _ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
    ) -> CInt {
        ParserFuzzing.prepare()
        return 0
    }

    /// The program's entry: SwiftPM links an executable's `main` to `FuzzParsers_main` (libFuzzer's
    /// own `main` is then never linked), so this starts libFuzzer's driver itself.
    @_cdecl("FuzzParsers_main")
    public func fuzzParsersMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzParsers(data, size) }
    }
#else
    import Foundation

    @main
    enum ReplayCorpus {
        static func main() throws {
            var count = 0
            for argument in CommandLine.arguments.dropFirst() {
                for path in try ParserFuzzing.corpusFiles(at: argument) {
                    ParserFuzzing.run(Array(try Data(contentsOf: URL(filePath: path))))
                    count += 1
                }
            }
            print("replayed \(count) inputs")
        }
    }
#endif
