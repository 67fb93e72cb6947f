/* Element benchmarks that need to be measured in-process (bench/element.sh):
 *   element_bench latency WAV          latency from the arrival of the buffer
 *                                      holding a window's last sample to the
 *                                      window's message (10 ms buffers)
 *   element_bench live WAV N SECONDS   N live streams in one process, each
 *                                      paced in real time; reports how far
 *                                      behind real time the results are
 * Links GStreamer only; finds seremotion through GST_PLUGIN_PATH. */
#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static gint64 now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b) {
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------- latency */

typedef struct {
  GstClockTime pts, end;
  gint64 arrived;
} Arrival;

typedef struct {
  GArray *arrivals; /* Arrival */
  GArray *lat;      /* gint64 ns */
  GMutex lock;
} Lat;

static GstPadProbeReturn on_buffer(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
  Lat *l = user;
  (void)pad;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
  Arrival a = {GST_BUFFER_PTS(b), GST_BUFFER_PTS(b) + GST_BUFFER_DURATION(b), now_ns()};
  g_mutex_lock(&l->lock);
  g_array_append_val(l->arrivals, a);
  g_mutex_unlock(&l->lock);
  return GST_PAD_PROBE_OK;
}

static GstBusSyncReply on_sync(GstBus *bus, GstMessage *m, gpointer user) {
  Lat *l = user;
  (void)bus;
  const GstStructure *s = gst_message_get_structure(m);
  if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ELEMENT && s && gst_structure_has_name(s, "seremotion")) {
    gint64 t = now_ns();
    guint64 ts = 0, dur = 0;
    gst_structure_get_uint64(s, "timestamp", &ts);
    gst_structure_get_uint64(s, "duration", &dur);
    guint64 last = ts + dur - 1;
    g_mutex_lock(&l->lock);
    for (gint i = (gint)l->arrivals->len - 1; i >= 0 && i >= (gint)l->arrivals->len - 8; i--) {
      Arrival *a = &g_array_index(l->arrivals, Arrival, i);
      if (a->pts <= last && last < a->end) {
        gint64 d = t - a->arrived;
        g_array_append_val(l->lat, d);
        break;
      }
    }
    g_mutex_unlock(&l->lock);
  }
  return GST_BUS_PASS;
}

static int run_latency(const char *wav) {
  gchar *desc = g_strdup_printf(
      "filesrc location=\"%s\" ! wavparse ! audio/x-raw,rate=16000 ! appsink name=in sync=false", wav);
  /* Read the file, then feed the element 10 ms buffers (like a capture
   * source) through appsrc, as fast as it takes them. */
  GstElement *rd = gst_parse_launch(desc, NULL);
  g_free(desc);
  GstElement *in = gst_bin_get_by_name(GST_BIN(rd), "in");
  gst_element_set_state(rd, GST_STATE_PLAYING);
  GByteArray *pcm = g_byte_array_new();
  GstSample *smp;
  GstCaps *caps = NULL;
  while (1) {
    g_signal_emit_by_name(in, "pull-sample", &smp);
    if (!smp) break;
    if (!caps) caps = gst_caps_copy(gst_sample_get_caps(smp));
    GstMapInfo m;
    gst_buffer_map(gst_sample_get_buffer(smp), &m, GST_MAP_READ);
    g_byte_array_append(pcm, m.data, (guint)m.size);
    gst_buffer_unmap(gst_sample_get_buffer(smp), &m);
    gst_sample_unref(smp);
  }
  gst_element_set_state(rd, GST_STATE_NULL);
  gst_object_unref(in);
  gst_object_unref(rd);

  GstElement *p = gst_parse_launch("appsrc name=src format=time ! seremotion name=ser ! fakesink sync=false", NULL);
  GstElement *src = gst_bin_get_by_name(GST_BIN(p), "src");
  GstElement *ser = gst_bin_get_by_name(GST_BIN(p), "ser");
  g_object_set(src, "caps", caps, "block", TRUE, "max-bytes", (guint64)64000, NULL);
  Lat l = {g_array_new(FALSE, FALSE, sizeof(Arrival)), g_array_new(FALSE, FALSE, sizeof(gint64)), {0}};
  g_mutex_init(&l.lock);
  GstPad *sink = gst_element_get_static_pad(ser, "sink");
  gst_pad_add_probe(sink, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &l, NULL);
  GstBus *bus = gst_element_get_bus(p);
  gst_bus_set_sync_handler(bus, on_sync, &l, NULL);
  gst_element_set_state(p, GST_STATE_PLAYING);
  const gsize chunk = 320; /* bytes: 10 ms of S16 mono 16 kHz */
  for (gsize off = 0; off + chunk <= pcm->len; off += chunk) {
    GstBuffer *b = gst_buffer_new_memdup(pcm->data + off, chunk);
    GST_BUFFER_PTS(b) = gst_util_uint64_scale(off / 2, GST_SECOND, 16000);
    GST_BUFFER_DURATION(b) = 10 * GST_MSECOND;
    gst_app_src_push_buffer(GST_APP_SRC(src), b);
  }
  gst_app_src_end_of_stream(GST_APP_SRC(src));
  GstMessage *m = gst_bus_timed_pop_filtered(bus, GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_message_unref(m);
  gst_element_set_state(p, GST_STATE_NULL);
  qsort(l.lat->data, l.lat->len, sizeof(gint64), cmp_i64);
  guint n = l.lat->len;
  if (n == 0) {
    fprintf(stderr, "no latency samples\n");
    return 1;
  }
  gint64 *v = (gint64 *)l.lat->data;
  printf("latency windows=%u median_ms=%.3f p95_ms=%.3f max_ms=%.3f\n", n, v[n / 2] / 1e6, v[n * 95 / 100] / 1e6,
         v[n - 1] / 1e6);
  gst_object_unref(sink);
  gst_object_unref(bus);
  gst_object_unref(src);
  gst_object_unref(ser);
  gst_object_unref(p);
  gst_caps_unref(caps);
  return 0;
}

/* ---------------------------------------------------------------- live */

typedef struct {
  GstElement *pipeline;
  GMutex lock;
  GArray *lags;  /* gint64 ns: clock time at the message - running time of the window's end */
  gint64 t_end;  /* only lags measured in the second half are kept */
  guint *count;
  gint n;
} Live;

static GstBusSyncReply on_live(GstBus *bus, GstMessage *m, gpointer user) {
  Live *l = user;
  (void)bus;
  const GstStructure *s = gst_message_get_structure(m);
  if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ELEMENT && s && gst_structure_has_name(s, "seremotion")) {
    guint64 rt = 0, dur = 0;
    gst_structure_get_uint64(s, "running-time", &rt);
    gst_structure_get_uint64(s, "duration", &dur);
    GstClock *clk = gst_element_get_clock(l->pipeline);
    if (clk) {
      GstClockTime now = gst_clock_get_time(clk) - gst_element_get_base_time(l->pipeline);
      gint64 lag = (gint64)now - (gint64)(rt + dur);
      gint idx = atoi(GST_OBJECT_NAME(GST_MESSAGE_SRC(m)) + 1);
      g_mutex_lock(&l->lock);
      if (idx >= 0 && idx < l->n) l->count[idx]++;
      g_array_append_val(l->lags, lag);
      g_mutex_unlock(&l->lock);
      gst_object_unref(clk);
    }
  }
  return GST_BUS_PASS;
}

