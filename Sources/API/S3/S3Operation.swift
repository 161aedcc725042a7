// The S3 operation a request asks for, named as AWS names it (PutObject, ListObjectsV2, …): from
// its method, its route template and the query's subresource, the way the handlers dispatch.
// It labels `appliance_s3_requests_total`, a bounded set of names ("Unknown" for requests that matched no route).
enum S3Operation {
    static func name(_ request: HTTPRequest, route: String) -> String {
        let has = { (name: String) in S3Handlers.has(request, name) }
        let head = request.method == "HEAD"
        switch route {
        case "/":
            return request.method == "GET" || head ? "ListBuckets" : "Unknown"
        case "/{bucket}", "/{bucket}/":
            switch request.method {
            case "HEAD": return "HeadBucket"
            case "GET":
                if has("location") { return "GetBucketLocation" }
                if has("versioning") { return "GetBucketVersioning" }
                if has("acl") { return "GetBucketAcl" }
                if has("uploads") { return "ListMultipartUploads" }
                if has("versions") { return "ListObjectVersions" }
                return request.query.contains { $0.name == "list-type" && $0.value == "2" } ? "ListObjectsV2" : "ListObjects"
            case "PUT": return "CreateBucket"
            case "DELETE": return "DeleteBucket"
            case "POST": return has("delete") ? "DeleteObjects" : "Unknown"
            default: return "Unknown"
            }
        case "/{bucket}/{key}":  // `{key...}` as the router reports it
            switch request.method {
            case "GET", "HEAD":
                if has("uploadId") { return "ListParts" }
                if has("acl") { return "GetObjectAcl" }
                return head ? "HeadObject" : "GetObject"
            case "PUT":
                let copy = request.header("x-amz-copy-source") != nil
                if has("uploadId") { return copy ? "UploadPartCopy" : "UploadPart" }
                return copy ? "CopyObject" : "PutObject"
            case "DELETE": return has("uploadId") ? "AbortMultipartUpload" : "DeleteObject"
            case "POST":
                if has("uploads") { return "CreateMultipartUpload" }
                return has("uploadId") ? "CompleteMultipartUpload" : "Unknown"
            default: return "Unknown"
            }
        default:
            return "Unknown"
        }
    }
}
