/* seremotion's speaker normaliser on real speech (GstHarness, in-process),
 * with tiny models trained by `ser train` at set-up: one with a running
 * speaker normaliser (--norm running), one without (--norm global).
 * The "speaker-adapted" field (message and meta) grows with the speech
 * heard; FLUSH, DISCONT, SEGMENT and GAP keep it (same voice); STREAM_START,
 * a caps change and the "reset-speaker" action signal reset it (a new
 * voice); speaker-norm=FALSE keeps the model's prior; speaker-memory bounds
 * it. Models without a normaliser have no such field. */
#include <glib/gstdio.h>
#include <math.h>

#include "common.h"

#define CLIP "emodb/wav/08b03Tc.wav" /* 9 s, sadness, speaker 08 (not in the tiny models' training set) */

static gchar *tmpdir, *model_running, *model_global;
static gfloat *speech;
static gsize speech_n; /* at 16 kHz */

static GstHarness *harness(const gchar *model, GstBus **bus) {
  GstElement *e = gst_element_factory_make("seremotion", NULL);
  fail_unless(e != NULL);
  if (model) g_object_set(e, "model", model, NULL);
  GstHarness *h = gst_harness_new_with_element(e, "sink", "src");
  gst_object_unref(e);
  *bus = gst_bus_new();
  gst_element_set_bus(h->element, *bus);
  return h;
}

static guint8 *s16(gint rate, gsize *bytes) {
  gsize n;
  gfloat *x = resample(speech, speech_n, 16000, rate, &n);
  guint8 *b = make_interleaved(x, n, GST_AUDIO_FORMAT_S16LE, 1, bytes);
  g_free(x);
  return b;
}

#define CAPS16 "audio/x-raw,format=S16LE,rate=16000,channels=1,layout=interleaved"
#define CAPS48 "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved"

/* Pulls every output buffer; checks that each SerEmotionMeta carries the
 * same "speaker-adapted" presence as the messages (want_field) and returns
 * how many metas had it. */
static guint drain_check_meta(GstHarness *h, gboolean want_field) {
  guint with = 0;
  GstBuffer *b;
  while ((b = gst_harness_try_pull(h)) != NULL) {
    gpointer state = NULL;
    GstMeta *meta;
    while ((meta = gst_buffer_iterate_meta(b, &state)) != NULL) {
      if (!gst_meta_info_is_custom(meta->info)) continue;
      GstCustomMeta *cm = (GstCustomMeta *)meta;
      if (!gst_custom_meta_has_name(cm, "SerEmotionMeta")) continue;
      const GstStructure *s = gst_custom_meta_get_structure(cm);
      gdouble v = -1;
      gboolean has = gst_structure_get_double(s, "speaker-adapted", &v);
      fail_unless(has == want_field, "meta: speaker-adapted %s", has ? "present" : "missing");
      if (has) {
        fail_unless(v >= 0 && v < 60, "meta: speaker-adapted %g", v);
        with++;
      }
    }
    gst_buffer_unref(b);
  }
  return with;
}

static void check_present_and_monotone(const Results *res, const gchar *what) {
  for (guint i = 0; i < res->n; i++) {
    fail_unless(res->r[i].has_speaker, "%s: result %u has no speaker-adapted", what, i);
    fail_unless(res->r[i].speaker_adapted >= 0, "%s: speaker-adapted %g", what, res->r[i].speaker_adapted);
    if (i > 0)
      fail_unless(res->r[i].speaker_adapted >= res->r[i - 1].speaker_adapted - 1e-6,
                  "%s: speaker-adapted fell from %g to %g without a reset", what, res->r[i - 1].speaker_adapted,
                  res->r[i].speaker_adapted);
  }
}

static gdouble max_adapted(const Results *res) {
  gdouble m = 0;
  for (guint i = 0; i < res->n; i++) m = MAX(m, res->r[i].speaker_adapted);
  return m;
}

typedef enum { EV_FLUSH, EV_DISCONT, EV_SEGMENT, EV_GAP, EV_STREAM_START, EV_CAPS, EV_SIGNAL } EventKind;

static gpointer emit_reset(gpointer element) {
  g_signal_emit_by_name(element, "reset-speaker");
  return NULL;
}

