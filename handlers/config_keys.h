/* The keys the endpoint families read: plain.*, ocsp.*, crl.*, intake.* */
#pragma once
#include "core/config.h"

/** The handlers' keys, ended by an entry with a NULL name (core/config.h). */
extern const struct config_key handlers_config_keys[];
