/* Conditional GET (RFC 9110 §13): the one place that reads If-None-Match and
 * If-Modified-Since and decides whether a GET or HEAD is answered 304.
 *
 * A handler states its response's validators (the ETag and Last-Modified it
 * sends) and asks conditional_check(); the parsers and the decision are
 * exported for tests and fuzzing.
 *
 * One rule is kensho's own: "If-None-Match: *" never yields 304. RFC 9110
 * §13.1.2 has "*" match any current representation, which would let a client
 * holding *some* earlier copy (say a status answer from before a change) keep
 * it. "*" exists to stop unsafe methods from overwriting; for a GET the
 * current bytes are always a correct answer, so they are sent. A listed tag
 * still counts when "*" is in the list too. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct exchange;

/** One member of an If-None-Match list. */
struct entity_tag {
	const char *opaque; /**< the quoted tag with its quotes, inside the list;
	                         NULL for "*" and for a malformed member */
	size_t opaque_len;
	bool weak; /**< written with the W/ prefix */
	bool any;  /**< the member is "*" */
};

/** Reads the next member of an If-None-Match value (RFC 9110 §13.1.2:
 * "*" or a list of entity-tags, empty members allowed) starting at *pos
 * (0 for the first), and advances *pos past it. Returns false when no member
 * is left. A member that is neither "*" nor a well-formed entity-tag (no
 * quotes, unterminated, a character outside etagc, or anything after the
 * closing quote) comes back with opaque NULL and any false: it matches
 * nothing. */
bool conditional_next_etag(const char *list, size_t len, size_t *pos, struct entity_tag *out);

/** True when the If-None-Match value names `etag` (with its quotes, W/ allowed)
 * by weak comparison (RFC 9110 §8.8.3.2). "*" matches nothing (see above). */
bool conditional_etag_listed(const char *list, size_t len, const char *etag);

/** Parses an HTTP-date (RFC 9110 §5.6.7) in any of its three forms:
 * IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", the obsolete RFC 850 form
 * "Sunday, 06-Nov-94 08:49:37 GMT" and asctime's "Sun Nov  6 08:49:37 1994".
 * Names are case-sensitive, field widths and spaces exact, every field in
 * range (day within its month, leap years counted), and the weekday must be
 * the date's own. A second of 60 (leap second) counts as 59. An RFC 850
 * two-digit year is taken in `now`'s century unless that puts it more than 50
 * years after `now`'s year; then it is the most recent past year with those
 * digits.
 * Sets *out to seconds since the epoch; returns 0 or -EINVAL. */
int conditional_parse_date(const char *text, size_t len, int64_t now, int64_t *out);

/** What a response offers for conditional requests. */
struct conditional_validators {
	const char *etag;      /**< its ETag with quotes; NULL: none */
	int64_t last_modified; /**< its Last-Modified, seconds since the epoch */
	/** Whether If-Modified-Since may answer 304. False when only the exact
	 * entity-tag can prove the client's copy current: a representation that
	 * may have replaced another within Last-Modified's one-second
	 * resolution. */
	bool by_date;
};

/** The 304 decision of RFC 9110 §13.2.2 for a GET or HEAD, from the raw
 * header values (NULL: header absent). If-None-Match, when present, decides
 * alone: 304 if it lists the validators' tag. Otherwise If-Modified-Since
 * gives 304 when it is a valid HTTP-date (parsed against `now`), by_date is
 * set and last_modified is not later than it (§13.1.3); an invalid date is
 * ignored. */
bool conditional_not_modified(const char *if_none_match, size_t if_none_match_len,
                              const char *if_modified_since, size_t if_modified_since_len,
                              int64_t now, const struct conditional_validators *v);

/** The same decision for the request of `ex`: true when it is a GET or HEAD
 * whose preconditions say the client's copy is current, so the handler
 * answers 304 (after adding the validator headers it would send with 200). */
bool conditional_check(const struct exchange *ex, const struct conditional_validators *v);
