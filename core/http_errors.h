/* The machine-readable codes of kensho's JSON error bodies
 * ({"error": CODE, "detail": "..."}): one snake_case vocabulary for the core
 * and every handler, documented in docs/api.md ("Errors"). A client branches
 * on the code; the detail says in words what was wrong with this request.
 * Add a code here and to docs/api.md before using it (a test checks both). */
#pragma once

/* --- the request itself (answered by the core) ---------------------------- */

/** 400: not valid HTTP/1.x (the detail names the part). */
#define HTTP_ERROR_BAD_REQUEST "bad_request"
/** 400: an HTTP/1.1 request without a Host field. */
#define HTTP_ERROR_MISSING_HOST "missing_host"
/** 400: an HTTP/1.1 request with more than one Host field. */
#define HTTP_ERROR_DUPLICATE_HOST "duplicate_host"
/** 404: no endpoint at this path, or nothing stored under this name. */
#define HTTP_ERROR_NOT_FOUND "not_found"
/** 405: the path exists but not for this method (see Allow). */
#define HTTP_ERROR_METHOD_NOT_ALLOWED "method_not_allowed"
/** 408: the request did not arrive within limits.request_timeout. */
#define HTTP_ERROR_REQUEST_TIMEOUT "request_timeout"
/** 413: the body exceeds limits.body_bytes (or an endpoint's own bound). */
#define HTTP_ERROR_PAYLOAD_TOO_LARGE "payload_too_large"
/** 414: the request-target exceeds limits.uri_bytes. */
#define HTTP_ERROR_URI_TOO_LONG "uri_too_long"
/** 415: a body in a media type the endpoint does not take. */
#define HTTP_ERROR_UNSUPPORTED_MEDIA_TYPE "unsupported_media_type"
/** 417: an Expect other than 100-continue. */
#define HTTP_ERROR_EXPECTATION_FAILED "expectation_failed"
/** 431: request line and fields exceed limits.header_bytes. */
#define HTTP_ERROR_HEADER_TOO_LARGE "header_too_large"
/** 505: an HTTP version other than 1.0 and 1.1 (HTTP/2 included). */
#define HTTP_ERROR_VERSION_NOT_SUPPORTED "version_not_supported"

/* --- who may ask ---------------------------------------------------------- */

/** 403: the caller lacks the role the endpoint needs. */
#define HTTP_ERROR_FORBIDDEN "forbidden"

/* --- what the endpoints take ---------------------------------------------- */

/** 400: a POST without the body the endpoint needs. */
#define HTTP_ERROR_EMPTY_BODY "empty_body"
/** 400: a body that does not parse as what the endpoint takes. */
#define HTTP_ERROR_MALFORMED_BODY "malformed_body"
/** 400: a certificate serial that is not 1 to 40 hex digits. */
#define HTTP_ERROR_BAD_SERIAL "bad_serial"
/** 400: a receipt number that is not a positive decimal integer. */
#define HTTP_ERROR_BAD_RECEIPT "bad_receipt"
/** 400: Kensho-Signature-Length outside 1..body length. */
#define HTTP_ERROR_BAD_SIGNATURE_LENGTH "bad_signature_length"
/** 400: intake got something other than CMS SignedData. */
#define HTTP_ERROR_NOT_SIGNED "not_signed"
/** 409: the change conflicts with the stored state. */
#define HTTP_ERROR_CONFLICT "conflict"
/** 410: what was asked for is no longer kept (a replication cursor older
 * than the retained change log: take a snapshot). */
#define HTTP_ERROR_GONE "gone"

/* --- the server's state --------------------------------------------------- */

/** 500: an unexpected failure (out of memory, a failed system call). */
#define HTTP_ERROR_INTERNAL "internal_error"
/** 500: a reload was refused; the previous configuration stays in force. */
#define HTTP_ERROR_RELOAD_REFUSED "reload_refused"
/** 503 + Retry-After: a bounded queue is full; retry shortly. */
#define HTTP_ERROR_BUSY "busy"
/** 503: the store could not be opened or read. */
#define HTTP_ERROR_STORE_UNAVAILABLE "store_unavailable"
/** 503: the store did not take a write; retry. */
#define HTTP_ERROR_NOT_STORED "not_stored"
/** 503: the service cannot answer now (shutting down, keys not loaded). */
#define HTTP_ERROR_UNAVAILABLE "unavailable"
/** 503: a write committed on the primary, but not enough replicas
 * acknowledged it in time (replication.sync_replicas); it stands. */
#define HTTP_ERROR_NOT_REPLICATED "not_replicated"
/** 503: a primary another node replaced (promoted past its epoch) was asked
 * to write; the body names the new primary. */
#define HTTP_ERROR_FENCED "fenced"
/** 503: a read-only replica was asked to write; the body names the primary. */
#define HTTP_ERROR_READ_ONLY_REPLICA "read_only_replica"
