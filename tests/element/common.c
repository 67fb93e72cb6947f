/* Helpers shared by the element tests (see common.h). */
#include "common.h"

#include <gst/app/gstappsink.h>
#include <glib/gstdio.h>
#include <string.h>

gchar *speech_path(const gchar *rel) {
  const gchar *ds = g_getenv("SER_DATASETS");
  const gchar *root = g_getenv("SER_SOURCE_ROOT");
  gchar *p = NULL;
  if (ds) {
    p = g_build_filename(ds, rel, NULL);
    if (g_file_test(p, G_FILE_TEST_EXISTS)) return p;
    g_free(p);
  }
  if (root) {
    p = g_build_filename(root, rel, NULL);
    if (g_file_test(p, G_FILE_TEST_EXISTS)) return p;
    g_free(p);
  }
  return g_strdup(rel);
}

gfloat *load_speech(const gchar *relpath, gint rate, gsize *n) {
  gchar *path = speech_path(relpath);
  gchar *desc = g_strdup_printf(
      "filesrc location=\"%s\" ! decodebin ! audioconvert ! audioresample ! "
      "audio/x-raw,format=F32LE,channels=1,rate=%d,layout=interleaved ! appsink name=sink sync=false",
      path, rate);
  GError *err = NULL;
  GstElement *p = gst_parse_launch(desc, &err);
  fail_unless(p != NULL, "cannot build decoder: %s", err ? err->message : "?");
  GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
  fail_unless(gst_element_set_state(p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE, "cannot decode %s", path);
  GByteArray *acc = g_byte_array_new();
  GstSample *s;
  while ((s = gst_app_sink_pull_sample(GST_APP_SINK(sink))) != NULL) {
    GstBuffer *b = gst_sample_get_buffer(s);
    GstMapInfo m;
    gst_buffer_map(b, &m, GST_MAP_READ);
    g_byte_array_append(acc, m.data, (guint)m.size);
    gst_buffer_unmap(b, &m);
    gst_sample_unref(s);
  }
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(sink);
  gst_object_unref(p);
  g_free(desc);
  fail_unless(acc->len > 0, "no audio decoded from %s", path);
  g_free(path);
  *n = acc->len / sizeof(gfloat);
  return (gfloat *)g_byte_array_free(acc, FALSE);
}

gfloat *resample(const gfloat *x, gsize n, gint from, gint to, gsize *out_n) {
  if (from == to) {
    *out_n = n;
    return g_memdup2(x, n * sizeof(gfloat));
  }
  GstHarness *h = gst_harness_new("audioresample");
  gchar *in = caps_string(GST_AUDIO_FORMAT_F32LE, from, 1);
  gchar *out = caps_string(GST_AUDIO_FORMAT_F32LE, to, 1);
  gst_harness_set_src_caps_str(h, in);
  gst_harness_set_sink_caps_str(h, out);
  GstBuffer *b = gst_buffer_new_memdup(x, n * sizeof(gfloat));
  GST_BUFFER_PTS(b) = 0;
  GST_BUFFER_DURATION(b) = gst_util_uint64_scale_int(n, GST_SECOND, from);
  fail_unless_equals_int(gst_harness_push(h, b), GST_FLOW_OK);
  gst_harness_push_event(h, gst_event_new_eos());
  GByteArray *acc = g_byte_array_new();
  GstBuffer *o;
  while ((o = gst_harness_try_pull(h)) != NULL) {
    GstMapInfo m;
    gst_buffer_map(o, &m, GST_MAP_READ);
    g_byte_array_append(acc, m.data, (guint)m.size);
    gst_buffer_unmap(o, &m);
    gst_buffer_unref(o);
  }
  gst_harness_teardown(h);
  g_free(in);
  g_free(out);
  *out_n = acc->len / sizeof(gfloat);
  return (gfloat *)g_byte_array_free(acc, FALSE);
}

guint8 *make_interleaved(const gfloat *x, gsize n, GstAudioFormat fmt, gint channels, gsize *bytes) {
  const GstAudioFormatInfo *fi = gst_audio_format_get_info(fmt);
  gsize w = (gsize)GST_AUDIO_FORMAT_INFO_WIDTH(fi) / 8;
  guint8 *out = g_malloc(n * channels * w);
  for (gsize i = 0; i < n; i++) {
    gdouble v = CLAMP(x[i], -1.0f, 1.0f);
    for (gint c = 0; c < channels; c++) {
      guint8 *d = out + (i * channels + c) * w;
      switch (fmt) {
        case GST_AUDIO_FORMAT_S16LE: {
          gint16 s = (gint16)CLAMP(lrint(v * 32768.0), -32768, 32767);
          memcpy(d, &s, 2);
          break;
        }
        case GST_AUDIO_FORMAT_S32LE: {
          gint32 s = (gint32)CLAMP(llrint(v * 2147483648.0), G_MININT32, G_MAXINT32);
          memcpy(d, &s, 4);
          break;
        }
        case GST_AUDIO_FORMAT_F32LE: {
          gfloat s = (gfloat)v;
          memcpy(d, &s, 4);
          break;
        }
        default: {
          memcpy(d, &v, 8);
          break;
        }
      }
    }
  }
  *bytes = n * channels * w;
  return out;
}

gchar *caps_string(GstAudioFormat fmt, gint rate, gint channels) {
  guint64 mask = channels > 2 ? ((1ULL << channels) - 1) : 0;
  if (channels > 2)
    return g_strdup_printf("audio/x-raw,format=%s,rate=%d,channels=%d,layout=interleaved,channel-mask=(bitmask)0x%"
                           G_GINT64_MODIFIER "x",
                           gst_audio_format_to_string(fmt), rate, channels, mask);
  return g_strdup_printf("audio/x-raw,format=%s,rate=%d,channels=%d,layout=interleaved",
                         gst_audio_format_to_string(fmt), rate, channels);
}

GstHarness *seremotion_harness(GstBus **bus) {
  GstHarness *h = gst_harness_new("seremotion");
  *bus = gst_bus_new();
  gst_element_set_bus(h->element, *bus);
  return h;
}

void push_audio(GstHarness *h, const guint8 *data, gsize bytes, gint bpf, gint rate, gsize chunk_frames,
                GstClockTime ts0, gboolean first_discont) {
  gsize frames = bytes / (gsize)bpf, off = 0;
  while (off < frames) {
    gsize n = MIN(chunk_frames, frames - off);
    GstBuffer *b = gst_buffer_new_memdup(data + off * bpf, n * bpf);
    GST_BUFFER_PTS(b) = ts0 + gst_util_uint64_scale_int(off, GST_SECOND, rate);
    GST_BUFFER_DURATION(b) = ts0 + gst_util_uint64_scale_int(off + n, GST_SECOND, rate) - GST_BUFFER_PTS(b);
    if (off == 0 && first_discont) GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DISCONT);
    fail_unless_equals_int(gst_harness_push(h, b), GST_FLOW_OK);
    off += n;
  }
}

