// The certificate both listeners present under TLS (tls.c holds it for GnuTLS's handshakes):
// PEM files read, checked by GnuTLS (the chain parses, the key belongs to the first certificate)
// and installed for the next handshakes. A reload (SIGHUP) does the same again; when the files
// are bad it throws and the identity in use stays.
import CMicroHTTPD
package import Foundation
import Glibc

package enum TLSIdentity {
    /// Where the certificate chain (the server's certificate first) and its private key are.
    package struct Files: Sendable, Equatable {
        package var certificate: String
        package var key: String
        package init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }

    /// What an installed certificate is: its validity and its SHA-256 fingerprint.
    package struct Summary: Sendable, Equatable {
        package var notBefore: Date
        package var notAfter: Date
        /// Colon-separated upper-case hex, as `openssl x509 -fingerprint -sha256` prints it.
        package var fingerprint: String
    }

    package enum LoadError: Error, CustomStringConvertible, Equatable {
        case unreadable(path: String, reason: String)
        case invalid(Files, reason: String)
        package var description: String {
            switch self {
            case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
            case .invalid(let files, let reason): "TLS certificate \(files.certificate) with key \(files.key): \(reason)"
            }
        }
    }

    /// Loads `files` and makes them what every TLS listener presents from its next handshake on.
    @discardableResult
    package static func install(_ files: Files) throws(LoadError) -> Summary {
        let certificate = try read(files.certificate)
        let key = try read(files.key)
        var error = [CChar](repeating: 0, count: 512)
        let loaded = certificate.withUnsafeBytes { cert in
            key.withUnsafeBytes { key in
                appliance_tls_identity_load(cert.baseAddress, cert.count, key.baseAddress, key.count, &error, error.count)
            }
        }
        guard let loaded else {
            throw .invalid(files, reason: String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        var notBefore: Int64 = 0
        var notAfter: Int64 = 0
        var digest = [UInt8](repeating: 0, count: 32)
        guard appliance_tls_identity_describe(loaded, &notBefore, &notAfter, &digest) == 0 else {
            appliance_tls_identity_release(loaded)
            throw .invalid(files, reason: "the certificate's validity cannot be read")
        }
        appliance_tls_install(loaded)
        return Summary(
            notBefore: Date(timeIntervalSince1970: Double(notBefore)), notAfter: Date(timeIntervalSince1970: Double(notAfter)),
            fingerprint: digest.map { String(format: "%02X", $0) }.joined(separator: ":"))
    }

    /// Whether an identity is installed (a TLS listener needs one to start).
    package static var isInstalled: Bool { appliance_tls_installed() != 0 }

    private static func read(_ path: String) throws(LoadError) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { try? handle.close() }
        do {
            let data = try handle.readToEnd() ?? Data()
            guard data.count <= 1 << 20 else { throw LoadError.unreadable(path: path, reason: "larger than 1 MiB: not a PEM file") }
            return [UInt8](data)
        } catch let error as LoadError {
            throw error
        } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
    }
}
