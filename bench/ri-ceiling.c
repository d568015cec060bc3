/* The registry's own ceiling: replays a list of requests ("METHOD URL" per
 * line) at a given concurrency over keep-alive connections, reading every
 * body and doing nothing else, and prints the rate. What regindexer's
 * wall time is compared with in bench/run. */

#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
  SoupSession *session;
  GPtrArray *lines;
  guint next;
  guint in_flight;
  guint failed;
  guint64 bytes;
  GMainLoop *loop;
} Replay;

static void start_next (Replay *replay);

static void
done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Replay *replay = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  SoupMessage *message = soup_session_get_async_result_message (SOUP_SESSION (source), result);

  if (body == NULL || !SOUP_STATUS_IS_SUCCESSFUL (soup_message_get_status (message)))
    replay->failed++;
  else
    replay->bytes += g_bytes_get_size (body);
  replay->in_flight--;
  start_next (replay);
  if (replay->in_flight == 0 && replay->next == replay->lines->len)
    g_main_loop_quit (replay->loop);
}

static void
start_next (Replay *replay)
{
  const char *line;
  g_auto(GStrv) parts = NULL;
  g_autoptr(SoupMessage) message = NULL;

  if (replay->next >= replay->lines->len)
    return;
  line = g_ptr_array_index (replay->lines, replay->next++);
  parts = g_strsplit (line, " ", 2);
  message = soup_message_new (parts[0], parts[1]);
  soup_message_headers_replace (soup_message_get_request_headers (message), "Accept",
                                "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
                                "application/vnd.docker.distribution.manifest.v2+json, "
                                "application/vnd.docker.distribution.manifest.list.v2+json");
  replay->in_flight++;
  soup_session_send_and_read_async (replay->session, message, G_PRIORITY_DEFAULT, NULL, done_cb, replay);
}

int
main (int argc, char **argv)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  Replay replay = { 0 };
  guint concurrency;
  gint64 start, elapsed;

  if (argc != 3)
    {
      g_printerr ("usage: ri-ceiling REQUESTS-FILE CONCURRENCY\n");
      return 2;
    }
  if (!g_file_get_contents (argv[1], &contents, NULL, NULL))
    {
      g_printerr ("ri-ceiling: cannot read %s\n", argv[1]);
      return 2;
    }
  concurrency = MAX (1, atoi (argv[2]));
  replay.lines = g_ptr_array_new ();
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    if (*lines[i])
      g_ptr_array_add (replay.lines, lines[i]);
  replay.session = soup_session_new_with_options ("max-conns", concurrency + 2, "max-conns-per-host", concurrency,
                                                  NULL);
  replay.loop = g_main_loop_new (NULL, FALSE);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < concurrency; i++)
    start_next (&replay);
  if (replay.in_flight > 0)
    g_main_loop_run (replay.loop);
  elapsed = g_get_monotonic_time () - start;

  printf ("requests %u failed %u bytes %" G_GUINT64_FORMAT " seconds %.3f rate %.1f\n",
          replay.lines->len, replay.failed, replay.bytes, elapsed / 1e6, replay.lines->len / (elapsed / 1e6));
  g_main_loop_unref (replay.loop);
  g_object_unref (replay.session);
  g_ptr_array_unref (replay.lines);
  return replay.failed ? 1 : 0;
}
