import Foundation
import Testing

// The request-body parser: S3's documents parse; a body past a limit (nesting, elements, bytes),
// with a DTD or unclosed is MalformedXML, and a 20,000-deep one is refused without
// exhausting the stack (it took the process down); a body that is not UTF-8 is refused before
// FoundationXML sees it (a comment or element name with the byte 0xD0 trapped it).
@testable import API

@Suite struct XMLNodeTests {
    static func nested(_ depth: Int, root: String = "Delete", leaf: String = "Object") -> [UInt8] {
        Array(("<\(root)>" + String(repeating: "<\(leaf)>", count: depth) + String(repeating: "</\(leaf)>", count: depth) + "</\(root)>").utf8)
    }

    @Test func parsesADeleteBody() throws {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>
            <Object><Key>a&amp;b</Key></Object><Object><Key>e\u{0301}/&#xd;x</Key></Object></Delete>
            """
        let root = try XMLNode.parse(Array(body.utf8))
        #expect(root.name == "Delete")
        #expect(root.child("Quiet")?.trimmedText == "true")
        #expect(root.all("Object").compactMap { $0.child("Key")?.text.utf8.map { $0 } } == [Array("a&b".utf8), Array("e\u{0301}/\rx".utf8)])
    }

    @Test func nestingUpToTheLimitParses() throws {
        let limits = XMLNode.Limits()
        var node = try XMLNode.parse(Self.nested(limits.depth - 1))
        var depth = 1
        while let next = node.children.first {
            node = next
            depth += 1
        }
        #expect(depth == limits.depth)
    }

    @Test(arguments: [33, 1_000, 20_000, 200_000])
    func deepNestingIsMalformed(_ depth: Int) {
        #expect(throws: S3Error.self) { try XMLNode.parse(Self.nested(depth)) }
        do {
            _ = try XMLNode.parse(Self.nested(depth))
        } catch {
            #expect(error.code == "MalformedXML" && error.status == 400)
        }
    }

    /// The same on a thread with a small stack (the server's workers are not the main thread).
    @Test func deepNestingOnASmallStack() async {
        let body = Self.nested(20_000, root: "CompleteMultipartUpload", leaf: "Part")
        let code = await withCheckedContinuation { continuation in
            let thread = Thread {
                do {
                    _ = try XMLNode.parse(body)
                    continuation.resume(returning: "parsed")
                } catch {
                    continuation.resume(returning: (error as? S3Error)?.code ?? "\(error)")
                }
            }
            thread.stackSize = 256 << 10
            thread.start()
        }
        #expect(code == "MalformedXML")
    }

    @Test func tooManyElementsIsMalformed() throws {
        let objects = String(repeating: "<Object><Key>k</Key></Object>", count: 60)
        let body = Array("<Delete>\(objects)</Delete>".utf8)
        #expect(try XMLNode.parse(body).all("Object").count == 60)
        #expect(throws: S3Error.malformedXML("The XML you provided has more than 100 elements.")) {
            try XMLNode.parse(body, limits: XMLNode.Limits(elements: 100))
        }
    }

    @Test func tooManyBytesIsMalformed() {
        let body = Array("<Delete><Object><Key>\(String(repeating: "k", count: 2_000))</Key></Object></Delete>".utf8)
        #expect(throws: S3Error.self) { try XMLNode.parse(body, limits: XMLNode.Limits(bytes: 1_000)) }
    }

    @Test(arguments: [
        "<Delete><Object>",  // never closed
        "<Delete><Object></Delete>",
        "not xml",
        "",
        """
        <?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
        <Delete><Object><Key>&lol2;</Key></Object></Delete>
        """,
    ])
    func malformedBodies(_ body: String) {
        #expect(throws: S3Error.self) { try XMLNode.parse(Array(body.utf8)) }
    }

    /// Found by the parser fuzzer (Tests/Fuzz/seeds/xml-crash-*): each trapped in FoundationXML
    /// (a force-unwrapped UTF-8 decoding of what libxml2 handed over) and took the server down.
    @Test(arguments: [
        [UInt8]("<Delete><!--".utf8) + [0xD0] + Array("--></Delete>".utf8),
        [UInt8]("<Delete><".utf8) + [0xD0, 0xD0] + Array("b/></Delete>".utf8),
        [UInt8]("<Delete ".utf8) + [0xD0] + Array("=\"1\"/>".utf8),
        [UInt8]("<?".utf8) + [0xD0] + Array(" x?><Delete/>".utf8),
        [UInt8]("<Delete><Key>".utf8) + [0xC0, 0x80] + Array("</Key></Delete>".utf8),
    ])
    func bodiesThatAreNotUTF8AreMalformed(_ body: [UInt8]) {
        #expect(throws: S3Error.malformedXML("The XML you provided is not valid UTF-8.")) { try XMLNode.parse(body) }
    }

    /// Also found by the fuzzer: a processing instruction without data (SIGSEGV in FoundationXML).
    @Test(arguments: ["<?x?><Delete/>", "<Delete><?x?></Delete>", "<Delete/><?x y?>", "<?xml version=\"1.0\"?><?xml version=\"1.0\"?><Delete/>"])
    func processingInstructionsAreMalformed(_ body: String) {
        #expect(throws: S3Error.malformedXML("The XML you provided has a processing instruction.")) { try XMLNode.parse(Array(body.utf8)) }
    }

    @Test(arguments: ["<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete/>", "\u{FEFF}<?xml version=\"1.0\"?>\n<Delete/>", "<Delete/>"])
    func theXMLDeclarationIsNotAProcessingInstruction(_ body: String) throws {
        #expect(try XMLNode.parse(Array(body.utf8)).name == "Delete")
    }

    @Test func utf8NamesAndTextParse() throws {
        let root = try XMLNode.parse(Array("<Delete><!-- caf\u{E9} --><Object><Key>\u{1F600}</Key></Object></Delete>".utf8))
        #expect(root.child("Object")?.child("Key")?.text == "\u{1F600}")
    }
}
