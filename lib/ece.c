/* ngx_webpush: RFC 8291 encryption over RFC 8188 aes128gcm (see ece.h). */

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "ece.h"
#include "ece_internal.h"
#include "p256.h"


#define WP_ECE_MIN_RS      18       /* tag + 1 delimiter + 1: RFC 8188 §2 */
#define WP_ECE_BASE_HDR    21       /* salt + rs + idlen */
#define WP_ECE_CHUNK       512


struct wp_ece_s {
    EVP_MAC         *mac;           /* HMAC, fetched once */
    EVP_MAC_CTX     *mctx;          /* set to SHA-256 once, re-keyed */
    EVP_CIPHER      *aes;           /* AES-128-GCM, fetched once */
    EVP_CIPHER_CTX  *cctx;
    wp_p256_ctx_t   *ec;            /* P-256 group, points, scalar, reused */
    wp_p256_agree_t  agree[WP_ECE_BATCH];
    uint8_t          salts[WP_ECE_BATCH][WP_SALT_LEN];
};


/* Streaming state for finding the delimiter: the last non-zero byte. */
typedef struct {
    uint8_t   *out;
    size_t     cap;
    size_t     o;               /* bytes of data emitted */
    int        cand;            /* candidate delimiter, -1 if none yet */
    size_t     zeros;           /* zero bytes seen after cand */
} wp_ece_sink_t;


static const uint8_t  wp_ece_cek_info[] = "Content-Encoding: aes128gcm";
static const uint8_t  wp_ece_nonce_info[] = "Content-Encoding: nonce";
static const uint8_t  wp_ece_webpush_info[] = "WebPush: info";


