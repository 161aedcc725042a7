// Request targets: percent-decoding, and routing on the two routers the server builds (their
// templates, 404/405, parameter decoding) up to the refusal of a head (admin token, S3 signature).
import API

enum RoutingFuzz {
    /// Flags (1: `+` is a space), then the raw text. Text without escapes comes back as it is,
    /// and what `uriEncode` encodes decodes back to itself.
    static func percentDecoding(_ input: inout FuzzInput) {
        let plusIsSpace = input.byte() & 1 != 0
        let raw = input.string()
        let decoded = PercentDecoding.decode(raw, plusIsSpace: plusIsSpace)
        if !raw.utf8.contains(UInt8(ascii: "%")) && !(plusIsSpace && raw.utf8.contains(UInt8(ascii: "+"))) {
            ParserFuzzing.require(decoded == raw, "\(raw.debugDescription) has nothing to decode but became \(decoded.debugDescription)")
        }
        let encoded = SigV4.uriEncode(raw)
        ParserFuzzing.require(
            PercentDecoding.decode(encoded, plusIsSpace: plusIsSpace) == raw, "\(encoded) does not decode to \(raw.debugDescription)")
        _ = PercentDecoding.resource(raw)
        _ = SigV4.canonicalURI(rawPath: raw)
    }

    /// A request (see `FuzzInput.request`) resolved and its head judged by the admin router.
    static func adminRouter(_ input: inout FuzzInput) {
        judge(input.request(), by: FuzzFixture.shared.admin)
    }

    /// Flags (1: sign it with the fixture's key, as of now), then a request resolved and its head
    /// judged by the S3 router (a Host under `FuzzFixture.s3Domain` names the bucket). A request
    /// the harness signed, on a route, is accepted.
    static func s3Router(_ input: inout FuzzInput) {
        let sign = input.byte() & 1 != 0
        var request = input.request()
        let signed = sign && SignatureFuzz.sign(&request, key: FuzzFixture.shared.key)
        // Routed as the server routes it: by the bucket a Host under the domain names (the
        // signature covers the path as sent).
        request.path = FuzzFixture.shared.s3.routedPath(request.sentPath, host: request.header("host"))
        let (resolution, refusal) = judge(request, by: FuzzFixture.shared.s3)
        if signed, case .success = resolution.outcome {
            ParserFuzzing.require(
                refusal == nil, "a request signed by the harness was refused: \(String(decoding: refusal?.body ?? [], as: UTF8.self))")
        }
    }

    @discardableResult
    private static func judge(_ request: HTTPRequest, by router: Router) -> (RouteResolution, HTTPResponse?) {
        let resolution = router.resolve(method: request.method, path: request.path)
        if case .success(let found) = resolution.outcome {
            for (name, value) in found.parameters {
                ParserFuzzing.require(!value.utf8.contains(0), "parameter \(name) decoded to a NUL")
            }
        }
        return (resolution, router.refusal(ofHead: request, resolution, context: FuzzFixture.context()))
    }
}
