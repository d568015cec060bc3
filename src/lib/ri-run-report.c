#include "config.h"

#include "ri-run-report.h"

G_DEFINE_BOXED_TYPE (RiRunReport, ri_run_report, ri_run_report_ref, ri_run_report_unref)

void
ri_index_report_free (RiIndexReport *report)
{
  g_free (report->name);
  g_free (report->output);
  g_free (report->registry);
  g_free (report->error);
  g_free (report);
}

RiRunReport *
ri_run_report_new (void)
{
  RiRunReport *report = g_new0 (RiRunReport, 1);

  g_atomic_ref_count_init (&report->ref_count);
  report->indexes = g_ptr_array_new_with_free_func ((GDestroyNotify) ri_index_report_free);
  return report;
}

RiRunReport *
ri_run_report_ref (RiRunReport *report)
{
  g_atomic_ref_count_inc (&report->ref_count);
  return report;
}

void
ri_run_report_unref (RiRunReport *report)
{
  if (!g_atomic_ref_count_dec (&report->ref_count))
    return;
  g_ptr_array_unref (report->indexes);
  g_free (report->message);
  g_free (report);
}

guint
ri_request_stats_total (const RiRequestStats *stats)
{
  guint total = 0;

  for (guint i = 0; i < RI_REQUEST_N_KINDS; i++)
    total += stats->requests[i];
  return total;
}
