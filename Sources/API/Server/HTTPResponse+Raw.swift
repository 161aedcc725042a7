// A buffered response as HTTP/1.1 bytes, for the one case where the server writes an answer to
// the socket itself: an upload cut off mid-body (MHD 0.9.75 queues no answer before a body's end).
extension HTTPResponse {
    func serialized() -> [UInt8] {
        let reasons = [400: "Bad Request", 408: "Request Timeout", 413: "Payload Too Large", 503: "Service Unavailable"]
        var head = "HTTP/1.1 \(status) \(reasons[status] ?? "Error")\r\n"
        for (name, value) in headers where name.lowercased() != "content-length" && name.lowercased() != "connection" {
            head += "\(name): \(value)\r\n"
        }
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}
