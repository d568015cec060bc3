#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RI_ERROR (ri_error_quark ())

/**
 * RiError:
 * @RI_ERROR_FAILED: anything without a more specific code
 * @RI_ERROR_CONFIG: the configuration file is malformed or invalid
 * @RI_ERROR_NOT_FOUND: an index (or other named thing) does not exist
 * @RI_ERROR_REGISTRY: the registry answered with an error status
 * @RI_ERROR_PROTOCOL: the registry answered with something malformed
 * @RI_ERROR_DIGEST_MISMATCH: content did not match its digest
 * @RI_ERROR_TOO_LARGE: a response exceeded its size limit
 * @RI_ERROR_WRITE: an index or icon could not be written
 * @RI_ERROR_BUSY: the request cannot be served now
 * @RI_ERROR_BAD_REQUEST: a request was malformed: one the registry refused
 *   (400), or a query or notification sent to the daemon
 * @RI_ERROR_DENIED: the registry refused access (401 or 403)
 *
 * Error codes of the engine. The daemon maps each of them to a D-Bus error
 * name, so codes are only ever appended.
 */
typedef enum {
  RI_ERROR_FAILED,
  RI_ERROR_CONFIG,
  RI_ERROR_NOT_FOUND,
  RI_ERROR_REGISTRY,
  RI_ERROR_PROTOCOL,
  RI_ERROR_DIGEST_MISMATCH,
  RI_ERROR_TOO_LARGE,
  RI_ERROR_WRITE,
  RI_ERROR_BUSY,
  RI_ERROR_BAD_REQUEST,
  RI_ERROR_DENIED,
} RiError;

GQuark ri_error_quark (void);

G_END_DECLS
