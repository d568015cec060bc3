#include "config.h"

#include <string.h>

#include "ri-run-report.h"

G_DEFINE_BOXED_TYPE (RiRunReport, ri_run_report, ri_run_report_ref, ri_run_report_unref)

void
ri_index_report_free (RiIndexReport *report)
{
  g_free (report->name);
  g_free (report->output);
  g_free (report->registry);
  g_free (report->error);
  g_clear_pointer (&report->skipped, g_hash_table_unref);
  g_free (report);
}

RiRunReport *
ri_run_report_new (void)
{
  RiRunReport *report = g_new0 (RiRunReport, 1);

  g_atomic_ref_count_init (&report->ref_count);
  report->indexes = g_ptr_array_new_with_free_func ((GDestroyNotify) ri_index_report_free);
  report->skipped = ri_skipped_new ();
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
  g_hash_table_unref (report->skipped);
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

GHashTable *
ri_skipped_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

void
ri_skipped_add (GHashTable *sum, GHashTable *skipped)
{
  GHashTableIter iter;
  gpointer reason, count;

  g_hash_table_iter_init (&iter, skipped);
  while (g_hash_table_iter_next (&iter, &reason, &count))
    g_hash_table_replace (sum, g_strdup (reason),
                          GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (sum, reason)) +
                                            GPOINTER_TO_UINT (count)));
}

guint
ri_skipped_total (GHashTable *skipped)
{
  GHashTableIter iter;
  gpointer count;
  guint total = 0;

  if (skipped == NULL)
    return 0;
  g_hash_table_iter_init (&iter, skipped);
  while (g_hash_table_iter_next (&iter, NULL, &count))
    total += GPOINTER_TO_UINT (count);
  return total;
}

static int
compare_reasons (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The reasons in a stable order, so that messages and variants compare. */
static GPtrArray *
sorted_reasons (GHashTable *skipped)
{
  GPtrArray *reasons = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer reason;

  if (skipped != NULL)
    {
      g_hash_table_iter_init (&iter, skipped);
      while (g_hash_table_iter_next (&iter, &reason, NULL))
        g_ptr_array_add (reasons, reason);
    }
  g_ptr_array_sort (reasons, compare_reasons);
  return reasons;
}

/* a{su}: reason → count. */
GVariant *
ri_skipped_to_variant (GHashTable *skipped)
{
  g_autoptr(GPtrArray) reasons = sorted_reasons (skipped);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{su}"));
  for (guint i = 0; i < reasons->len; i++)
    g_variant_builder_add (&builder, "{su}", (const char *) g_ptr_array_index (reasons, i),
                           GPOINTER_TO_UINT (g_hash_table_lookup (skipped, g_ptr_array_index (reasons, i))));
  return g_variant_builder_end (&builder);
}

GVariant *
ri_index_report_skipped_to_variant (const RiIndexReport *report)
{
  return ri_skipped_to_variant (report->skipped);
}

GVariant *
ri_run_report_skipped_to_variant (const RiRunReport *report)
{
  return ri_skipped_to_variant (report->skipped);
}

/* "2 signature, 1 schema1", or NULL when nothing was skipped. */
char *
ri_skipped_describe (GHashTable *skipped)
{
  g_autoptr(GPtrArray) reasons = sorted_reasons (skipped);
  GString *text;

  if (reasons->len == 0)
    return NULL;
  text = g_string_new (NULL);
  for (guint i = 0; i < reasons->len; i++)
    g_string_append_printf (text, "%s%u %s", i > 0 ? ", " : "",
                            GPOINTER_TO_UINT (g_hash_table_lookup (skipped, g_ptr_array_index (reasons, i))),
                            (const char *) g_ptr_array_index (reasons, i));
  return g_string_free (text, FALSE);
}
