import Testing

// JSON body decoding: 400s that name the field.
@testable import API

@Suite struct JSONBodyTests {
    func detail(_ json: String) -> String? {
        do {
            _ = try JSONBody.decode(VolumeCreateJSON.self, from: Array(json.utf8), allowedFields: VolumeCreateJSON.fields)
            return nil
        } catch {
            if case .badRequest(let detail) = error { return detail }
            return "unexpected \(error)"
        }
    }

    @Test func validBodiesDecode() throws {
        let body = try JSONBody.decode(
            VolumeCreateJSON.self, from: Array(#"{"name":"abc","capacity_bytes":5,"replicas":2}"#.utf8), allowedFields: VolumeCreateJSON.fields)
        #expect(body.name == "abc")
        #expect(body.capacityBytes == 5)
        #expect(body.replicas == 2)
        #expect(body.provisioning == nil)
    }

    @Test func errorsNameTheField() {
        #expect(detail(#"{"name":"abc","capacity_bytes":"5"}"#)?.contains("capacity_bytes") == true)
        #expect(detail(#"{"capacity_bytes":5}"#)?.contains("'name' is required") == true)
        #expect(detail(#"{"name":"abc","capacity_bytes":5,"replicas":null}"#)?.contains("'replicas' must not be null") == true)
        #expect(detail(#"{"name":"abc","capacity_bytes":5,"bogus":1}"#)?.contains("'bogus'") == true)
        #expect(detail(#"{"name":"abc","capacity_bytes":99999999999999999999999}"#)?.contains("capacity_bytes") == true)
        #expect(detail(#"[1]"#)?.contains("JSON object") == true)
        #expect(detail(#"{"name":"#)?.contains("not valid JSON") == true)
        #expect(detail("")?.contains("required") == true)
    }
}
