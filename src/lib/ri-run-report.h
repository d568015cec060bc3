#pragma once

#include <glib-object.h>

#include "ri-content-cache.h"
#include "ri-index-writer.h"
#include "ri-registry-client.h"

G_BEGIN_DECLS

typedef struct {
  char *name;                 /* (owned) */
  char *output;               /* (owned) */
  char *registry;             /* (owned) */
  gboolean success;
  gboolean changed;           /* the file was (re)written */
  RiIndexCounts counts;
  char *error;                /* (owned) (nullable) */
  GHashTable *skipped;        /* (owned) reason → count (GUINT_TO_POINTER): objects of the
                               * registry left out of the index's model, see below */
} RiIndexReport;

typedef struct {
  gint64 started_us;          /* wall clock, microseconds since the epoch */
  gint64 finished_us;
  gboolean success;           /* every index asked for was written */
  GPtrArray *indexes;         /* (owned) (element-type RiIndexReport) */
  RiRequestStats stats;       /* summed over the registries */
  RiCacheStats cache;         /* what the content cache saved */
  gint64 scan_us;             /* the longest registry scan */
  gint64 write_us;            /* building and writing every index */
  char *message;              /* (owned) one line for people */
  GHashTable *skipped;        /* (owned) reason → count, summed over the registries */
  gatomicrefcount ref_count;
} RiRunReport;

#define RI_TYPE_RUN_REPORT (ri_run_report_get_type ())
GType ri_run_report_get_type (void) G_GNUC_CONST;

RiRunReport *ri_run_report_new   (void);
RiRunReport *ri_run_report_ref   (RiRunReport *report);
void         ri_run_report_unref (RiRunReport *report);
void         ri_index_report_free (RiIndexReport *report);
guint        ri_request_stats_total (const RiRequestStats *stats);

/* Objects skipped while scanning, by reason. The reasons are stable names:
 * what is not an image, by kind ("signature", "attestation", "sbom",
 * "helm-chart", "wasm", "artifact", "schema1", "list-without-images"),
 * and what could not be used ("not-json", "too-deep", "malformed",
 * "unknown-digest-algorithm", "size-mismatch", "gone"). */
GVariant    *ri_index_report_skipped_to_variant (const RiIndexReport *report);
GVariant    *ri_run_report_skipped_to_variant   (const RiRunReport   *report);
GVariant    *ri_skipped_to_variant  (GHashTable *skipped);
guint        ri_skipped_total       (GHashTable *skipped);
char        *ri_skipped_describe    (GHashTable *skipped);
void         ri_skipped_add         (GHashTable *sum,
                                     GHashTable *skipped);
GHashTable  *ri_skipped_new         (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiRunReport, ri_run_report_unref)

G_END_DECLS
