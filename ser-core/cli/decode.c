/* Decode any file GStreamer can read to mono float32 at a given rate:
 * filesrc ! decodebin ! audioconvert ! audioresample ! appsink. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include "cli.h"

typedef struct {
  GstElement *conv;
  gboolean audio;     /* an audio stream was linked */
  gchar other[64];    /* the media type of a stream that was not audio */
} pads_seen;

static void on_pad_added(GstElement *dec, GstPad *pad, gpointer data) {
  pads_seen *ps = data;
  GstPad *sink = gst_element_get_static_pad(ps->conv, "sink");
  (void)dec;
  GstCaps *caps = gst_pad_get_current_caps(pad);
  if (!caps) caps = gst_pad_query_caps(pad, NULL);
  const gchar *name = gst_caps_is_empty(caps) ? "" : gst_structure_get_name(gst_caps_get_structure(caps, 0));
  if (g_str_has_prefix(name, "audio/")) {
    if (!gst_pad_is_linked(sink) && gst_pad_link(pad, sink) == GST_PAD_LINK_OK) ps->audio = TRUE;
  } else if (!ps->other[0]) {
    g_strlcpy(ps->other, *name ? name : "unknown", sizeof ps->other);
  }
  gst_caps_unref(caps);
  gst_object_unref(sink);
}

int ser_decode_file(const char *path, uint32_t rate, float **out, size_t *n,
                    char *err, size_t errlen) {
  *out = NULL;
  *n = 0;
  struct stat st;
  if (stat(path, &st) != 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s: not a regular file", path);
    return -1;
  }
  FILE *probe = fopen(path, "rb");
  if (!probe) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  fclose(probe);
  if (st.st_size == 0) {
    snprintf(err, errlen, "%s: empty file", path);
    return -1;
  }

  if (!gst_is_initialized()) gst_init(NULL, NULL);

  GstElement *pipe = gst_pipeline_new("decode");
  GstElement *src = gst_element_factory_make("filesrc", NULL);
  GstElement *dec = gst_element_factory_make("decodebin", NULL);
  GstElement *conv = gst_element_factory_make("audioconvert", NULL);
  GstElement *res = gst_element_factory_make("audioresample", NULL);
  GstElement *sink = gst_element_factory_make("appsink", NULL);
  if (!pipe || !src || !dec || !conv || !res || !sink) {
    snprintf(err, errlen, "%s: GStreamer elements missing (need filesrc, decodebin, audioconvert, audioresample, appsink)", path);
    if (pipe) gst_object_unref(pipe);
    return -1;
  }
  g_object_set(src, "location", path, NULL);
  GstCaps *caps = gst_caps_new_simple("audio/x-raw", "format", G_TYPE_STRING, "F32LE", "layout",
                                      G_TYPE_STRING, "interleaved", "channels", G_TYPE_INT, 1,
                                      "rate", G_TYPE_INT, (int)rate, NULL);
  g_object_set(sink, "caps", caps, "sync", FALSE, NULL);
  gst_caps_unref(caps);
  gst_bin_add_many(GST_BIN(pipe), src, dec, conv, res, sink, NULL);
  gst_element_link(src, dec);
  gst_element_link_many(conv, res, sink, NULL);
  pads_seen ps = {.conv = conv};
  g_signal_connect(dec, "pad-added", G_CALLBACK(on_pad_added), &ps);

  int ret = 0;
  size_t cap = 0;
  float *buf = NULL;
  GstBus *bus = gst_element_get_bus(pipe);
  GstMessage *msg = NULL;
  if (gst_element_set_state(pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) ret = -1;
  while (ret == 0) {
    /* An error before preroll (e.g. an undecodable file) never reaches the
     * appsink as EOS: poll the bus while waiting, or this would block forever. */
    GstSample *sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 50 * GST_MSECOND);
    if (!sample) {
      if (gst_app_sink_is_eos(GST_APP_SINK(sink))) break;
      msg = gst_bus_timed_pop_filtered(bus, 0, GST_MESSAGE_ERROR);
      if (msg) break;
      continue;
    }
    GstBuffer *b = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (b && gst_buffer_map(b, &map, GST_MAP_READ)) {
      size_t k = map.size / sizeof(float);
      if (*n + k > cap) {
        size_t nc = cap ? cap * 2 : 1 << 16;
        while (nc < *n + k) nc *= 2;
        float *nb = realloc(buf, nc * sizeof(float));
        if (!nb) {
          snprintf(err, errlen, "%s: out of memory after %zu samples", path, *n);
          ret = -1;
        } else {
          buf = nb;
          cap = nc;
        }
      }
      if (ret == 0) {
        memcpy(buf + *n, map.data, k * sizeof(float));
        *n += k;
      }
      gst_buffer_unmap(b, &map);
    }
    gst_sample_unref(sample);
  }

  if (!msg) msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  if (msg) {
    GError *e = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error(msg, &e, &dbg);
    if (!ps.audio && ps.other[0])
      snprintf(err, errlen, "%s: no audio stream (only %s)", path, ps.other);
    else
      snprintf(err, errlen, "%s: cannot decode: %s", path, e ? e->message : "unknown error");
    g_clear_error(&e);
    g_free(dbg);
    gst_message_unref(msg);
    ret = -1;
  } else if (ret == 0 && *n == 0) {
    /* a stream with no samples: not an error for the decoder, but the caller decides */
  }
  gst_object_unref(bus);
  gst_element_set_state(pipe, GST_STATE_NULL);
  gst_object_unref(pipe);
  if (ret != 0) {
    free(buf);
    *n = 0;
    return -1;
  }
  *out = buf;
  return 0;
}