void result_from_structure(const GstStructure *s, Result *out) {
  memset(out, 0, sizeof(*out));
  fail_unless(gst_structure_get_uint64(s, "timestamp", &out->timestamp));
  fail_unless(gst_structure_get_uint64(s, "stream-time", &out->stream_time));
  fail_unless(gst_structure_get_uint64(s, "running-time", &out->running_time));
  fail_unless(gst_structure_get_uint64(s, "duration", &out->duration));
  const gchar *e = gst_structure_get_string(s, "emotion");
  fail_unless(e != NULL);
  g_strlcpy(out->emotion, e, sizeof(out->emotion));
  fail_unless(gst_structure_get_double(s, "confidence", &out->confidence));
  fail_unless(gst_structure_get_boolean(s, "speech", &out->speech));
  if (gst_structure_has_field(s, "speaker-adapted")) {
    out->has_speaker = TRUE;
    fail_unless(gst_structure_get_double(s, "speaker-adapted", &out->speaker_adapted),
                "speaker-adapted is not a double");
  }
  const GValue *v = gst_structure_get_value(s, "scores");
  fail_unless(v != NULL && G_VALUE_HOLDS(v, GST_TYPE_STRUCTURE));
  const GstStructure *sc = gst_value_get_structure(v);
  fail_unless_equals_string(gst_structure_get_name(sc), "scores");
  out->n_scores = MIN((guint)gst_structure_n_fields(sc), MAX_LABELS);
  for (guint i = 0; i < out->n_scores; i++) {
    const gchar *name = gst_structure_nth_field_name(sc, i);
    g_strlcpy(out->labels[i], name, 32);
    fail_unless(gst_structure_get_double(sc, name, &out->scores[i]));
  }
}

