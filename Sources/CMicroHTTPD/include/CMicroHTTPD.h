// Thin C shim over libmicrohttpd: MHD_start_daemon and MHD_get_daemon_info are C-variadic,
// which Swift cannot call. Only API/Server/ imports this module.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <microhttpd.h>

/// Starts a daemon bound to `host:port` (IPv4 or IPv6 literal; port 0 = ephemeral), with
/// `event_threads` epoll event-loop threads, suspend/resume allowed, at most `connection_limit`
/// connections (split evenly among the threads), each closed after `connection_timeout` idle
/// seconds unless given its own timeout. URL and query unescaping is disabled: the router decodes
/// percent-escapes itself so that `%2F` in an object key stays distinct from `/`.
/// With `tls` nonzero the daemon speaks only TLS 1.2 and 1.3, presenting the identity installed
/// with `appliance_tls_install` at each handshake (install one first).
/// Returns NULL when the address is invalid or the daemon cannot start.
struct MHD_Daemon *appliance_mhd_start(const char *host, uint16_t port, int tls,
                                       size_t connection_memory_limit, unsigned int connection_timeout,
                                       unsigned int connection_limit, unsigned int event_threads,
                                       MHD_AccessHandlerCallback handler, void *handler_cls,
                                       MHD_RequestCompletedCallback completed, void *completed_cls);

/// The port the daemon is bound to (useful after binding port 0).
uint16_t appliance_mhd_bound_port(struct MHD_Daemon *daemon);

/// Number of open connections.
unsigned int appliance_mhd_connection_count(struct MHD_Daemon *daemon);

/// A response holding a copy of `size` bytes at `data`.
struct MHD_Response *appliance_mhd_response_copy(size_t size, const void *data);

/// Value kinds for MHD_get_connection_values (closed C enums import awkwardly into Swift).
extern const enum MHD_ValueKind appliance_mhd_header_kind;
extern const enum MHD_ValueKind appliance_mhd_query_kind;

/// A response whose body is produced by `reader` (called on the connection's event-loop thread).
struct MHD_Response *appliance_mhd_response_stream(uint64_t size, size_t block_size, MHD_ContentReaderCallback reader,
                                                  void *cls, MHD_ContentReaderFreeCallback free_cb);
extern const ssize_t appliance_mhd_content_end_of_stream;
extern const ssize_t appliance_mhd_content_end_with_error;

/// The connection's socket (on its event-loop thread, while the connection is open); -1 if unknown.
int appliance_mhd_connection_fd(struct MHD_Connection *connection);

/// 1 when the peer has closed its side and no byte is left to read (recv MSG_PEEK returns 0).
/// MHD's edge-triggered loop misses a FIN that arrived together with the last bytes it read.
int appliance_socket_peer_closed(int fd);

/// Shuts the socket down both ways: MHD's loop then sees the connection end and tears it down.
void appliance_socket_shutdown(int fd);

/// Sends what of `data` the socket takes now (never blocks; no SIGPIPE), then shuts it down both
/// ways: a last answer to a client whose request is cut off mid-body, where MHD cannot queue one.
void appliance_socket_send_final(int fd, const void *data, size_t size);

/// Sets the connection's idle timeout (seconds, counted from its last activity; a suspended
/// connection has none). On its event-loop thread, inside a callback for it. MHD checks
/// connections with a timeout other than the daemon's on every loop iteration, the others only
/// when due: keep such connections few. (MHD_set_connection_option is C-variadic.)
void appliance_mhd_set_timeout(struct MHD_Connection *connection, unsigned int seconds);

/// In the request-completed callback: when the request ended normally (the connection may carry
/// the next one), sets the connection's idle timeout to `seconds`; otherwise it is closing.
void appliance_mhd_completed_timeout(struct MHD_Connection *connection, enum MHD_RequestTerminationCode code,
                                     unsigned int seconds);

/// A certificate chain and its private key, loaded for TLS handshakes (tls.c).
struct appliance_tls_identity;

/// Loads a PEM certificate chain (the server's certificate first) and an unencrypted PEM private
/// key, and checks that the key belongs to the certificate. NULL when not, with the reason
/// written to `error`.
struct appliance_tls_identity *appliance_tls_identity_load(const void *cert_pem, size_t cert_size, const void *key_pem,
                                                           size_t key_size, char *error, size_t error_size);

/// The first certificate's validity (seconds since 1970) and SHA-256 fingerprint; 0, or -1 when unreadable.
int appliance_tls_identity_describe(const struct appliance_tls_identity *identity, int64_t *not_before, int64_t *not_after,
                                    uint8_t sha256[32]);

/// Frees an identity that was never installed.
void appliance_tls_identity_release(struct appliance_tls_identity *identity);

/// Makes `identity` the one every TLS listener presents from its next handshake on (it is owned
/// from here on; the one it replaces is freed an hour later, past any handshake that holds it).
void appliance_tls_install(struct appliance_tls_identity *identity);

/// 1 once an identity is installed.
int appliance_tls_installed(void);