/* The 9 s clip, an event, the clip again. */
static void check_event(EventKind kind) {
  GstBus *bus;
  GstHarness *h = harness(model_running, &bus);
  gst_harness_set_src_caps_str(h, CAPS16);
  gsize bytes;
  guint8 *data = s16(16000, &bytes);
  push_audio(h, data, bytes, 2, 16000, 320, 0, TRUE);
  Results before = {0}, after = {0};
  collect(bus, &before);
  fail_unless(before.n >= 10, "only %u results from 9 s", before.n);
  check_present_and_monotone(&before, "first pass");
  fail_unless(drain_check_meta(h, TRUE) >= before.n, "fewer metas with speaker-adapted than results");
  gdouble s = max_adapted(&before);
  /* 9 s of speech (pauses below the gate are not counted) */
  fail_unless(s > 4.0 && s < 9.5, "speaker-adapted %g s after a 9 s clip", s);

  GstClockTime t2 = gst_util_uint64_scale_int(bytes / 2, GST_SECOND, 16000); /* continues */
  gboolean resets = FALSE;
  gint rate2 = 16000;
  switch (kind) {
    case EV_FLUSH: {
      gst_harness_push_event(h, gst_event_new_flush_start());
      gst_harness_push_event(h, gst_event_new_flush_stop(TRUE));
      GstSegment seg;
      gst_segment_init(&seg, GST_FORMAT_TIME);
      gst_harness_push_event(h, gst_event_new_segment(&seg));
      t2 = 0;
      break;
    }
    case EV_DISCONT:
      t2 = 100 * GST_SECOND;
      break;
    case EV_SEGMENT: {
      GstSegment seg;
      gst_segment_init(&seg, GST_FORMAT_TIME);
      seg.start = seg.time = 20 * GST_SECOND;
      gst_harness_push_event(h, gst_event_new_segment(&seg));
      t2 = 20 * GST_SECOND;
      break;
    }
    case EV_GAP:
      gst_harness_push_event(h, gst_event_new_gap(t2, 2 * GST_SECOND));
      t2 += 2 * GST_SECOND;
      break;
    case EV_STREAM_START: {
      /* a new stream: stream-start, caps (the same), segment */
      gst_harness_push_event(h, gst_event_new_stream_start("second-stream"));
      gst_harness_push_event(h, gst_event_new_caps(gst_caps_from_string(CAPS16)));
      GstSegment seg;
      gst_segment_init(&seg, GST_FORMAT_TIME);
      gst_harness_push_event(h, gst_event_new_segment(&seg));
      t2 = 0;
      resets = TRUE;
      break;
    }
    case EV_CAPS:
      gst_harness_set_src_caps_str(h, CAPS48);
      rate2 = 48000;
      resets = TRUE;
      break;
    case EV_SIGNAL: {
      /* from another thread, as an application's UI would */
      GThread *t = g_thread_new("reset-speaker", emit_reset, h->element);
      g_thread_join(t);
      resets = TRUE;
      break;
    }
  }
  if (rate2 == 16000) {
    push_audio(h, data, bytes, 2, 16000, 320, t2, kind != EV_GAP);
  } else {
    gsize b2;
    guint8 *d2 = s16(rate2, &b2);
    push_audio(h, d2, b2, 2, rate2, 960, t2, FALSE);
    g_free(d2);
  }
  collect(bus, &after);
  fail_unless(after.n >= 10, "only %u results after the event", after.n);
  /* results of a gap have no buffer to carry their meta (nor has the tail) */
  guint metas = drain_check_meta(h, TRUE);
  fail_unless(metas >= after.n - (kind == EV_GAP ? 6 : 1), "%u metas for %u results", metas, after.n);
  gdouble s2 = max_adapted(&after);
  if (resets) {
    /* back to the prior: it starts again from (about) nothing and ends
     * near where the first pass ended, having heard the clip once */
    fail_unless(after.r[0].speaker_adapted < s - 2.0, "not reset: %g s after the event, %g s before",
                after.r[0].speaker_adapted, s);
    check_present_and_monotone(&after, "after the reset");
    fail_unless(fabs(s2 - s) < 1.0, "after the reset %g s, first pass %g s", s2, s);
  } else {
    /* the same voice: the statistics carry on */
    fail_unless(after.r[0].speaker_adapted >= s - 1e-3, "reset by the event: %g s after, %g s before",
                after.r[0].speaker_adapted, s);
    check_present_and_monotone(&after, "after the event");
    fail_unless(s2 > s + 3.0, "did not keep adapting: %g s after the event, %g s before", s2, s);
  }
  results_clear(&before);
  results_clear(&after);
  g_free(data);
  seremotion_harness_teardown(h, bus);
}

