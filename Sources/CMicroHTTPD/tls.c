// The process's TLS identity (certificate chain and private key) for libmicrohttpd's GnuTLS
// handshakes. Both listeners read it through one certificate callback at each handshake, so a
// reload (SIGHUP) replaces it for the next handshakes while connections already up go on with the
// session they have. GnuTLS uses what the callback returns during that handshake without copying
// it: a replaced identity is kept (retired) and freed only long after any handshake that may hold
// it has ended (handshakes end within the header timeout).
#include "CMicroHTTPD.h"
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CHAIN 16
#define RETIRED_FREE_AFTER_SECONDS 3600

struct appliance_tls_identity {
    gnutls_pcert_st chain[MAX_CHAIN];
    unsigned int chain_length;
    gnutls_privkey_t key;
    time_t retired_at;
    struct appliance_tls_identity *next_retired;
};

/// TLS 1.2 and 1.3 only; GnuTLS's NORMAL ciphers; the server's order of preference.
const char *const appliance_tls_priorities = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE";

static _Atomic(struct appliance_tls_identity *) current_identity;
static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;
static struct appliance_tls_identity *retired;

static void identity_free(struct appliance_tls_identity *identity) {
    for (unsigned int i = 0; i < identity->chain_length; i++) gnutls_pcert_deinit(&identity->chain[i]);
    if (identity->key) gnutls_privkey_deinit(identity->key);
    free(identity);
}

static void describe(char *error, size_t error_size, const char *what, int code) {
    snprintf(error, error_size, "%s: %s", what, gnutls_strerror(code));
}

struct appliance_tls_identity *appliance_tls_identity_load(const void *cert_pem, size_t cert_size, const void *key_pem,
                                                           size_t key_size, char *error, size_t error_size) {
    gnutls_datum_t cert = {(unsigned char *)cert_pem, (unsigned int)cert_size};
    gnutls_datum_t key = {(unsigned char *)key_pem, (unsigned int)key_size};
    struct appliance_tls_identity *identity = calloc(1, sizeof *identity);
    if (identity == NULL) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    identity->chain_length = MAX_CHAIN;
    int rc = gnutls_pcert_list_import_x509_raw(identity->chain, &identity->chain_length, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || identity->chain_length == 0) {
        identity->chain_length = 0;
        describe(error, error_size, "the certificate file holds no PEM certificate GnuTLS can read",
                 rc < 0 ? rc : GNUTLS_E_NO_CERTIFICATE_FOUND);
        identity_free(identity);
        return NULL;
    }
    rc = gnutls_privkey_init(&identity->key);
    if (rc >= 0) rc = gnutls_privkey_import_x509_raw(identity->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc < 0) {
        describe(error, error_size, "the key file holds no unencrypted PEM private key GnuTLS can read", rc);
        identity_free(identity);
        return NULL;
    }
    // The pair as GnuTLS checks it for a server: the key must belong to the first certificate.
    gnutls_certificate_credentials_t check;
    rc = gnutls_certificate_allocate_credentials(&check);
    if (rc >= 0) {
        rc = gnutls_certificate_set_x509_key_mem2(check, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
        gnutls_certificate_free_credentials(check);
    }
    if (rc < 0) {
        describe(error, error_size,
                 rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH ? "the key does not belong to the certificate" : "the certificate and key",
                 rc);
        identity_free(identity);
        return NULL;
    }
    return identity;
}

int appliance_tls_identity_describe(const struct appliance_tls_identity *identity, int64_t *not_before, int64_t *not_after,
                                    uint8_t sha256[32]) {
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0) return -1;
    int rc = gnutls_x509_crt_import(crt, &identity->chain[0].cert, GNUTLS_X509_FMT_DER);
    if (rc >= 0) {
        *not_before = (int64_t)gnutls_x509_crt_get_activation_time(crt);
        *not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
        size_t size = 32;
        rc = gnutls_fingerprint(GNUTLS_DIG_SHA256, &identity->chain[0].cert, sha256, &size);
    }
    gnutls_x509_crt_deinit(crt);
    return rc < 0 ? -1 : 0;
}

void appliance_tls_identity_release(struct appliance_tls_identity *identity) {
    if (identity) identity_free(identity);
}

void appliance_tls_install(struct appliance_tls_identity *identity) {
    struct appliance_tls_identity *old = atomic_exchange_explicit(&current_identity, identity, memory_order_acq_rel);
    time_t now = time(NULL);
    pthread_mutex_lock(&retired_lock);
    // Those retired long ago are past any handshake: free them now.
    struct appliance_tls_identity **link = &retired;
    while (*link) {
        struct appliance_tls_identity *entry = *link;
        if (now - entry->retired_at > RETIRED_FREE_AFTER_SECONDS) {
            *link = entry->next_retired;
            identity_free(entry);
        } else {
            link = &entry->next_retired;
        }
    }
    if (old) {
        old->retired_at = now;
        old->next_retired = retired;
        retired = old;
    }
    pthread_mutex_unlock(&retired_lock);
}

int appliance_tls_installed(void) { return atomic_load_explicit(&current_identity, memory_order_acquire) != NULL; }

/// GnuTLS's certificate callback (MHD_OPTION_HTTPS_CERT_CALLBACK): the current identity.
int appliance_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                           const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                           unsigned int *pcert_length, gnutls_privkey_t *key) {
    (void)session; (void)req_ca_rdn; (void)nreqs; (void)pk_algos; (void)pk_algos_length;
    struct appliance_tls_identity *identity = atomic_load_explicit(&current_identity, memory_order_acquire);
    if (identity == NULL) return -1;
    *pcert = identity->chain;
    *pcert_length = identity->chain_length;
    *key = identity->key;
    return 0;
}
