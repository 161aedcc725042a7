// AWS Signature Version 2, which S3 still accepts and some clients still send: boto3's
// `generate_presigned_url` with default settings (AWSAccessKeyId / Signature / Expires in the
// query) and older tools (`Authorization: AWS id:signature`). HMAC-SHA1 over the method,
// Content-MD5, Content-Type, date (or Expires), the x-amz-* headers and the resource.
import Crypto
import Foundation

package enum SigV2 {
    /// Query parameters that are part of the signed resource.
    static let subresources: Set<String> = [
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy", "requestPayment",
        "response-cache-control", "response-content-disposition", "response-content-encoding", "response-content-language",
        "response-content-type", "response-expires", "restore", "tagging", "torrent", "uploadId", "uploads", "versionId",
        "versioning", "versions", "website",
    ]

    package static func stringToSign(_ request: HTTPRequest, date: String) -> String {
        var amz: [(String, String)] = []
        for (name, value) in request.headers where name.hasPrefix("x-amz-") {
            amz.append((name, value.trimmingCharacters(in: .whitespaces)))
        }
        amz.sort { $0.0 < $1.0 }
        var resource = request.path
        let signed = request.query.filter { subresources.contains($0.name) }.sorted { $0.name < $1.name }
        if !signed.isEmpty {
            resource +=
                "?"
                + signed.map { entry in
                    guard let value = entry.value else { return entry.name }
                    return entry.name + "=" + (PercentDecoding.decode(value) ?? value)
                }.joined(separator: "&")
        }
        return [request.method, request.header("content-md5") ?? "", request.header("content-type") ?? "", date].joined(separator: "\n") + "\n"
            + amz.map { "\($0.0):\($0.1)\n" }.joined() + resource
    }

    static func signature(secret: String, _ text: String) -> String {
        Data(HMAC<Insecure.SHA1>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: Array(secret.utf8)))).base64EncodedString()
    }
}
