// An HTML form's body (application/x-www-form-urlencoded): name=value pairs, `+` for a space,
// percent-escapes decoded as UTF-8. A malformed field is a 400, never a guess.
struct ConsoleForm {
    private(set) var fields: [(name: String, value: String)] = []

    init(_ body: [UInt8]) throws(HTTPError) {
        guard !body.isEmpty else { return }
        for part in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let pieces = part.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ bytes: ArraySlice<UInt8>) throws(HTTPError) -> String {
                guard let raw = String(validating: bytes, as: UTF8.self), let text = PercentDecoding.decode(raw, plusIsSpace: true) else {
                    throw .badRequest("a form field is not valid percent-encoded UTF-8")
                }
                return text
            }
            fields.append((try decode(pieces[0]), pieces.count > 1 ? try decode(pieces[1]) : ""))
        }
    }

    subscript(_ name: String) -> String? { fields.last { $0.name == name }?.value }

    func all(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }
}
