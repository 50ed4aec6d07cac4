#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/provider.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/params.h>
#include <openssl/x509.h>
#include <openssl/bio.h>
#include <openssl/opensslv.h>
#include <openssl/encoder.h>
#include <openssl/decoder.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

/* Function forms of OpenSSL macros that Swift cannot import. */
static inline int kiln_select_keypair(void) { return EVP_PKEY_KEYPAIR; }
static inline int kiln_select_public_key(void) { return EVP_PKEY_PUBLIC_KEY; }
static inline long kiln_bio_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }
static inline void kiln_openssl_free(void *p) { OPENSSL_free(p); }
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* TLS: function forms of libssl macros. */
static inline long kiln_ssl_ctx_set_min_proto(SSL_CTX *c, int v) { return SSL_CTX_set_min_proto_version(c, v); }
static inline long kiln_ssl_set_sni(SSL *s, const char *name) { return SSL_set_tlsext_host_name(s, name); }
static inline int kiln_tls1_2_version(void) { return TLS1_2_VERSION; }
static inline uint64_t kiln_ssl_op_ignore_unexpected_eof(void) { return SSL_OP_IGNORE_UNEXPECTED_EOF; }
static inline int kiln_mbstring_asc(void) { return MBSTRING_ASC; }
