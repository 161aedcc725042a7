// Buckets: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, and the probes
// clients send (GetBucketAcl: the owner has FULL_CONTROL); versioning is S3VersionHandlers.swift's.
// A bucket is a volume; one created through S3 is thin, of the configured capacity, and its
// creator's key becomes its owner. In a fleet, ListBuckets lists every node's buckets and
// CreateBucket places the bucket as `POST /v1/volumes` does.
import Engine
import Fleet
import Foundation

extension S3Handlers {
    func listBuckets(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try principal(context)
        let key = keys.key(id: principal.key.id) ?? principal.key
        var buckets: [String: Date] = [:]
        for volume in try engine.listVolumes() { buckets[volume.name] = volume.createdAt }
        // In a fleet, every node's buckets (the directory, read again unless read in the last quarter second).
        for (name, entry) in fleet?.member.view(refresh: true).volumes ?? [:] where buckets[name] == nil {
            buckets[name] = Date(timeIntervalSince1970: TimeInterval(entry.createdAt ?? 0))
        }
        var xml = S3XML()
        xml.open("ListAllMyBucketsResult", namespaced: true)
        Self.owner(&xml, principal)
        xml.open("Buckets")
        for (name, createdAt) in buckets.sorted(by: { $0.key < $1.key }) where key.permission(on: name) != nil {
            xml.open("Bucket")
            xml.element("Name", name)
            xml.element("CreationDate", Self.iso8601(createdAt))
            xml.close("Bucket")
        }
        xml.close("Buckets")
        xml.close("ListAllMyBucketsResult")
        return S3XML.response(xml)
    }

    func bucketGet(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let bucket = context.parameter("bucket")
        if let other = Self.unsupportedSubresource(request, served: ["location", "versioning", "acl", "uploads", "versions"]) {
            try require(.read, bucket, context)
            _ = try engine.volume(named: bucket)
            throw S3Error.notImplemented("GET ?\(other)")
        }
        let principal = try require(.read, bucket, context)
        if request.method == "HEAD" {
            _ = try engine.volume(named: bucket)
            return HTTPResponse(status: 200, headers: [("x-amz-bucket-region", settings.region)])
        }
        if Self.has(request, "location") {
            _ = try engine.volume(named: bucket)
            var xml = S3XML()
            xml.open("LocationConstraint", namespaced: true)
            // us-east-1 is reported as an empty constraint, as S3 does.
            if settings.region != "us-east-1" { xml.text(settings.region) }
            xml.close("LocationConstraint")
            return S3XML.response(xml)
        }
        if Self.has(request, "versioning") { return try getVersioning(bucket: bucket) }
        if Self.has(request, "acl") {
            _ = try engine.volume(named: bucket)
            return Self.acl(principal)
        }
        if Self.has(request, "uploads") { return try listUploads(request, context, bucket: bucket) }
        if Self.has(request, "versions") { return try listObjectVersions(request, context, bucket: bucket) }
        return try listObjects(request, context, bucket: bucket, style: try Self.query(request, "list-type") == "2" ? .v2 : .v1)
    }

    static func acl(_ principal: S3Principal) -> HTTPResponse {
        var xml = S3XML()
        xml.open("AccessControlPolicy", namespaced: true)
        owner(&xml, principal)
        xml.open("AccessControlList")
        xml.raw("<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">")
        xml.element("ID", principal.key.id)
        xml.element("DisplayName", principal.key.name)
        xml.raw("</Grantee>")
        xml.element("Permission", "FULL_CONTROL")
        xml.raw("</Grant>")
        xml.close("AccessControlList")
        xml.close("AccessControlPolicy")
        return S3XML.response(xml)
    }

    func bucketPut(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let bucket = context.parameter("bucket")
        if Self.has(request, "versioning"), Self.unsupportedSubresource(request, served: ["versioning"]) == nil {
            return try putVersioning(request, context, bucket: bucket)
        }
        if let other = Self.unsupportedSubresource(request, served: []) {
            try require(.owner, bucket, context)
            _ = try engine.volume(named: bucket)
            throw S3Error.notImplemented("PUT ?\(other)")
        }
        let principal = try principal(context)
        let key = keys.key(id: principal.key.id) ?? principal.key
        guard key.createBuckets else { throw S3Error.accessDenied("Access Denied: access key \(key.id) may not create buckets") }
        try Self.validateBucketName(bucket)
        if !request.body.isEmpty {
            let root = try XMLNode.parse(request.body)
            guard root.name == "CreateBucketConfiguration" else { throw S3Error.malformedXML("expected CreateBucketConfiguration") }
        }
        // In a fleet the bucket goes to the node with the most free space (this one on a tie): the
        // request is relayed to its S3 endpoint as it came, which checks the signature and makes it.
        if let fleet, !FleetRouting.isForwarded(request), try engine.volumeExists(named: bucket) != true,
            let node = try fleet.placement(requested: nil, origin: nil), let s3 = node.s3
        {
            return try fleet.relay(request, to: s3, node: node.name)
        }
        let capacity = settings.bucketCapacity > 0 ? settings.bucketCapacity : max(1, try engine.pool().capacityBytes)
        // In a fleet the name is the fleet's first (another node's bucket is not available).
        var entered = false
        if let fleet, try engine.volumeExists(named: bucket) != true {
            guard try fleet.member.enterVolume(bucket) else {
                throw S3Error("BucketAlreadyExists", 409, "The requested bucket name is not available. Select a different name and try again.")
            }
            entered = true
        }
        let created: Result<VolumeInfo, EngineError> = Result { () throws(EngineError) in
            try engine.createVolume(name: bucket, capacityBytes: capacity, replicas: settings.bucketReplicas, provisioning: .thin)
        }
        if case .failure = created, entered { try? fleet?.member.removeVolume(bucket) }
        if case .failure(let error) = created {
            guard case .volumeExists = error else { throw error }
            if key.permission(on: bucket) == .owner {
                throw S3Error("BucketAlreadyOwnedByYou", 409, "Your previous request to create the named bucket succeeded and you already own it.")
            }
            throw S3Error("BucketAlreadyExists", 409, "The requested bucket name is not available. Select a different name and try again.")
        }
        try keys.update(id: key.id) { $0.permissions[bucket] = .owner }
        return HTTPResponse(status: 200, headers: [("Location", "/\(bucket)")])
    }

    func bucketDelete(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let bucket = context.parameter("bucket")
        if let other = Self.unsupportedSubresource(request, served: []) {
            try require(.owner, bucket, context)
            _ = try engine.volume(named: bucket)
            throw S3Error.notImplemented("DELETE ?\(other)")
        }
        try require(.owner, bucket, context)
        try engine.deleteVolume(named: bucket, force: false)
        keys.forgetVolume(bucket)
        try? fleet?.member.removeVolume(bucket)
        return .noContent()
    }

    func bucketPost(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let bucket = context.parameter("bucket")
        guard Self.has(request, "delete") else { throw S3Error.notImplemented("POST on a bucket without ?delete") }
        return try deleteObjects(request, context, bucket: bucket)
    }
}