GST_START_TEST(test_kept_by_flush) { check_event(EV_FLUSH); }
GST_END_TEST
GST_START_TEST(test_kept_by_discont) { check_event(EV_DISCONT); }
GST_END_TEST
GST_START_TEST(test_kept_by_segment) { check_event(EV_SEGMENT); }
GST_END_TEST
GST_START_TEST(test_kept_by_gap) { check_event(EV_GAP); }
GST_END_TEST
GST_START_TEST(test_reset_by_stream_start) { check_event(EV_STREAM_START); }
GST_END_TEST
GST_START_TEST(test_reset_by_caps) { check_event(EV_CAPS); }
GST_END_TEST
GST_START_TEST(test_reset_by_signal) { check_event(EV_SIGNAL); }
GST_END_TEST

/* The same audio with speaker-norm TRUE and FALSE: FALSE stays at the prior
 * (speaker-adapted 0) and, once the normaliser has heard enough of the
 * voice, the scores differ. Then FALSE -> TRUE while playing. */
GST_START_TEST(test_speaker_norm_off) {
  Results res[2] = {{0}, {0}};
  gsize bytes;
  guint8 *data = s16(16000, &bytes);
  for (int on = 0; on <= 1; on++) {
    GstBus *bus;
    GstHarness *h = harness(model_running, &bus);
    gboolean v = !on;
    if (!on) g_object_set(h->element, "speaker-norm", FALSE, NULL);
    g_object_get(h->element, "speaker-norm", &v, NULL);
    fail_unless_equals_int(v, on);
    gst_harness_set_src_caps_str(h, CAPS16);
    push_audio(h, data, bytes, 2, 16000, 320, 0, TRUE);
    collect(bus, &res[on]);
    drain_check_meta(h, TRUE);
    if (!on) {
      /* switched on while playing: adapts from the prior on */
      g_object_set(h->element, "speaker-norm", TRUE, NULL);
      Results more = {0};
      push_audio(h, data, bytes, 2, 16000, 320, gst_util_uint64_scale_int(bytes / 2, GST_SECOND, 16000), FALSE);
      collect(bus, &more);
      fail_unless(more.n >= 10);
      check_present_and_monotone(&more, "switched on");
      fail_unless(max_adapted(&more) > 4.0, "switched on while playing: %g s", max_adapted(&more));
      results_clear(&more);
      drain_buffers(h);
    }
    seremotion_harness_teardown(h, bus);
  }
  fail_unless(res[0].n >= 10 && res[0].n == res[1].n, "%u and %u results", res[0].n, res[1].n);
  for (guint i = 0; i < res[0].n; i++) {
    fail_unless(res[0].r[i].has_speaker && res[0].r[i].speaker_adapted == 0.0,
                "speaker-norm=FALSE: speaker-adapted %g at %u", res[0].r[i].speaker_adapted, i);
    fail_unless_equals_uint64(res[0].r[i].timestamp, res[1].r[i].timestamp);
  }
  check_present_and_monotone(&res[1], "speaker-norm=TRUE");
  /* after 4 s of audio the normaliser has moved well away from its prior */
  gdouble maxdiff = 0;
  for (guint i = 0; i < res[0].n; i++) {
    if (res[0].r[i].timestamp < 4 * GST_SECOND) continue;
    for (guint k = 0; k < res[0].r[i].n_scores; k++)
      maxdiff = MAX(maxdiff, fabs(res[0].r[i].scores[k] - res[1].r[i].scores[k]));
  }
  fail_unless(maxdiff > 1e-3, "speaker-norm TRUE and FALSE give the same scores (max difference %g)", maxdiff);
  results_clear(&res[0]);
  results_clear(&res[1]);
  g_free(data);
}
GST_END_TEST

/* speaker-memory bounds what the normaliser counts: set before the stream,
 * and lowered while playing (it forgets down to the new memory). */
