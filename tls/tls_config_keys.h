/* The tls.* keys kenshod accepts (tls_settings.c reads them). */
#pragma once
#include "core/config.h"

/** tls.* keys, ended by an entry with a NULL name (core/config.h). */
extern const struct config_key tls_config_keys[];
