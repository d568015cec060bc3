#include "config.h"

#include "ri-http-fields.h"

static char *
joined (const char *value)
{
  g_autoptr(GPtrArray) elements = ri_http_list_parse (value);

  g_ptr_array_add (elements, NULL);
  return g_strjoinv ("|", (char **) elements->pdata);
}

static void
test_list (void)
{
  struct { const char *value; const char *elements; } cases[] = {
    { "", "" },
    { " , ,, ", "" },
    { "gzip", "gzip" },
    { " gzip ,\tdeflate\t", "gzip|deflate" },
    { "a,,b", "a|b" },
    { "\"x, y\", z", "\"x, y\"|z" },
    { "\"a\\\", b\", c", "\"a\\\", b\"|c" },
    { "W/\"1\", \"2\"", "W/\"1\"|\"2\"" },
    { "<https://r/v2/_catalog?n=1&last=a>; rel=\"next\"", "<https://r/v2/_catalog?n=1&last=a>; rel=\"next\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *elements = joined (cases[i].value);
      g_assert_cmpstr (elements, ==, cases[i].elements);
    }
  g_assert_true (ri_http_list_contains ("keep-alive, Close", "close"));
  g_assert_true (ri_http_list_contains ("CHUNKED", "chunked"));
  g_assert_false (ri_http_list_contains ("closed", "close"));
  g_assert_false (ri_http_list_contains ("\"close\"", "close"));
  g_assert_false (ri_http_list_contains ("", "close"));
}

static void
test_params (void)
{
  g_autoptr(GHashTable) params = ri_http_params_parse (" ; REL=\"next prev\";title=\"a\\\"b;c\" ; bare ;x = y ");
  g_autoptr(GHashTable) none = ri_http_params_parse (NULL);

  g_assert_cmpuint (g_hash_table_size (params), ==, 4);
  g_assert_cmpstr (g_hash_table_lookup (params, "rel"), ==, "next prev");
  g_assert_cmpstr (g_hash_table_lookup (params, "title"), ==, "a\"b;c");
  g_assert_cmpstr (g_hash_table_lookup (params, "bare"), ==, "");
  g_assert_cmpstr (g_hash_table_lookup (params, "x"), ==, "y");
  g_assert_cmpuint (g_hash_table_size (none), ==, 0);
  {
    g_autoptr(GHashTable) twice = ri_http_params_parse ("rel=first; REL=second; Rel");

    g_assert_cmpuint (g_hash_table_size (twice), ==, 1);
    g_assert_cmpstr (g_hash_table_lookup (twice, "rel"), ==, "first");
  }
}

static void
test_codings (void)
{
  struct { const char *value; gboolean gzip; } cases[] = {
    { "gzip", TRUE },
    { "GZip;q=0.5", TRUE },
    { "deflate", FALSE },
    { "", FALSE },
    { "*", TRUE },
    { "*;q=0", FALSE },
    { "gzip;q=0", FALSE },
    { "gzip;Q=0.000, *", FALSE },
    { "gzip;q=0.001", TRUE },
    { "*;q=0, gzip", TRUE },
    { "br;q=1, *;q=0.1", TRUE },
    { "identity, gzip;q=0., deflate", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s", cases[i].value);
      g_assert_cmpint (ri_http_accepts_coding (cases[i].value, "gzip"), ==, cases[i].gzip);
    }
}

static void
test_dates (void)
{
  const char *same[] = {
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 1994",
  };
  const char *refused[] = {
    "", "soon", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 GMT junk",
    "Sun, 06 Xyz 1994 08:49:37 GMT", "Sun, 30 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
  };
  g_autoptr(GDateTime) expected = g_date_time_new_utc (1994, 11, 6, 8, 49, 37);
  g_autoptr(GDateTime) late = ri_http_date_parse ("Thursday, 01-Jan-37 00:00:00 GMT");

  for (guint i = 0; i < G_N_ELEMENTS (same); i++)
    {
      g_autoptr(GDateTime) date = ri_http_date_parse (same[i]);
      g_assert_nonnull (date);
      g_assert_true (g_date_time_equal (date, expected));
    }
  g_assert_nonnull (late);
  g_assert_cmpint (g_date_time_get_year (late), ==, 2037);
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GDateTime) date = ri_http_date_parse (refused[i]);
      g_test_message ("%s", refused[i]);
      g_assert_null (date);
    }
  g_assert_null (ri_http_date_parse (NULL));
}

static void
test_phrases (void)
{
  g_assert_cmpstr (ri_http_status_phrase (404), ==, "Not Found");
  g_assert_cmpstr (ri_http_status_phrase (429), ==, "Too Many Requests");
  g_assert_cmpstr (ri_http_status_phrase (503), ==, "Service Unavailable");
  g_assert_cmpstr (ri_http_status_phrase (599), ==, "Unknown");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http-fields/list", test_list);
  g_test_add_func ("/http-fields/params", test_params);
  g_test_add_func ("/http-fields/codings", test_codings);
  g_test_add_func ("/http-fields/dates", test_dates);
  g_test_add_func ("/http-fields/phrases", test_phrases);
  return g_test_run ();
}