GstStructure *collect(GstBus *bus, Results *res) {
  GstMessage *m;
  GstStructure *summary = NULL;
  while ((m = gst_bus_pop(bus)) != NULL) {
    const GstStructure *s = gst_message_get_structure(m);
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ELEMENT && s) {
      if (gst_structure_has_name(s, "seremotion")) {
        if (res->n == res->cap) {
          res->cap = res->cap ? res->cap * 2 : 64;
          res->r = g_renew(Result, res->r, res->cap);
        }
        result_from_structure(s, &res->r[res->n++]);
      } else if (gst_structure_has_name(s, "seremotion-summary")) {
        if (summary) gst_structure_free(summary);
        summary = gst_structure_copy(s);
      }
    }
    gst_message_unref(m);
  }
  return summary;
}

void results_clear(Results *res) {
  g_free(res->r);
  memset(res, 0, sizeof(*res));
}

gchar *train_tiny_model(const gchar *dir, const gchar *norm) {
  static const gchar *clips[] = {"03a01Nc", "03a01Wa", "03a02Nc", "03a02Wb", "03a04Nc", "03a04Wc",
                                 "03a05Nd", "03a02Wc", "09a01Nb", "09a01Wb", "09a02Wb", "09a04Nb",
                                 "09a04Wa", "09a05Nb", "09a05Wb", "09a05Wc"};
  const gchar *ser = g_getenv("SER");
  fail_unless(ser != NULL, "SER (the ser binary) is not set");
  GString *csv = g_string_new("path,speaker,label\n");
  for (guint i = 0; i < G_N_ELEMENTS(clips); i++) {
    gchar *rel = g_strdup_printf("emodb/wav/%s.wav", clips[i]);
    gchar *path = speech_path(rel);
    fail_unless(g_file_test(path, G_FILE_TEST_EXISTS), "missing clip %s", path);
    g_string_append_printf(csv, "%s,%.2s,%s\n", path, clips[i], clips[i][5] == 'W' ? "angry" : "neutral");
    g_free(path);
    g_free(rel);
  }
  gchar *manifest = g_build_filename(dir, "tiny.csv", NULL);
  gchar *name = g_strdup_printf("tiny-%s.sermodel", norm);
  gchar *out = g_build_filename(dir, name, NULL);
  fail_unless(g_file_set_contents(manifest, csv->str, -1, NULL));
  g_string_free(csv, TRUE);
  const gchar *argv[] = {ser, "train", "--labels", "neutral,angry", "--channels", "8,8", "--cbam-from", "1",
                         "--epochs", "2", "--batch", "4", "--val-speakers", "0", "--threads", "1", "--seed", "3",
                         "--norm", norm, "-q", "-o", out, manifest, NULL};
  gchar *err_out = NULL;
  gint status = -1;
  GError *err = NULL;
  gboolean ok = g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err_out,
                             &status, &err);
  fail_unless(ok, "cannot run %s: %s", ser, err ? err->message : "?");
  fail_unless(g_spawn_check_wait_status(status, NULL), "ser train --norm %s failed: %s", norm, err_out);
  fail_unless(g_file_test(out, G_FILE_TEST_EXISTS));
  g_free(err_out);
  g_unlink(manifest);
  g_free(manifest);
  g_free(name);
  return out;
}

gboolean builtin_has_speaker_norm(void) {
  const gchar *ser = g_getenv("SER");
  fail_unless(ser != NULL, "SER (the ser binary) is not set");
  const gchar *argv[] = {ser, "info", "--builtin", NULL};
  gchar *out = NULL;
  gint status = -1;
  fail_unless(g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &status,
                           NULL));
  fail_unless(g_spawn_check_wait_status(status, NULL), "ser info --builtin failed");
  fail_unless(strstr(out, "normalisation") != NULL, "ser info --builtin: %s", out);
  gboolean has = strstr(out, "speaker normalisation: running") != NULL;
  g_free(out);
  return has;
}

guint drain_buffers(GstHarness *h) {
  guint n = 0;
  GstBuffer *b;
  while ((b = gst_harness_try_pull(h)) != NULL) {
    gst_buffer_unref(b);
    n++;
  }
  return n;
}

void seremotion_harness_teardown(GstHarness *h, GstBus *bus) {
  gst_harness_teardown(h);
  gst_bus_set_flushing(bus, TRUE);
  gst_object_unref(bus);
}
