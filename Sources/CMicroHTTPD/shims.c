#include "CMicroHTTPD.h"
#include <arpa/inet.h>
#include <gnutls/abstract.h>
#include <netinet/in.h>
#include <string.h>

static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls; (void)c;
    return strlen(s);
}

extern const char *const appliance_tls_priorities;
int appliance_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                           const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                           unsigned int *pcert_length, gnutls_privkey_t *key);

struct MHD_Daemon *appliance_mhd_start(const char *host, uint16_t port, int tls,
                                       size_t connection_memory_limit, unsigned int connection_timeout,
                                       unsigned int connection_limit, unsigned int event_threads,
                                       MHD_AccessHandlerCallback handler, void *handler_cls,
                                       MHD_RequestCompletedCallback completed, void *completed_cls) {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    struct sockaddr *addr;
    /* A few event-loop threads, each with its own epoll set; connections that wait on work done
       elsewhere are suspended and resumed (the ITC wakes the loop). */
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME
                       | MHD_USE_ERROR_LOG;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (inet_pton(AF_INET, host, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(port);
        addr = (struct sockaddr *)&v4;
    } else if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(port);
        addr = (struct sockaddr *)&v6;
        flags |= MHD_USE_IPv6;
    } else {
        return NULL;
    }
    /* The options both kinds of daemon take; a TLS daemon adds its certificate callback and
       priorities (the HTTPS options must not reach a plain one: 0.9.75 reads them only under TLS). */
#define APPLIANCE_MHD_OPTIONS                                                   \
    MHD_OPTION_SOCK_ADDR, addr,                                                 \
    MHD_OPTION_CONNECTION_MEMORY_LIMIT, connection_memory_limit,                \
    MHD_OPTION_CONNECTION_TIMEOUT, connection_timeout,                          \
    MHD_OPTION_CONNECTION_LIMIT, connection_limit,                              \
    MHD_OPTION_THREAD_POOL_SIZE, event_threads,                                 \
    MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,                      \
    MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL
    if (!tls) {
        return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_cls, APPLIANCE_MHD_OPTIONS, MHD_OPTION_END);
    }
    if (!appliance_tls_installed()) return NULL;
    return MHD_start_daemon(flags | MHD_USE_TLS, port, NULL, NULL, handler, handler_cls, APPLIANCE_MHD_OPTIONS,
                            MHD_OPTION_HTTPS_CERT_CALLBACK, appliance_tls_retrieve,
                            MHD_OPTION_HTTPS_PRIORITIES, appliance_tls_priorities,
                            MHD_OPTION_END);
#undef APPLIANCE_MHD_OPTIONS
}

uint16_t appliance_mhd_bound_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

unsigned int appliance_mhd_connection_count(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info ? info->num_connections : 0;
}

struct MHD_Response *appliance_mhd_response_copy(size_t size, const void *data) {
    return MHD_create_response_from_buffer(size, (void *)data, MHD_RESPMEM_MUST_COPY);
}

const enum MHD_ValueKind appliance_mhd_header_kind = MHD_HEADER_KIND;
const enum MHD_ValueKind appliance_mhd_query_kind = MHD_GET_ARGUMENT_KIND;

struct MHD_Response *appliance_mhd_response_stream(uint64_t size, size_t block_size, MHD_ContentReaderCallback reader,
                                                  void *cls, MHD_ContentReaderFreeCallback free_cb) {
    return MHD_create_response_from_callback(size, block_size, reader, cls, free_cb);
}

const ssize_t appliance_mhd_content_end_of_stream = MHD_CONTENT_READER_END_OF_STREAM;
const ssize_t appliance_mhd_content_end_with_error = MHD_CONTENT_READER_END_WITH_ERROR;

int appliance_mhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

int appliance_socket_peer_closed(int fd) {
    char byte;
    return fd >= 0 && recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

void appliance_socket_shutdown(int fd) {
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
}

void appliance_socket_send_final(int fd, const void *data, size_t size) {
    if (fd < 0) return;
    size_t sent = 0;
    while (sent < size) {
        ssize_t n = send(fd, (const char *)data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0) break;
        sent += (size_t)n;
    }
    shutdown(fd, SHUT_RDWR);
}

void appliance_mhd_set_timeout(struct MHD_Connection *connection, unsigned int seconds) {
    MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT, seconds);
}

void appliance_mhd_completed_timeout(struct MHD_Connection *connection, enum MHD_RequestTerminationCode code,
                                     unsigned int seconds) {
    if (connection != NULL && code == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT, seconds);
}
