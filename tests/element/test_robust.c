/* seremotion on hostile input: NaN/Inf samples in F32 streams (on the
 * passthrough path and through the converter), and a flushing seek while a
 * real pipeline is PLAYING. Results must keep coming, finite and with
 * correct timestamps. */
#include <math.h>

#include "common.h"

#define CLIP "emodb/wav/08b03Tc.wav" /* 9 s, sadness, speaker 08 */

static void check_finite(const Results *res) {
  for (guint i = 0; i < res->n; i++) {
    const Result *r = &res->r[i];
    gdouble sum = 0;
    fail_unless(r->n_scores >= 2);
    for (guint k = 0; k < r->n_scores; k++) {
      fail_unless(isfinite(r->scores[k]) && r->scores[k] >= 0, "window %u: score %u is %g", i, k, r->scores[k]);
      sum += r->scores[k];
    }
    fail_unless(fabs(sum - 1) < 1e-3, "window %u: scores sum to %g", i, sum);
    fail_unless(isfinite(r->confidence));
    if (!r->speech) fail_unless(r->confidence == 0 && !strcmp(r->emotion, "none"));
  }
}

/* Real speech with NaN, +Inf and -Inf sprinkled in, then 3 s of nothing but
 * NaN: mono 16 kHz F32 (analysed without conversion) and stereo 48 kHz F32
 * (through GstAudioConverter's resampler, which spreads a NaN over its
 * filter length). */
static void check_nan(gint rate, gint ch) {
  gsize n;
  gfloat *x = load_speech(CLIP, rate, &n);
  fail_unless(x != NULL && n > (gsize)rate * 6);
  n = (gsize)rate * 6; /* 6 s of speech */
  gsize total = n + (gsize)rate * 3;
  x = g_renew(gfloat, x, total);
  for (gsize i = 0; i < n; i += 997) x[i] = NAN;
  for (gsize i = 500; i < n; i += 4001) x[i] = INFINITY;
  for (gsize i = 900; i < n; i += 5003) x[i] = -INFINITY;
  for (gsize i = n; i < total; i++) x[i] = NAN;
  gsize bytes;
  guint8 *data = make_interleaved(x, total, GST_AUDIO_FORMAT_F32LE, ch, &bytes);
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  gchar *caps = caps_string(GST_AUDIO_FORMAT_F32LE, rate, ch);
  gst_harness_set_src_caps_str(h, caps);
  g_free(caps);
  push_audio(h, data, bytes, 4 * ch, rate, (gsize)rate / 50, 0, TRUE);
  fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
  Results res = {0};
  GstStructure *summary = collect(bus, &res);
  fail_unless(res.n >= 12, "%u results for 9 s", res.n);
  check_finite(&res);
  guint speech = 0;
  for (guint i = 0; i < res.n; i++) {
    fail_unless_equals_uint64(res.r[i].timestamp, i * 500 * GST_MSECOND);
    speech += res.r[i].speech;
    /* windows made only of NaN (replaced by zeros) are silence */
    if (res.r[i].timestamp >= 6 * GST_SECOND + 100 * GST_MSECOND) fail_if(res.r[i].speech, "NaN window %u is speech", i);
  }
  fail_unless(speech >= 4, "only %u speech windows in 6 s of speech with a few NaN", speech);
  fail_unless(summary != NULL);
  gdouble conf;
  fail_unless(gst_structure_get_double(summary, "confidence", &conf) && isfinite(conf));
  gst_structure_free(summary);
  results_clear(&res);
  drain_buffers(h);
  g_free(data);
  g_free(x);
  seremotion_harness_teardown(h, bus);
}

GST_START_TEST(test_nan_f32_mono_16k) { check_nan(16000, 1); }
GST_END_TEST
GST_START_TEST(test_nan_f32_stereo_48k) { check_nan(48000, 2); }
GST_END_TEST

/* A flushing seek while PLAYING (real time): the windows after the seek
 * start at the seek position, every interval, with stream-time = timestamp
 * and running-time restarting; the stream then ends with a summary. */
GST_START_TEST(test_flush_seek_while_playing) {
  gchar *path = speech_path(CLIP);
  gchar *desc = g_strdup_printf("filesrc location=\"%s\" ! wavparse ! seremotion name=ser ! fakesink sync=true", path);
  GError *e = NULL;
  GstElement *p = gst_parse_launch(desc, &e);
  fail_unless(p != NULL && e == NULL, "%s", e ? e->message : "");
  GstBus *bus = gst_element_get_bus(p);
  fail_unless(gst_element_set_state(p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  const GstClockTime target = 6 * GST_SECOND;
  Results before = {0}, after = {0};
  gboolean seeked = FALSE, summary = FALSE, eos = FALSE;
  while (!eos) {
    GstMessage *m = gst_bus_timed_pop(bus, 30 * GST_SECOND);
    fail_unless(m != NULL, "no message for 30 s (hang?)");
    const GstStructure *s = gst_message_get_structure(m);
    switch (GST_MESSAGE_TYPE(m)) {
      case GST_MESSAGE_ERROR: {
        GError *err = NULL;
        gst_message_parse_error(m, &err, NULL);
        fail("error: %s", err->message);
        break;
      }
      case GST_MESSAGE_EOS:
        eos = TRUE;
        break;
      case GST_MESSAGE_ELEMENT:
        if (gst_structure_has_name(s, "seremotion-summary")) {
          summary = TRUE;
        } else if (gst_structure_has_name(s, "seremotion")) {
          Results *res = seeked ? &after : &before;
          if (res->n == res->cap) {
            res->cap = res->cap ? 2 * res->cap : 32;
            res->r = g_renew(Result, res->r, res->cap);
          }
          result_from_structure(s, &res->r[res->n++]);
          if (!seeked) {
            /* first result (about 2 s into the clip): seek ahead while PLAYING */
            fail_unless(gst_element_seek_simple(p, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE,
                                                target));
            seeked = TRUE;
          }
        }
        break;
      default:
        break;
    }
    gst_message_unref(m);
  }
  fail_unless(seeked && summary);
  fail_unless(before.n >= 1 && before.r[0].timestamp == 0);
  /* 9 s clip, 6 s target: windows at 6.0, 6.5, ... plus the tail */
  fail_unless(after.n >= 2, "%u results after the seek", after.n);
  check_finite(&after);
  for (guint i = 0; i < after.n; i++) {
    const Result *r = &after.r[i];
    GstClockTimeDiff d = GST_CLOCK_DIFF(target + i * 500 * GST_MSECOND, r->timestamp);
    fail_unless(ABS(d) <= GST_MSECOND, "window %u after the seek at %" GST_TIME_FORMAT, i, GST_TIME_ARGS(r->timestamp));
    fail_unless_equals_uint64(r->stream_time, r->timestamp);
    fail_unless(r->running_time <= (guint64)i * 500 * GST_MSECOND + GST_MSECOND,
                "running-time %" GST_TIME_FORMAT " of window %u did not restart", GST_TIME_ARGS(r->running_time), i);
  }
  results_clear(&before);
  results_clear(&after);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(p);
  g_free(desc);
  g_free(path);
}
GST_END_TEST

static Suite *robust_suite(void) {
  Suite *s = suite_create("seremotion-robust");
  TCase *tc = tcase_create("robust");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_nan_f32_mono_16k);
  tcase_add_test(tc, test_nan_f32_stereo_48k);
  tcase_add_test(tc, test_flush_seek_while_playing);
  suite_add_tcase(s, tc);
  return s;
}

GST_CHECK_MAIN(robust);