static int run_live(const char *wav, int n, double seconds) {
  GString *d = g_string_new(NULL);
  for (int i = 0; i < n; i++)
    g_string_append_printf(d,
                           "filesrc location=\"%s\" ! wavparse ! identity sync=true ! "
                           "seremotion name=s%d ! fakesink sync=false async=false ",
                           wav, i);
  GError *err = NULL;
  Live l = {0};
  l.pipeline = gst_parse_launch(d->str, &err);
  if (!l.pipeline) {
    fprintf(stderr, "%s\n", err->message);
    return 1;
  }
  g_mutex_init(&l.lock);
  l.lags = g_array_new(FALSE, FALSE, sizeof(gint64));
  l.count = g_new0(guint, n);
  l.n = n;
  GstBus *bus = gst_element_get_bus(l.pipeline);
  gst_bus_set_sync_handler(bus, on_live, &l, NULL);
  gst_element_set_state(l.pipeline, GST_STATE_PLAYING);
  GstMessage *m = gst_bus_timed_pop_filtered(bus, (GstClockTime)(seconds * GST_SECOND), GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  if (m) {
    fprintf(stderr, "stopped early: %s\n", GST_MESSAGE_TYPE_NAME(m));
    gst_message_unref(m);
  }
  gst_element_set_state(l.pipeline, GST_STATE_NULL);
  g_mutex_lock(&l.lock);
  guint total = l.lags->len, minc = G_MAXUINT;
  for (int i = 0; i < n; i++) minc = MIN(minc, l.count[i]);
  /* lags of the last quarter of the results: does the backlog grow? */
  gint64 *v = (gint64 *)l.lags->data;
  guint from = total * 3 / 4, k = total - from;
  gint64 *tail = g_memdup2(v + from, k * sizeof(gint64));
  qsort(tail, k, sizeof(gint64), cmp_i64);
  qsort(v, total, sizeof(gint64), cmp_i64);
  /* a stream analysed in real time gives one result per 500 ms after the first 3 s window */
  double expect = (seconds - 3.02) / 0.5 + 1;
  printf("live streams=%d seconds=%.0f results=%u min_per_stream=%u expected_per_stream=%.0f "
         "median_lag_ms=%.1f last_quarter_max_lag_ms=%.1f\n",
         n, seconds, total, minc, expect, total ? v[total / 2] / 1e6 : -1.0, k ? tail[k - 1] / 1e6 : -1.0);
  g_mutex_unlock(&l.lock);
  g_free(tail);
  gst_object_unref(bus);
  gst_object_unref(l.pipeline);
  g_string_free(d, TRUE);
  return 0;
}

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  if (argc >= 3 && strcmp(argv[1], "latency") == 0) return run_latency(argv[2]);
  if (argc >= 5 && strcmp(argv[1], "live") == 0) return run_live(argv[2], atoi(argv[3]), atof(argv[4]));
  fprintf(stderr, "usage: element_bench latency WAV | live WAV N SECONDS\n");
  return 1;
}
