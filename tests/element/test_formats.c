/* The same real speech in every supported sample format, at 8 to 96 kHz,
 * mono, stereo and 6 channels, must give the same analysis.
 *
 * Tolerance (stated, not tuned per case): the element resamples internally
 * with GstAudioConverter, so a different input rate means a different
 * resampler path; integer formats add quantisation. We require the same
 * number of windows with identical timestamps, the same speech decision and
 * the same top label on >= 90 % of the windows, and every score within 0.05
 * on >= 90 % of the windows. The reference for a rate R is the clip
 * resampled to R and back to 16 kHz (so 8 kHz is compared with 8 kHz
 * band-limited speech, not with full-band speech it cannot contain). */
#include "common.h"

#define CLIP "emodb/wav/16a05Tb.wav"

static gfloat *speech16;
static gsize speech16_n;

static void run(const gfloat *x, gsize n, gint rate, GstAudioFormat fmt, gint ch, Results *res) {
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  gchar *caps = caps_string(fmt, rate, ch);
  gst_harness_set_src_caps_str(h, caps);
  gsize bytes;
  guint8 *data = make_interleaved(x, n, fmt, ch, &bytes);
  const GstAudioFormatInfo *fi = gst_audio_format_get_info(fmt);
  gint bpf = GST_AUDIO_FORMAT_INFO_WIDTH(fi) / 8 * ch;
  /* ~10 ms buffers, like a capture source. */
  push_audio(h, data, bytes, bpf, rate, (gsize)rate / 100, 0, TRUE);
  gst_harness_push_event(h, gst_event_new_eos());
  drain_buffers(h);
  GstStructure *summary = collect(bus, res);
  fail_unless(summary != NULL, "no summary for %s", caps);
  gst_structure_free(summary);
  g_free(data);
  g_free(caps);
  seremotion_harness_teardown(h, bus);
}

static void compare(const Results *ref, const Results *got, const gchar *what) {
  fail_unless(ref->n >= 4, "reference has only %u windows", ref->n);
  fail_unless_equals_int(got->n, ref->n);
  guint same_top = 0, close = 0;
  gdouble worst = 0;
  for (guint i = 0; i < ref->n; i++) {
    const Result *a = &ref->r[i], *b = &got->r[i];
    fail_unless_equals_uint64(b->timestamp, a->timestamp);
    if (i + 1 < ref->n) {
      fail_unless_equals_uint64(b->duration, a->duration);
    } else { /* the EOS tail: its length in samples depends on the resampler's rounding */
      fail_unless(b->duration + GST_MSECOND >= a->duration && b->duration <= a->duration + GST_MSECOND);
    }
    fail_unless_equals_int(b->n_scores, a->n_scores);
    if (a->speech == b->speech && strcmp(a->emotion, b->emotion) == 0) same_top++;
    gdouble d = 0;
    for (guint k = 0; k < a->n_scores; k++) d = MAX(d, fabs(a->scores[k] - b->scores[k]));
    if (d <= 0.05) close++;
    worst = MAX(worst, d);
  }
  GST_INFO("%s: %u/%u same label, %u/%u scores within 0.05, worst %.4f", what, same_top, ref->n, close, ref->n, worst);
  fail_unless(same_top * 10 >= ref->n * 9, "%s: same label on only %u of %u windows", what, same_top, ref->n);
  fail_unless(close * 10 >= ref->n * 9, "%s: scores within 0.05 on only %u of %u windows (worst %.3f)", what,
              close, ref->n, worst);
}

static void check_rate(gint rate) {
  static const GstAudioFormat fmts[] = {GST_AUDIO_FORMAT_S16LE, GST_AUDIO_FORMAT_S32LE, GST_AUDIO_FORMAT_F32LE,
                                        GST_AUDIO_FORMAT_F64LE};
  static const gint chans[] = {1, 2, 6};
  gsize n_r, n_back;
  gfloat *x = resample(speech16, speech16_n, 16000, rate, &n_r);
  gfloat *back = resample(x, n_r, rate, 16000, &n_back);
  Results ref = {0};
  /* Reference: 16 kHz F32 mono of the same (band-limited) speech, cut to
   * the same duration. */
  gsize n_ref = MIN(n_back, (gsize)gst_util_uint64_scale_int(n_r, 16000, rate));
  run(back, n_ref, 16000, GST_AUDIO_FORMAT_F32LE, 1, &ref);
  for (guint f = 0; f < G_N_ELEMENTS(fmts); f++)
    for (guint c = 0; c < G_N_ELEMENTS(chans); c++) {
      Results got = {0};
      gchar *what = g_strdup_printf("%s %d Hz %d ch", gst_audio_format_to_string(fmts[f]), rate, chans[c]);
      run(x, n_r, rate, fmts[f], chans[c], &got);
      compare(&ref, &got, what);
      g_free(what);
      results_clear(&got);
    }
  /* There must be speech in it, or the comparison says little. */
  guint speech = 0;
  for (guint i = 0; i < ref.n; i++) speech += ref.r[i].speech;
  fail_unless(speech * 2 >= ref.n, "only %u of %u windows detected as speech", speech, ref.n);
  results_clear(&ref);
  g_free(x);
  g_free(back);
}

GST_START_TEST(test_rate_8000) { check_rate(8000); }
GST_END_TEST

GST_START_TEST(test_rate_16000) { check_rate(16000); }
GST_END_TEST

GST_START_TEST(test_rate_44100) { check_rate(44100); }
GST_END_TEST

GST_START_TEST(test_rate_48000) { check_rate(48000); }
GST_END_TEST

GST_START_TEST(test_rate_96000) { check_rate(96000); }
GST_END_TEST

static void teardown(void) {
  g_clear_pointer(&speech16, g_free);
}

/* In the forked test process: GStreamer threads must not cross a fork. */
static void setup(void) {
  if (!speech16) speech16 = load_speech(CLIP, 16000, &speech16_n);
}

static Suite *formats_suite(void) {
  Suite *s = suite_create("seremotion-formats");
  TCase *tc = tcase_create("formats");
  tcase_set_timeout(tc, 120);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_rate_8000);
  tcase_add_test(tc, test_rate_16000);
  tcase_add_test(tc, test_rate_44100);
  tcase_add_test(tc, test_rate_48000);
  tcase_add_test(tc, test_rate_96000);
  suite_add_tcase(s, tc);
  return s;
}

GST_CHECK_MAIN(formats);