GST_START_TEST(test_speaker_memory) {
  gsize bytes;
  guint8 *data = s16(16000, &bytes);
  GstClockTime dur = gst_util_uint64_scale_int(bytes / 2, GST_SECOND, 16000);
  {
    GstBus *bus;
    GstHarness *h = harness(model_running, &bus);
    g_object_set(h->element, "speaker-memory", 2.0, NULL);
    gdouble m = 0;
    g_object_get(h->element, "speaker-memory", &m, NULL);
    fail_unless(m == 2.0);
    gst_harness_set_src_caps_str(h, CAPS16);
    push_audio(h, data, bytes, 2, 16000, 320, 0, TRUE);
    Results res = {0};
    collect(bus, &res);
    fail_unless(res.n >= 10);
    gdouble s = max_adapted(&res);
    fail_unless(s <= 2.0 + 1e-6 && s > 1.5, "memory 2 s: speaker-adapted up to %g s", s);
    results_clear(&res);
    drain_buffers(h);
    seremotion_harness_teardown(h, bus);
  }
  {
    GstBus *bus;
    GstHarness *h = harness(model_running, &bus);
    gst_harness_set_src_caps_str(h, CAPS16);
    push_audio(h, data, bytes, 2, 16000, 320, 0, TRUE);
    Results a = {0}, b = {0};
    collect(bus, &a);
    gdouble s = max_adapted(&a);
    fail_unless(s > 4.0, "%g s", s);
    g_object_set(h->element, "speaker-memory", 1.0, NULL);
    push_audio(h, data, bytes, 2, 16000, 320, dur, FALSE);
    push_audio(h, data, bytes, 2, 16000, 320, 2 * dur, FALSE);
    collect(bus, &b);
    fail_unless(b.n >= 20);
    gdouble last = b.r[b.n - 1].speaker_adapted;
    fail_unless(last < 1.5 && last > 0.5, "memory lowered to 1 s while playing: %g s (was %g)", last, s);
    results_clear(&a);
    results_clear(&b);
    drain_buffers(h);
    seremotion_harness_teardown(h, bus);
  }
  g_free(data);
}
GST_END_TEST

/* Models without a speaker normaliser: no speaker-adapted field (messages
 * and meta), and speaker-norm changes nothing. The built-in model: the
 * field is there exactly when `ser info --builtin` reports a normaliser. */
GST_START_TEST(test_model_without_normaliser) {
  gsize bytes;
  guint8 *data = s16(16000, &bytes);
  Results res[2] = {{0}, {0}};
  for (int on = 0; on <= 1; on++) {
    GstBus *bus;
    GstHarness *h = harness(model_global, &bus);
    g_object_set(h->element, "speaker-norm", on ? TRUE : FALSE, NULL);
    gst_harness_set_src_caps_str(h, CAPS16);
    push_audio(h, data, bytes, 2, 16000, 320, 0, TRUE);
    g_signal_emit_by_name(h->element, "reset-speaker"); /* harmless */
    push_audio(h, data, 16000 * 2, 2, 16000, 320, 9 * GST_SECOND, TRUE);
    collect(bus, &res[on]);
    fail_unless_equals_int(drain_check_meta(h, FALSE), 0);
    seremotion_harness_teardown(h, bus);
  }
  fail_unless(res[0].n >= 10 && res[0].n == res[1].n);
  for (guint i = 0; i < res[0].n; i++) {
    fail_unless(!res[0].r[i].has_speaker && !res[1].r[i].has_speaker, "speaker-adapted without a normaliser");
    for (guint k = 0; k < res[0].r[i].n_scores; k++)
      fail_unless(res[0].r[i].scores[k] == res[1].r[i].scores[k], "speaker-norm changed a model without one");
  }
  results_clear(&res[0]);
  results_clear(&res[1]);

  gboolean builtin_has = builtin_has_speaker_norm();
  GstBus *bus;
  GstHarness *h = harness(NULL, &bus);
  gst_harness_set_src_caps_str(h, CAPS16);
  push_audio(h, data, bytes, 2, 16000, 320, 0, TRUE);
  Results d = {0};
  collect(bus, &d);
  fail_unless(d.n >= 10);
  for (guint i = 0; i < d.n; i++)
    fail_unless(d.r[i].has_speaker == builtin_has, "built-in model (%s a normaliser): speaker-adapted %s",
                builtin_has ? "with" : "without", d.r[i].has_speaker ? "present" : "absent");
  drain_check_meta(h, builtin_has);
  results_clear(&d);
  seremotion_harness_teardown(h, bus);
  g_free(data);
}
GST_END_TEST

/* The EOS summary reports how much of the voice the normaliser had heard at
 * the end (the last result's value, or more after the tail), and only for a
 * model with a normaliser. */
