/* The old name of ca/crl_issue.h, kept only while handlers/crl_serve.c,
 * handlers/crl_publisher.c and tests/unit/handlers/test_lifecycle.c still
 * include it; new code includes ca/crl_issue.h. Delete this file with the
 * last include. */
#pragma once
#include "ca/crl_issue.h"
