#pragma once

#include <gio/gio.h>

#include "ri-config.h"
#include "ri-indexer.h"
#include "ri-run-report.h"

G_BEGIN_DECLS

/* What the daemon remembers of one index across runs. */
typedef struct {
  gint64 last_write_us;     /* last confirmed up to date, 0 if never */
  gint64 last_changed_us;   /* last rewritten, 0 if never */
  guint images;
  guint repositories;
  char *last_error;         /* (owned) (nullable) */
  GVariant *skipped;        /* (owned) (nullable) a{su} of the last write: reason → objects */
} RiIndexStatus;

#define RI_TYPE_SCHEDULER (ri_scheduler_get_type ())
G_DECLARE_FINAL_TYPE (RiScheduler, ri_scheduler, RI, SCHEDULER, GObject)

RiScheduler   *ri_scheduler_new              (RiConfig           *config,
                                              RiContentCache     *cache);
RiConfig      *ri_scheduler_get_config       (RiScheduler        *self);
void           ri_scheduler_set_config       (RiScheduler        *self,
                                              RiConfig           *config);
guint64        ri_scheduler_request          (RiScheduler        *self,
                                              const char * const *names,
                                              GError            **error);
guint64        ri_scheduler_refresh          (RiScheduler        *self,
                                              const char         *registry,
                                              const char         *repository,
                                              GError            **error);
RiIndexer     *ri_scheduler_get_indexer      (RiScheduler        *self);
void           ri_scheduler_shutdown         (RiScheduler        *self);
gboolean       ri_scheduler_is_running       (RiScheduler        *self);
guint64        ri_scheduler_get_current_job  (RiScheduler        *self);
guint64        ri_scheduler_get_pending_job  (RiScheduler        *self);
guint64        ri_scheduler_get_last_job     (RiScheduler        *self);
RiRunReport   *ri_scheduler_get_last_report  (RiScheduler        *self);
const char    *ri_scheduler_get_last_error   (RiScheduler        *self);
RiIndexStatus *ri_scheduler_get_index_status (RiScheduler        *self,
                                              const char         *name);
gint64         ri_scheduler_get_next_retry   (RiScheduler        *self);
guint          ri_scheduler_get_failed_runs  (RiScheduler        *self);
guint          ri_scheduler_retry_delay_s    (guint               first_s,
                                              guint               failed_runs);

G_END_DECLS