GST_START_TEST(test_summary_speaker) {
  gsize bytes;
  guint8 *data = s16(16000, &bytes);
  const gchar *models[2] = {model_running, model_global};
  for (int k = 0; k < 2; k++) {
    GstBus *bus;
    GstHarness *h = harness(models[k], &bus);
    gst_harness_set_src_caps_str(h, CAPS16);
    push_audio(h, data, bytes, 2, 16000, 320, 0, TRUE);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    Results res = {0};
    GstStructure *sum = collect(bus, &res);
    fail_unless(sum != NULL && res.n >= 10, "no summary or too few results (%u)", res.n);
    gdouble v = -1;
    gboolean has = gst_structure_get_double(sum, "speaker-adapted", &v);
    fail_unless(has == (k == 0), "summary: speaker-adapted %s", has ? "present" : "missing");
    if (has) {
      gdouble last = res.r[res.n - 1].speaker_adapted;
      fail_unless(v >= last - 1e-3 && v < 9.5, "summary speaker-adapted %g, last result %g", v, last);
    }
    gst_structure_free(sum);
    results_clear(&res);
    drain_buffers(h);
    seremotion_harness_teardown(h, bus);
  }
  g_free(data);
}
GST_END_TEST

/* READY -> PAUSED is a new stream: a restarted element starts from the
 * prior again. */
GST_START_TEST(test_restart_resets) {
  gsize bytes;
  guint8 *data = s16(16000, &bytes);
  GstBus *bus;
  GstHarness *h = harness(model_running, &bus);
  gst_harness_set_src_caps_str(h, CAPS16);
  push_audio(h, data, bytes, 2, 16000, 320, 0, TRUE);
  Results a = {0}, b = {0};
  collect(bus, &a);
  drain_buffers(h);
  gst_harness_play(h); /* no-op: already playing */
  fail_unless(gst_element_set_state(h->element, GST_STATE_READY) == GST_STATE_CHANGE_SUCCESS);
  fail_unless(gst_element_set_state(h->element, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  gst_harness_set_src_caps_str(h, CAPS16);
  push_audio(h, data, bytes, 2, 16000, 320, 0, TRUE);
  collect(bus, &b);
  fail_unless(a.n >= 10 && b.n == a.n, "%u then %u results", a.n, b.n);
  /* the same clip from the prior: the same speaker-adapted and scores */
  for (guint i = 0; i < a.n; i++) {
    fail_unless(fabs(a.r[i].speaker_adapted - b.r[i].speaker_adapted) < 1e-9, "result %u: %g then %g", i,
                a.r[i].speaker_adapted, b.r[i].speaker_adapted);
    for (guint k = 0; k < a.r[i].n_scores; k++) fail_unless(fabs(a.r[i].scores[k] - b.r[i].scores[k]) < 1e-6);
  }
  results_clear(&a);
  results_clear(&b);
  drain_buffers(h);
  seremotion_harness_teardown(h, bus);
  g_free(data);
}
GST_END_TEST

/* In the parent process, once: train the models (no GStreamer threads). */
static void setup_models(void) {
  tmpdir = g_dir_make_tmp("seremotion-speaker-XXXXXX", NULL);
  fail_unless(tmpdir != NULL);
  model_running = train_tiny_model(tmpdir, "running");
  model_global = train_tiny_model(tmpdir, "global");
}

static void teardown_models(void) {
  g_unlink(model_running);
  g_unlink(model_global);
  g_rmdir(tmpdir);
  g_clear_pointer(&model_running, g_free);
  g_clear_pointer(&model_global, g_free);
  g_clear_pointer(&tmpdir, g_free);
}

static void setup(void) {
  if (!speech) speech = load_speech(CLIP, 16000, &speech_n);
}

static void teardown(void) { g_clear_pointer(&speech, g_free); }

static Suite *speaker_suite(void) {
  Suite *s = suite_create("seremotion-speaker");
  TCase *tc = tcase_create("speaker");
  tcase_set_timeout(tc, 60);
  tcase_add_unchecked_fixture(tc, setup_models, teardown_models);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_kept_by_flush);
  tcase_add_test(tc, test_kept_by_discont);
  tcase_add_test(tc, test_kept_by_segment);
  tcase_add_test(tc, test_kept_by_gap);
  tcase_add_test(tc, test_reset_by_stream_start);
  tcase_add_test(tc, test_reset_by_caps);
  tcase_add_test(tc, test_reset_by_signal);
  tcase_add_test(tc, test_speaker_norm_off);
  tcase_add_test(tc, test_speaker_memory);
  tcase_add_test(tc, test_model_without_normaliser);
  tcase_add_test(tc, test_restart_resets);
  tcase_add_test(tc, test_summary_speaker);
  suite_add_tcase(s, tc);
  return s;
}

GST_CHECK_MAIN(speaker);
