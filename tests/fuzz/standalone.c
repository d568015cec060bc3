/* Runs a fuzz target over files, without libFuzzer: the seeds and every
 * input that once crashed are replayed in the ordinary test suite. */
#include "config.h"

#include <glib.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
run_path (const char *path, guint *count)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          run_path (child, count);
        }
      return;
    }
  {
    g_autofree char *contents = NULL;
    gsize length = 0;

    if (!g_file_get_contents (path, &contents, &length, NULL))
      g_error ("cannot read %s", path);
    LLVMFuzzerTestOneInput ((const uint8_t *) contents, length);
    (*count)++;
  }
}

int
main (int argc, char **argv)
{
  guint count = 0;

  for (int i = 1; i < argc; i++)
    run_path (argv[i], &count);
  if (count == 0)
    g_error ("no inputs");
  g_print ("%u inputs ran\n", count);
  return 0;
}