wp_ece_t *
wp_ece_new(wp_err_t *err)
{
    wp_ece_t    *e;
    OSSL_PARAM   params[2];

    e = calloc(1, sizeof(wp_ece_t));
    if (e == NULL) {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        return NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    e->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    e->mctx = e->mac ? EVP_MAC_CTX_new(e->mac) : NULL;
    e->aes = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    e->cctx = EVP_CIPHER_CTX_new();

    if (e->mctx == NULL || e->aes == NULL || e->cctx == NULL
        || EVP_MAC_CTX_set_params(e->mctx, params) != 1)
    {
        wp_err_set(err, WP_E_CRYPTO, "",
                   "cannot set up HMAC-SHA-256 / AES-128-GCM");
        wp_ece_free(e);
        return NULL;
    }

    e->ec = wp_p256_ctx_new(err);
    if (e->ec == NULL) {
        wp_ece_free(e);
        return NULL;
    }

    return e;
}


void
wp_ece_free(wp_ece_t *e)
{
    if (e == NULL) {
        return;
    }

    wp_p256_ctx_free(e->ec);
    EVP_CIPHER_CTX_free(e->cctx);
    EVP_CIPHER_free(e->aes);
    EVP_MAC_CTX_free(e->mctx);
    EVP_MAC_free(e->mac);
    free(e);
}


/*
 * out = HMAC-SHA-256(key, m1 || m2 || [tail]); tail < 0 means none.  A
 * NULL key re-initialises with the previous call's key (OpenSSL 3 HMAC
 * keeps the keyed pads), which skips hashing the pads again.
 */
static int
wp_ece_hmac(wp_ece_t *e, const uint8_t *key, size_t keylen,
    const uint8_t *m1, size_t l1, const uint8_t *m2, size_t l2, int tail,
    uint8_t out[32], wp_err_t *err)
{
    size_t   n;
    uint8_t  t;

    t = (uint8_t) tail;

    if (EVP_MAC_init(e->mctx, key, key ? keylen : 0, NULL) != 1
        || EVP_MAC_update(e->mctx, m1, l1) != 1
        || (l2 && EVP_MAC_update(e->mctx, m2, l2) != 1)
        || (tail >= 0 && EVP_MAC_update(e->mctx, &t, 1) != 1)
        || EVP_MAC_final(e->mctx, out, &n, 32) != 1
        || n != 32)
    {
        return wp_err_set(err, WP_E_CRYPTO, "", "HMAC-SHA-256 failed");
    }

    return 0;
}


int
wp_ece_webpush_ikm(wp_ece_t *e, const uint8_t auth[WP_AUTH_LEN],
    const uint8_t ua_public[WP_P256_PUB_LEN],
    const uint8_t as_public[WP_P256_PUB_LEN], wp_ece_keys_t *k,
    wp_err_t *err)
{
    /* sizeof includes the NUL: exactly the 0x00 the info string wants. */
    memcpy(k->key_info, wp_ece_webpush_info, sizeof(wp_ece_webpush_info));
    memcpy(k->key_info + 14, ua_public, WP_P256_PUB_LEN);
    memcpy(k->key_info + 14 + WP_P256_PUB_LEN, as_public, WP_P256_PUB_LEN);

    if (wp_ece_hmac(e, auth, WP_AUTH_LEN, k->ecdh_secret, 32, NULL, 0, -1,
                    k->prk_key, err) != 0
        || wp_ece_hmac(e, k->prk_key, 32, k->key_info, sizeof(k->key_info),
                       NULL, 0, 1, k->ikm, err) != 0)
    {
        return -1;
    }

    return 0;
}


int
wp_ece_content_keys(wp_ece_t *e, const uint8_t *ikm, size_t ikmlen,
    const uint8_t salt[WP_SALT_LEN], wp_ece_keys_t *k, wp_err_t *err)
{
    uint8_t  t[32];

    if (wp_ece_hmac(e, salt, WP_SALT_LEN, ikm, ikmlen, NULL, 0, -1,
                    k->prk, err) != 0)
    {
        return -1;
    }

    if (wp_ece_hmac(e, k->prk, 32, wp_ece_cek_info, sizeof(wp_ece_cek_info),
                    NULL, 0, 1, t, err) != 0)
    {
        return -1;
    }

    memcpy(k->cek, t, 16);

    /* Same key (PRK) as the CEK just above. */
    if (wp_ece_hmac(e, NULL, 0, wp_ece_nonce_info,
                    sizeof(wp_ece_nonce_info), NULL, 0, 1, t, err) != 0)
    {
        return -1;
    }

    memcpy(k->nonce, t, 12);
    OPENSSL_cleanse(t, sizeof(t));

    return 0;
}


/* After ECDH (k->ecdh_secret): both HKDFs, down to the CEK and nonce. */
static int
wp_ece_sender_keys(wp_ece_t *e, const uint8_t as_public[65],
    const uint8_t ua_public[65], const uint8_t auth[16],
    const uint8_t salt[16], wp_ece_keys_t *k, wp_err_t *err)
{
    if (wp_ece_webpush_ikm(e, auth, ua_public, as_public, k, err) != 0
        || wp_ece_content_keys(e, k->ikm, 32, salt, k, err) != 0)
    {
        return -1;
    }

    return 0;
}


/* One key agreement with a given scalar (vectors, decryption). */
static int
wp_ece_agree_one(wp_ece_t *e, const uint8_t priv[WP_P256_PRIV_LEN],
    const char *priv_field, const uint8_t peer[WP_P256_PUB_LEN],
    const char *peer_field, uint8_t pub[WP_P256_PUB_LEN],
    uint8_t secret[32], wp_err_t *err)
{
    wp_p256_agree_t  *a;

    a = &e->agree[0];
    a->priv = priv;
    a->priv_field = priv_field;
    a->peer = peer;
    a->peer_field = peer_field;

    if (wp_p256_ctx_agree(e->ec, a, 1) != 0) {
        return wp_err_copy(err, &a->err);
    }

    memcpy(pub, a->pub, WP_P256_PUB_LEN);
    memcpy(secret, a->secret, 32);
    OPENSSL_cleanse(a->secret, 32);

    return 0;
}


int
wp_ece_derive(wp_ece_t *e, const uint8_t as_private[WP_P256_PRIV_LEN],
    const uint8_t ua_public[WP_P256_PUB_LEN], const uint8_t auth[WP_AUTH_LEN],
    const uint8_t salt[WP_SALT_LEN], uint8_t as_public[WP_P256_PUB_LEN],
    wp_ece_keys_t *k, wp_err_t *err)
{
    if (wp_ece_agree_one(e, as_private, "as_private", ua_public,
                         "keys.p256dh", as_public, k->ecdh_secret, err) != 0)
    {
        return -1;
    }

    return wp_ece_sender_keys(e, as_public, ua_public, auth, salt, k, err);
}


/* Checks shared by both encrypt entry points; fills *bodylen. */
static int
wp_ece_check_sizes(size_t ptlen, size_t padlen, size_t cap, size_t *bodylen,
    wp_err_t *err)
{
    *bodylen = 0;       /* set on every path: -O3 cannot see wp_err_set's -1 */

    if (ptlen > WP_ECE_MAX_PLAINTEXT
        || padlen > WP_ECE_MAX_PLAINTEXT - ptlen)
    {
        return wp_err_set(err, WP_E_PAYLOAD_TOO_LARGE, "payload",
                          "payload: %zu bytes plus %zu of padding exceed the "
                          "%d bytes one Web Push record can carry",
                          ptlen, padlen, WP_ECE_MAX_PLAINTEXT);
    }

    *bodylen = wp_ece_body_len(ptlen, padlen);

    if (*bodylen > cap) {
        return wp_err_set(err, WP_E_BUFFER, "",
                          "encrypted body needs %zu bytes, buffer has %zu",
                          *bodylen, cap);
    }

    return 0;
}


/* Header + one record for m, its key agreement done in a. */
static int
wp_ece_seal(wp_ece_t *e, const wp_p256_agree_t *a, const uint8_t salt[16],
    wp_ece_msg_t *m, size_t bodylen)
{
    int             n, rc;
    uint8_t        *out, *rec;
    size_t          reclen;
    wp_ece_keys_t   k;

    memcpy(k.ecdh_secret, a->secret, 32);

    if (wp_ece_sender_keys(e, a->pub, m->ua_public, m->auth, salt, &k,
                           &m->err) != 0)
    {
        OPENSSL_cleanse(&k, sizeof(k));
        return -1;
    }

    out = m->out;
    memcpy(out, salt, WP_SALT_LEN);
    out[16] = (uint8_t) (WP_ECE_RS >> 24);
    out[17] = (uint8_t) (WP_ECE_RS >> 16);
    out[18] = (uint8_t) (WP_ECE_RS >> 8);
    out[19] = (uint8_t) WP_ECE_RS;
    out[20] = WP_P256_PUB_LEN;
    memcpy(out + 21, a->pub, WP_P256_PUB_LEN);

    /* Lay out pt || 0x02 || zeros, then encrypt in place (GCM allows it). */
    rec = out + WP_ECE_HEADER_LEN;
    reclen = m->ptlen + 1 + m->padlen;

    if (m->ptlen) {
        memmove(rec, m->pt, m->ptlen);
    }
    rec[m->ptlen] = 0x02;
    memset(rec + m->ptlen + 1, 0, m->padlen);

    rc = (EVP_EncryptInit_ex2(e->cctx, e->aes, k.cek, k.nonce, NULL) == 1
          && EVP_EncryptUpdate(e->cctx, rec, &n, rec, (int) reclen) == 1
          && (size_t) n == reclen
          && EVP_EncryptFinal_ex(e->cctx, rec + reclen, &n) == 1
          && EVP_CIPHER_CTX_ctrl(e->cctx, EVP_CTRL_GCM_GET_TAG,
                                 WP_ECE_TAG_LEN, rec + reclen) == 1)
         ? 0 : -1;

    OPENSSL_cleanse(&k, sizeof(k));

    if (rc != 0) {
        OPENSSL_cleanse(out, bodylen);
        return wp_err_set(&m->err, WP_E_CRYPTO, "", "AES-128-GCM failed");
    }

    return 0;
}


/*
 * Seal m[0..n-1], n <= WP_ECE_BATCH, with one batched key agreement.  A
 * given sender scalar and salt (test vectors) only with n == 1: a fresh
 * key and salt for every message otherwise (RFC 8291 §3.1), never kept.
 */
static int
wp_ece_seal_batch(wp_ece_t *e, wp_ece_msg_t *m, size_t n,
    const uint8_t *as_private, const uint8_t *salt)
{
    int               failed;
    size_t            i, j, k, idx[WP_ECE_BATCH], bodylen[WP_ECE_BATCH];
    wp_p256_agree_t  *a;

    failed = 0;

    for (i = 0; i < n; i++) {
        m[i].outlen = 0;
        m[i].rc = -1;
    }

    /* One DRBG draw for the whole batch's salts. */
    if (salt == NULL
        && RAND_bytes(e->salts[0], (int) (n * WP_SALT_LEN)) != 1)
    {
        for (i = 0; i < n; i++) {
            wp_err_set(&m[i].err, WP_E_CRYPTO, "", "no random bytes for salt");
        }
        return (int) n;
    }

    for (i = 0, k = 0; i < n; i++) {
        if (wp_ece_check_sizes(m[i].ptlen, m[i].padlen, m[i].cap,
                               &bodylen[k], &m[i].err) != 0)
        {
            failed++;
            continue;
        }

        a = &e->agree[k];
        a->peer = m[i].ua_public;
        a->peer_field = "keys.p256dh";
        a->priv = as_private;
        a->priv_field = "as_private";
        idx[k++] = i;
    }

    (void) wp_p256_ctx_agree(e->ec, e->agree, k);

    for (j = 0; j < k; j++) {
        a = &e->agree[j];
        i = idx[j];

        if (a->rc != 0) {
            wp_err_copy(&m[i].err, &a->err);
            failed++;

        } else if (wp_ece_seal(e, a, salt ? salt : e->salts[i], &m[i],
                               bodylen[j]) != 0)
        {
            failed++;

        } else {
            m[i].outlen = bodylen[j];
            m[i].rc = 0;
        }

        OPENSSL_cleanse(a->secret, sizeof(a->secret));
    }

    return failed;
}


int
wp_ece_encrypt_many(wp_ece_t *e, wp_ece_msg_t *m, size_t n)
{
    int     failed;
    size_t  i, c;

    failed = 0;

    for (i = 0; i < n; i += c) {
        c = n - i < WP_ECE_BATCH ? n - i : WP_ECE_BATCH;
        failed += wp_ece_seal_batch(e, m + i, c, NULL, NULL);
    }

    return failed;
}


/* The single-message entry points: a batch of one. */
static int
wp_ece_encrypt_one(wp_ece_t *e, const uint8_t *ua_public,
    const uint8_t *auth, const uint8_t *as_private, const uint8_t *salt,
    const uint8_t *pt, size_t ptlen, size_t padlen, uint8_t *out,
    size_t cap, size_t *outlen, wp_err_t *err)
{
    wp_ece_msg_t  m;

    memset(&m, 0, sizeof(m));
    m.ua_public = ua_public;
    m.auth = auth;
    m.pt = pt;
    m.ptlen = ptlen;
    m.padlen = padlen;
    m.out = out;
    m.cap = cap;

    if (wp_ece_seal_batch(e, &m, 1, as_private, salt) != 0) {
        return wp_err_copy(err, &m.err);
    }

    *outlen = m.outlen;

    return 0;
}


int
wp_ece_encrypt(wp_ece_t *e, const uint8_t ua_public[WP_P256_PUB_LEN],
    const uint8_t auth[WP_AUTH_LEN], const uint8_t *pt, size_t ptlen,
    size_t padlen, uint8_t *out, size_t cap, size_t *outlen, wp_err_t *err)
{
    return wp_ece_encrypt_one(e, ua_public, auth, NULL, NULL, pt, ptlen,
                              padlen, out, cap, outlen, err);
}


int
wp_ece_encrypt_with(wp_ece_t *e, const uint8_t ua_public[WP_P256_PUB_LEN],
    const uint8_t auth[WP_AUTH_LEN], const uint8_t as_private[WP_P256_PRIV_LEN],
    const uint8_t salt[WP_SALT_LEN], const uint8_t *pt, size_t ptlen,
    size_t padlen, uint8_t *out, size_t cap, size_t *outlen, wp_err_t *err)
{
    return wp_ece_encrypt_one(e, ua_public, auth, as_private, salt, pt, ptlen,
                              padlen, out, cap, outlen, err);
}


/*
 * Feed decrypted bytes: everything before the last non-zero byte is data.
 * A non-zero byte turns the previous candidate and the zeros after it into
 * data, so huge records need no record-sized buffer.
 */
static int
wp_ece_sink_put(wp_ece_sink_t *s, const uint8_t *p, size_t n, wp_err_t *err)
{
    size_t  i, need;

    for (i = 0; i < n; i++) {
        if (p[i] == 0) {
            s->zeros++;
            continue;
        }

        if (s->cand >= 0) {
            need = 1 + s->zeros;
            if (need > s->cap - s->o) {
                return wp_err_set(err, WP_E_BUFFER, "",
                                  "plaintext does not fit %zu bytes", s->cap);
            }

            s->out[s->o++] = (uint8_t) s->cand;
            memset(s->out + s->o, 0, s->zeros);
            s->o += s->zeros;

        } else if (s->zeros) {
            /* Zeros before the first non-zero byte: data too. */
            if (s->zeros > s->cap - s->o) {
                return wp_err_set(err, WP_E_BUFFER, "",
                                  "plaintext does not fit %zu bytes", s->cap);
            }

            memset(s->out + s->o, 0, s->zeros);
            s->o += s->zeros;
        }

        s->cand = p[i];
        s->zeros = 0;
    }

    return 0;
}


/* Decrypt and check one record (reclen bytes incl. tag). */
static int
wp_ece_open_record(wp_ece_t *e, const wp_ece_keys_t *k, uint64_t seq,
    const uint8_t *rec, size_t reclen, int last, wp_ece_sink_t *s,
    wp_err_t *err)
{
    int       n, i;
    size_t    ctlen, off, chunk;
    uint8_t   iv[12], buf[WP_ECE_CHUNK];

    memcpy(iv, k->nonce, 12);
    for (i = 0; i < 8; i++) {
        iv[11 - i] ^= (uint8_t) (seq >> (8 * i));
    }

    ctlen = reclen - WP_ECE_TAG_LEN;
    s->cand = -1;
    s->zeros = 0;

    if (EVP_DecryptInit_ex2(e->cctx, e->aes, k->cek, iv, NULL) != 1
        || EVP_CIPHER_CTX_ctrl(e->cctx, EVP_CTRL_GCM_SET_TAG, WP_ECE_TAG_LEN,
                               (void *) (rec + ctlen)) != 1)
    {
        return wp_err_set(err, WP_E_CRYPTO, "", "AES-128-GCM setup failed");
    }

    for (off = 0; off < ctlen; off += chunk) {
        chunk = ctlen - off < sizeof(buf) ? ctlen - off : sizeof(buf);

        if (EVP_DecryptUpdate(e->cctx, buf, &n, rec + off, (int) chunk) != 1
            || (size_t) n != chunk)
        {
            return wp_err_set(err, WP_E_CRYPTO, "", "AES-128-GCM failed");
        }

        if (wp_ece_sink_put(s, buf, chunk, err) != 0) {
            OPENSSL_cleanse(buf, sizeof(buf));
            return -1;
        }
    }

    OPENSSL_cleanse(buf, sizeof(buf));

    if (EVP_DecryptFinal_ex(e->cctx, buf, &n) != 1) {
        return wp_err_set(err, WP_E_DECRYPT, "body",
                          "body: record %llu fails authentication "
                          "(wrong key or altered data)",
                          (unsigned long long) seq);
    }

    if (s->cand < 0) {
        return wp_err_set(err, WP_E_DECRYPT, "body",
                          "body: record %llu has no delimiter (all zero)",
                          (unsigned long long) seq);
    }

    if (s->cand != (last ? 0x02 : 0x01)) {
        return wp_err_set(err, WP_E_DECRYPT, "body",
                          "body: record %llu ends with delimiter 0x%02x, "
                          "want 0x%02x", (unsigned long long) seq,
                          s->cand, last ? 0x02 : 0x01);
    }

    return 0;
}


/* RFC 8188 §2 decoding with a known IKM; max_records 0 means any number. */
static int
wp_ece_decode(wp_ece_t *e, const uint8_t *ikm, size_t ikmlen,
    const uint8_t *body, size_t len, size_t max_records, uint8_t *pt,
    size_t cap, size_t *ptlen, wp_err_t *err)
{
    size_t          hdr, rest, reclen;
    uint32_t        rs;
    uint64_t        seq;
    const uint8_t  *p;
    wp_ece_keys_t   k;
    wp_ece_sink_t   s;

    if (len < WP_ECE_BASE_HDR) {
        return wp_err_set(err, WP_E_DECRYPT, "body",
                          "body: %zu bytes, shorter than the 21-byte header",
                          len);
    }

    rs = (uint32_t) body[16] << 24 | (uint32_t) body[17] << 16
         | (uint32_t) body[18] << 8 | body[19];

    if (rs < WP_ECE_MIN_RS) {
        return wp_err_set(err, WP_E_DECRYPT, "body",
                          "body: record size %u below the minimum %d",
                          rs, WP_ECE_MIN_RS);
    }

    hdr = WP_ECE_BASE_HDR + body[20];
    if (len < hdr) {
        return wp_err_set(err, WP_E_DECRYPT, "body",
                          "body: truncated inside the header (keyid)");
    }

    if (len == hdr) {
        return wp_err_set(err, WP_E_DECRYPT, "body", "body: no record");
    }

    if (wp_ece_content_keys(e, ikm, ikmlen, body, &k, err) != 0) {
        OPENSSL_cleanse(&k, sizeof(k));
        return -1;
    }

    s.out = pt;
    s.cap = cap;
    s.o = 0;

    p = body + hdr;
    rest = len - hdr;

    for (seq = 0; rest > 0; seq++) {
        reclen = rest > rs ? rs : rest;

        if (max_records && seq >= max_records) {
            wp_err_set(err, WP_E_DECRYPT, "body",
                       "body: more than %zu record(s)", max_records);
            goto failed;
        }

        if (reclen < WP_ECE_TAG_LEN + 1) {
            wp_err_set(err, WP_E_DECRYPT, "body",
                       "body: record %llu truncated (%zu bytes)",
                       (unsigned long long) seq, reclen);
            goto failed;
        }

        if (wp_ece_open_record(e, &k, seq, p, reclen, reclen == rest, &s,
                               err) != 0)
        {
            goto failed;
        }

        p += reclen;
        rest -= reclen;
    }

    OPENSSL_cleanse(&k, sizeof(k));
    *ptlen = s.o;

    return 0;

failed:

    OPENSSL_cleanse(&k, sizeof(k));
    if (cap) {
        OPENSSL_cleanse(pt, s.o);  /* never hand out unauthenticated data */
    }

    return -1;
}


int
wp_ece_decrypt_ikm(wp_ece_t *e, const uint8_t *ikm, size_t ikmlen,
    const uint8_t *body, size_t len, uint8_t *pt, size_t cap, size_t *ptlen,
    wp_err_t *err)
{
    return wp_ece_decode(e, ikm, ikmlen, body, len, 0, pt, cap, ptlen, err);
}


int
wp_ece_decrypt(wp_ece_t *e, const uint8_t ua_private[WP_P256_PRIV_LEN],
    const uint8_t ua_public[WP_P256_PUB_LEN], const uint8_t auth[WP_AUTH_LEN],
    const uint8_t *body, size_t len, uint8_t *pt, size_t cap, size_t *ptlen,
    wp_err_t *err)
{
    int             rc;
    uint8_t         pub[WP_P256_PUB_LEN];
    wp_err_t        kerr;
    wp_ece_keys_t   k;

    if (len < WP_ECE_BASE_HDR) {
        return wp_err_set(err, WP_E_DECRYPT, "body",
                          "body: %zu bytes, shorter than the 21-byte header",
                          len);
    }

    if (body[20] != WP_P256_PUB_LEN) {
        return wp_err_set(err, WP_E_DECRYPT, "body",
                          "body: keyid length %u, Web Push wants 65",
                          body[20]);
    }

    if (len < WP_ECE_HEADER_LEN) {
        return wp_err_set(err, WP_E_DECRYPT, "body",
                          "body: truncated inside the header (keyid)");
    }

    /* The peer is checked first: a bad keyid is the body's fault. */
    if (wp_ece_agree_one(e, ua_private, "ua_private", body + 21, "body",
                         pub, k.ecdh_secret, &kerr) != 0)
    {
        if (strcmp(kerr.code, WP_E_BAD_KEY) == 0
            && strcmp(kerr.field, "body") == 0)
        {
            return wp_err_set(err, WP_E_DECRYPT, "body",
                              "body: keyid is not a P-256 public key");
        }
        return wp_err_copy(err, &kerr);
    }

    rc = -1;

    if (memcmp(pub, ua_public, WP_P256_PUB_LEN) != 0) {
        wp_err_set(err, WP_E_BAD_KEY, "ua_public",
                   "ua_public: not the public key of ua_private");

    } else if (wp_ece_webpush_ikm(e, auth, ua_public, body + 21, &k, err)
               == 0)
    {
        /* RFC 8291 §4: a push message is exactly one record. */
        rc = wp_ece_decode(e, k.ikm, sizeof(k.ikm), body, len, 1, pt, cap,
                           ptlen, err);
    }

    OPENSSL_cleanse(&k, sizeof(k));

    return rc;
}
