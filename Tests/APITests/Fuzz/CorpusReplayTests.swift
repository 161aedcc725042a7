// The request-parser fuzzer's corpus (Tests/Fuzz: hand-written seeds and what libFuzzer kept)
// run through the fuzzer's own dispatch, without the sanitizer: every input the fuzzer has seen
// stays answered without a trap (`make fuzz` runs the fuzzer itself).
import Foundation
import ParserFuzzing
import Testing

@Suite struct CorpusReplayTests {
    static let root = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "../../Fuzz").standardized.path

    @Test(arguments: ["seeds", "corpus"])
    func replaysEveryInput(_ directory: String) throws {
        let files = try ParserFuzzing.corpusFiles(at: Self.root + "/" + directory)
        #expect(!files.isEmpty, "no inputs in \(Self.root)/\(directory)")
        for file in files {
            ParserFuzzing.run(Array(try Data(contentsOf: URL(filePath: file))))
        }
    }

    /// Every parser has seeds, selected by its letter.
    @Test func seedsCoverEveryParser() throws {
        let selectors = Set(try ParserFuzzing.corpusFiles(at: Self.root + "/seeds").compactMap { try Data(contentsOf: URL(filePath: $0)).first })
        #expect(selectors == Set(ParserFuzzing.letters))
    }
}
