// `--tls auto`: a self-signed certificate and its key in <data-dir>/tls/, made on first start so
// that a box on a network is private from its first minute. It is kept across starts (clients
// that trust it keep trusting it) and made again only when missing, unreadable, within 30 days of
// its end, or not naming a listen address it is now asked to serve.
import API
import Crypto
import Foundation
import Glibc
import SwiftASN1
import X509

enum SelfSignedCertificate {
    static let directoryName = "tls"
    static let lifetime: TimeInterval = 5 * 365 * 86_400
    static let renewBefore: TimeInterval = 30 * 86_400

    enum Failure: Error, CustomStringConvertible {
        case cannotWrite(path: String, reason: String)
        case cannotMake(String)
        var description: String {
            switch self {
            case .cannotWrite(let path, let reason): "cannot write the self-signed TLS certificate to \(path): \(reason)"
            case .cannotMake(let reason): "cannot make a self-signed TLS certificate: \(reason)"
            }
        }
    }

    static func files(in dataDirectory: String) -> TLSIdentity.Files {
        let directory = dataDirectory + "/" + directoryName
        return .init(certificate: directory + "/cert.pem", key: directory + "/key.pem")
    }

    /// The names the certificate must carry for listeners on `hosts`: the host name, localhost,
    /// the loopback addresses, each listen address, and for a wildcard listen address (0.0.0.0,
    /// ::) every address of this host's interfaces.
    static func subjectNames(listenHosts: [String]) -> (dns: [String], ips: [[UInt8]]) {
        var dns = ["localhost"]
        var name = [CChar](repeating: 0, count: 256)
        if gethostname(&name, name.count) == 0 {
            let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !host.isEmpty, !dns.contains(host) { dns.append(host) }
        }
        var ips: [[UInt8]] = [[127, 0, 0, 1], [UInt8](repeating: 0, count: 15) + [1]]
        func add(_ bytes: [UInt8]) { if !ips.contains(bytes) { ips.append(bytes) } }
        for host in listenHosts {
            guard let bytes = addressBytes(host) else {
                if !dns.contains(host) { dns.append(host) }
                continue
            }
            if bytes.allSatisfy({ $0 == 0 }) {
                interfaceAddresses().forEach(add)
            } else {
                add(bytes)
            }
        }
        return (dns, ips)
    }

    /// The certificate files for `--tls auto`: those kept in the data dir when still good for
    /// `listenHosts`, else a new pair. `made` tells which, and why a new one was made.
    static func ensure(dataDirectory: String, listenHosts: [String], now: Date = Date()) throws -> (files: TLSIdentity.Files, made: String?) {
        let files = files(in: dataDirectory)
        let wanted = subjectNames(listenHosts: listenHosts)
        // Interface addresses come and go; the names and addresses asked for explicitly must be there.
        let explicit = listenHosts.compactMap(addressBytes).filter { !$0.allSatisfy { $0 == 0 } }
        let reason = staleReason(files, mustName: (wanted.dns, wanted.ips.prefix(2) + explicit), now: now)
        guard let reason else { return (files, nil) }
        try make(files, names: wanted, now: now)
        return (files, reason)
    }

    /// Why the kept pair cannot serve (nil: it can).
    static func staleReason(_ files: TLSIdentity.Files, mustName: (dns: [String], ips: [[UInt8]]), now: Date) -> String? {
        guard FileManager.default.fileExists(atPath: files.certificate), FileManager.default.fileExists(atPath: files.key) else {
            return "none yet"
        }
        guard let text = try? String(contentsOfFile: files.certificate, encoding: .utf8), let certificate = try? Certificate(pemEncoded: text),
            let keyText = try? String(contentsOfFile: files.key, encoding: .utf8),
            let key = try? Certificate.PrivateKey(pemEncoded: keyText), certificate.publicKey == key.publicKey
        else { return "the kept one is unreadable" }
        if certificate.notValidAfter.timeIntervalSince(now) < renewBefore { return "the kept one ends \(certificate.notValidAfter)" }
        let names = (try? certificate.extensions.subjectAlternativeNames).flatMap { $0 } ?? SubjectAlternativeNames()
        var dns: Set<String> = []
        var ips: Set<[UInt8]> = []
        for name in names {
            switch name {
            case .dnsName(let value): dns.insert(value)
            case .ipAddress(let value): ips.insert(Array(value.bytes))
            default: break
            }
        }
        let missing = mustName.dns.filter { !dns.contains($0) } + mustName.ips.filter { !ips.contains($0) }.map(addressText)
        if !missing.isEmpty { return "the kept one does not name \(missing.joined(separator: ", "))" }
        return nil
    }

    static func make(_ files: TLSIdentity.Files, names: (dns: [String], ips: [[UInt8]]), now: Date) throws {
        let key = P256.Signing.PrivateKey()
        let pem: String
        do {
            let name = try DistinguishedName {
                OrganizationName("appliance (self-signed)")
                CommonName(names.dns.count > 1 ? names.dns[1] : names.dns[0])
            }
            var general: [GeneralName] = names.dns.map { .dnsName($0) }
            general += names.ips.map { .ipAddress(ASN1OctetString(contentBytes: $0[...])) }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(general)
                SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
            }
            let certificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: now.addingTimeInterval(-3_600),
                notValidAfter: now.addingTimeInterval(lifetime), issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions, issuerPrivateKey: .init(key))
            pem = try certificate.serializeAsPEM().pemString
        } catch {
            throw Failure.cannotMake("\(error)")
        }
        let directory = (files.certificate as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw Failure.cannotWrite(path: directory, reason: "\(error)")
        }
        // The key first: a certificate is never left beside a key that is not its own.
        try write(key.pemRepresentation + "\n", to: files.key, mode: 0o600)
        try write(pem + "\n", to: files.certificate, mode: 0o644)
    }

    /// Writes through a temporary file, synced, then renamed over `path`.
    private static func write(_ text: String, to path: String, mode: mode_t) throws {
        let temporary = path + ".new"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure.cannotWrite(path: temporary, reason: String(cString: strerror(errno))) }
        fchmod(fd, mode)
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Failure.cannotWrite(path: path, reason: String(cString: strerror(errno)))
        }
    }

    /// `host` as 4 or 16 address bytes, or nil when it is a name.
    static func addressBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func addressText(_ bytes: [UInt8]) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func interfaceAddresses() -> [[UInt8]] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var found: [[UInt8]] = []
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let current = entry {
            if let address = current.pointee.ifa_addr {
                switch Int32(address.pointee.sa_family) {
                case AF_INET:
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        found.append(withUnsafeBytes(of: $0.pointee.sin_addr) { Array($0) })
                    }
                case AF_INET6:
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        let bytes = withUnsafeBytes(of: $0.pointee.sin6_addr) { Array($0) }
                        if bytes[0] != 0xFE || bytes[1] & 0xC0 != 0x80 { found.append(bytes) }  // not link-local
                    }
                default: break
                }
            }
            entry = current.pointee.ifa_next
        }
        return found
    }
}
