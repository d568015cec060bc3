#include "config.h"

#include "ri-error.h"

G_DEFINE_QUARK (ri-error-quark, ri_error)
