/*
 * ngx_webpush: random (version 4) UUIDs in their 36-character text form,
 * the ids of jobs ("jobId", the "NotificationLog" id) that the module's
 * send route and webpush-cli send make.
 */

#ifndef WP_UUID_H
#define WP_UUID_H

#define WP_UUID_LEN  36             /* without the NUL */

/*
 * Write a fresh lower-case v4 UUID (RFC 9562 section 5.4) and a NUL into
 * out, which holds at least WP_UUID_LEN + 1 bytes.  The 122 random bits
 * come from OpenSSL's CSPRNG, so ids cannot be guessed.  Returns 0, or -1
 * when the CSPRNG fails (out then holds "").
 */
int wp_uuid_v4(char *out);

#endif /* WP_UUID_H */
