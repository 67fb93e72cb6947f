/* seremotion element behaviour on real speech (GstHarness, in-process):
 * passthrough, timestamps, resets, gaps, EOS tail and summary, meta, tags,
 * live property changes, bad models. Accuracy is not asserted here (the
 * default model may be a placeholder); behaviour is. */
#include <glib/gstdio.h>
#include <unistd.h>

#include "common.h"

#define CLIP "emodb/wav/08b03Tc.wav" /* 9 s, sadness, speaker 08 */

static gfloat *speech;
static gsize speech_n; /* at 16 kHz */

static guint8 *speech_bytes(GstAudioFormat fmt, gint rate, gint ch, gsize *bytes, gfloat **mono, gsize *mono_n) {
  gsize n;
  gfloat *x = resample(speech, speech_n, 16000, rate, &n);
  guint8 *b = make_interleaved(x, n, fmt, ch, bytes);
  if (mono) {
    *mono = x;
    *mono_n = n;
  } else {
    g_free(x);
  }
  return b;
}

/* ---------------------------------------------------------------------- */

GST_START_TEST(test_passthrough_pointer_equal) {
  for (int attach = 0; attach <= 1; attach++) {
    GstBus *bus;
    GstHarness *h = seremotion_harness(&bus);
    g_object_set(h->element, "attach-meta", attach ? TRUE : FALSE, NULL);
    gst_harness_set_src_caps_str(h, "audio/x-raw,format=S16LE,rate=16000,channels=1,layout=interleaved");
    gsize bytes;
    guint8 *data = speech_bytes(GST_AUDIO_FORMAT_S16LE, 16000, 1, &bytes, NULL, NULL);
    gsize chunk = 320 * 2, off = 0;
    guint n_buf = 0, n_same = 0, n_meta = 0;
    while (off < bytes) {
      gsize len = MIN(chunk, bytes - off);
      GstBuffer *in = gst_buffer_new_memdup(data + off, len);
      GST_BUFFER_PTS(in) = gst_util_uint64_scale_int(off / 2, GST_SECOND, 16000);
      GstMemory *mem = gst_buffer_peek_memory(in, 0);
      /* Keep an extra ref on the input so that it is NOT writable: the
       * element must then copy the buffer (not the audio) to add meta. */
      GstBuffer *keep = attach ? gst_buffer_ref(in) : NULL;
      fail_unless_equals_int(gst_harness_push(h, in), GST_FLOW_OK);
      GstBuffer *out = gst_harness_pull(h);
      GstCustomMeta *meta = gst_buffer_get_custom_meta(out, "SerEmotionMeta");
      if (meta) n_meta++;
      if (out == in) n_same++;
      else
        fail_unless(meta != NULL, "buffer replaced although no meta was attached");
      /* the audio itself is never copied or changed */
      fail_unless(gst_buffer_peek_memory(out, 0) == mem);
      GstMapInfo m;
      gst_buffer_map(out, &m, GST_MAP_READ);
      fail_unless(m.size == len && memcmp(m.data, data + off, len) == 0);
      gst_buffer_unmap(out, &m);
      gst_buffer_unref(out);
      if (keep) gst_buffer_unref(keep);
      off += len;
      n_buf++;
    }
    gst_harness_push_event(h, gst_event_new_eos());
    Results res = {0};
    GstStructure *sum = collect(bus, &res);
    fail_unless(res.n >= 8, "only %u results", res.n);
    if (!attach) {
      fail_unless_equals_int(n_same, n_buf);
      fail_unless_equals_int(n_meta, 0);
    } else {
      /* every full-window result carried by a buffer; the EOS tail has none */
      fail_unless(n_meta >= res.n - 1 && n_meta <= res.n, "%u metas for %u results", n_meta, res.n);
      fail_unless_equals_int(n_same, n_buf - n_meta);
    }
    gst_structure_free(sum);
    results_clear(&res);
    g_free(data);
    seremotion_harness_teardown(h, bus);
  }
}
GST_END_TEST

/* 44.1 kHz stereo (a rate the model does not use), a segment starting at
 * 5 s with base 10 s, odd buffer sizes: timestamps must be exact. Also
 * checks the meta on the buffer holding each window's last sample. */
GST_START_TEST(test_timestamps_exact) {
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  gst_harness_set_src_caps_str(h, "audio/x-raw,format=F32LE,rate=44100,channels=2,layout=interleaved");
  GstSegment seg;
  gst_segment_init(&seg, GST_FORMAT_TIME);
  seg.start = 5 * GST_SECOND;
  seg.time = 5 * GST_SECOND;
  seg.position = seg.start;
  seg.base = 10 * GST_SECOND;
  gst_harness_push_event(h, gst_event_new_segment(&seg));
  gsize bytes;
  guint8 *data = speech_bytes(GST_AUDIO_FORMAT_F32LE, 44100, 2, &bytes, NULL, NULL);
  const gint bpf = 8;
  gsize frames = bytes / bpf, off = 0, chunk = 1103;
  /* (pts, end) of every output buffer and the metas it carries */
  GArray *metas = g_array_new(FALSE, FALSE, sizeof(Result));
  GArray *meta_buf_end = g_array_new(FALSE, FALSE, sizeof(guint64));
  GArray *meta_buf_pts = g_array_new(FALSE, FALSE, sizeof(guint64));
  while (off < frames) {
    gsize n = MIN(chunk, frames - off);
    GstBuffer *b = gst_buffer_new_memdup(data + off * bpf, n * bpf);
    GST_BUFFER_PTS(b) = 5 * GST_SECOND + gst_util_uint64_scale_int(off, GST_SECOND, 44100);
    GST_BUFFER_DURATION(b) = 5 * GST_SECOND + gst_util_uint64_scale_int(off + n, GST_SECOND, 44100) - GST_BUFFER_PTS(b);
    fail_unless_equals_int(gst_harness_push(h, b), GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull(h);
    gpointer state = NULL;
    GstMeta *meta;
    while ((meta = gst_buffer_iterate_meta(out, &state)) != NULL) {
      if (!gst_meta_info_is_custom(meta->info)) continue;
      GstCustomMeta *cm = (GstCustomMeta *)meta;
      if (!gst_custom_meta_has_name(cm, "SerEmotionMeta")) continue;
      Result r;
      result_from_structure(gst_custom_meta_get_structure(cm), &r);
      guint64 pts = GST_BUFFER_PTS(out), end = pts + GST_BUFFER_DURATION(out);
      g_array_append_val(metas, r);
      g_array_append_val(meta_buf_pts, pts);
      g_array_append_val(meta_buf_end, end);
    }
    gst_buffer_unref(out);
    off += n;
  }
  Results res = {0};
  GstStructure *sum = collect(bus, &res); /* before EOS: full windows only */
  fail_unless(sum == NULL);
  fail_unless(res.n >= 10, "only %u results from 9 s", res.n);
  const guint64 interval = 500 * GST_MSECOND;
  for (guint i = 0; i < res.n; i++) {
    const Result *r = &res.r[i];
    fail_unless_equals_uint64(r->timestamp, 5 * GST_SECOND + i * interval);
    fail_unless_equals_uint64(r->stream_time, 5 * GST_SECOND + i * interval);
    fail_unless_equals_uint64(r->running_time, 10 * GST_SECOND + i * interval);
    fail_unless_equals_uint64(r->duration, res.r[0].duration);
    fail_unless(r->timestamp + r->duration <= 5 * GST_SECOND + gst_util_uint64_scale_int(frames, GST_SECOND, 44100));
    /* the meta with the same fields, on the buffer holding the last sample
     * (up to the resampler's delay of a few samples) */
    fail_unless(i < metas->len, "result %u has no meta", i);
    const Result *m = &g_array_index(metas, Result, i);
    fail_unless_equals_uint64(m->timestamp, r->timestamp);
    fail_unless_equals_uint64(m->running_time, r->running_time);
    fail_unless_equals_string(m->emotion, r->emotion);
    fail_unless(m->confidence == r->confidence && m->speech == r->speech);
    for (guint k = 0; k < r->n_scores; k++) fail_unless(m->scores[k] == r->scores[k]);
    guint64 last = r->timestamp + r->duration;
    guint64 bpts = g_array_index(meta_buf_pts, guint64, i), bend = g_array_index(meta_buf_end, guint64, i);
    fail_unless(bpts <= last + 2 * GST_MSECOND && last <= bend + 2 * GST_MSECOND,
                "window ending %" GST_TIME_FORMAT " attached to buffer %" GST_TIME_FORMAT "-%" GST_TIME_FORMAT,
                GST_TIME_ARGS(last), GST_TIME_ARGS(bpts), GST_TIME_ARGS(bend));
  }
  fail_unless_equals_int(metas->len, res.n);
  g_array_free(metas, TRUE);
  g_array_free(meta_buf_pts, TRUE);
  g_array_free(meta_buf_end, TRUE);
  results_clear(&res);
  g_free(data);
  seremotion_harness_teardown(h, bus);
}
GST_END_TEST

/* One 9 s buffer: several results, all attached to that buffer. */
GST_START_TEST(test_one_long_buffer) {
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  gst_harness_set_src_caps_str(h, "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved");
  gsize bytes;
  guint8 *data = speech_bytes(GST_AUDIO_FORMAT_S16LE, 48000, 1, &bytes, NULL, NULL);
  GstBuffer *b = gst_buffer_new_memdup(data, bytes);
  GST_BUFFER_PTS(b) = 0;
  fail_unless_equals_int(gst_harness_push(h, b), GST_FLOW_OK);
  GstBuffer *out = gst_harness_pull(h);
  Results res = {0};
  collect(bus, &res);
  fail_unless(res.n >= 10, "only %u results", res.n);
  guint n_meta = 0;
  gpointer state = NULL;
  GstMeta *meta;
  while ((meta = gst_buffer_iterate_meta(out, &state)) != NULL)
    if (gst_meta_info_is_custom(meta->info) && gst_custom_meta_has_name((GstCustomMeta *)meta, "SerEmotionMeta"))
      n_meta++;
  fail_unless_equals_int(n_meta, res.n);
  for (guint i = 1; i < res.n; i++) fail_unless_equals_uint64(res.r[i].timestamp - res.r[i - 1].timestamp, 500 * GST_MSECOND);
  gst_buffer_unref(out);
  results_clear(&res);
  g_free(data);
  seremotion_harness_teardown(h, bus);
}
GST_END_TEST

/* ------------------------------------------------------------- resets */

typedef enum { RESET_DISCONT, RESET_FLUSH, RESET_SEGMENT, RESET_CAPS } ResetKind;

static void check_reset(ResetKind kind) {
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  /* A model with a speaker normaliser keeps the voice's statistics across
   * these events on purpose (test_speaker.c); at its prior, the analysis
   * after the event must equal a fresh start. */
  g_object_set(h->element, "speaker-norm", FALSE, NULL);
  gst_harness_set_src_caps_str(h, "audio/x-raw,format=S16LE,rate=16000,channels=1,layout=interleaved");
  gsize bytes;
  guint8 *data = speech_bytes(GST_AUDIO_FORMAT_S16LE, 16000, 1, &bytes, NULL, NULL);
  /* 4.25 s, then the event, then the whole clip */
  gsize part = 68000 * 2;
  push_audio(h, data, part, 2, 16000, 320, 0, TRUE);
  GstClockTime t2 = part / 2 * GST_SECOND / 16000; /* where the stream would continue */
  gint rate2 = 16000;
  switch (kind) {
    case RESET_DISCONT:
      t2 = 100 * GST_SECOND;
      break;
    case RESET_FLUSH: {
      gst_harness_push_event(h, gst_event_new_flush_start());
      gst_harness_push_event(h, gst_event_new_flush_stop(TRUE));
      GstSegment seg;
      gst_segment_init(&seg, GST_FORMAT_TIME);
      gst_harness_push_event(h, gst_event_new_segment(&seg));
      t2 = 0;
      break;
    }
    case RESET_SEGMENT: {
      GstSegment seg;
      gst_segment_init(&seg, GST_FORMAT_TIME);
      seg.start = seg.time = 20 * GST_SECOND;
      gst_harness_push_event(h, gst_event_new_segment(&seg));
      t2 = 20 * GST_SECOND;
      break;
    }
    case RESET_CAPS:
      rate2 = 48000;
      gst_harness_set_src_caps_str(h, "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved");
      break;
  }
  Results before = {0}, after = {0};
  collect(bus, &before);
  fail_unless(before.n >= 3);
  if (rate2 == 16000) {
    push_audio(h, data, bytes, 2, 16000, 320, t2, TRUE);
  } else {
    gsize b2;
    guint8 *d2 = speech_bytes(GST_AUDIO_FORMAT_S16LE, 48000, 1, &b2, NULL, NULL);
    push_audio(h, d2, b2, 2, 48000, 960, t2, FALSE);
    g_free(d2);
  }
  collect(bus, &after);
  fail_unless(after.n >= 10, "only %u results after the reset", after.n);
  /* The analysis restarted at the first sample after the event: the first
   * window starts there, none spans the event. */
  fail_unless_equals_uint64(after.r[0].timestamp, t2);
  for (guint i = 0; i < after.n; i++) {
    fail_unless(after.r[i].timestamp >= t2);
    fail_unless_equals_uint64(after.r[i].timestamp, t2 + i * 500 * GST_MSECOND);
  }
  /* and the same audio from a fresh start gives the same results as a
   * fresh element would (first windows compared with the first run) */
  if (kind != RESET_CAPS)
    for (guint i = 0; i < MIN(before.n, 3); i++) {
      fail_unless_equals_string(after.r[i].emotion, before.r[i].emotion);
      fail_unless(fabs(after.r[i].confidence - before.r[i].confidence) < 1e-6);
    }
  results_clear(&before);
  results_clear(&after);
  drain_buffers(h);
  g_free(data);
  seremotion_harness_teardown(h, bus);
}

GST_START_TEST(test_reset_discont) { check_reset(RESET_DISCONT); }
GST_END_TEST
GST_START_TEST(test_reset_flush) { check_reset(RESET_FLUSH); }
GST_END_TEST
GST_START_TEST(test_reset_segment) { check_reset(RESET_SEGMENT); }
GST_END_TEST
GST_START_TEST(test_reset_caps) { check_reset(RESET_CAPS); }
GST_END_TEST

/* A DISCONT buffer that continues exactly where the stream was (e.g. after
 * packet loss concealed by a GAP) does not reset. */
GST_START_TEST(test_discont_continuing_no_reset) {
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  gst_harness_set_src_caps_str(h, "audio/x-raw,format=S16LE,rate=16000,channels=1,layout=interleaved");
  gsize bytes;
  guint8 *data = speech_bytes(GST_AUDIO_FORMAT_S16LE, 16000, 1, &bytes, NULL, NULL);
  push_audio(h, data, 64000 * 2, 2, 16000, 320, 0, TRUE);
  push_audio(h, data + 64000 * 2, bytes - 64000 * 2, 2, 16000, 320, 4 * GST_SECOND, TRUE);
  Results res = {0};
  collect(bus, &res);
  fail_unless(res.n >= 10);
  for (guint i = 0; i < res.n; i++) fail_unless_equals_uint64(res.r[i].timestamp, i * 500 * GST_MSECOND);
  results_clear(&res);
  drain_buffers(h);
  g_free(data);
  seremotion_harness_teardown(h, bus);
}
GST_END_TEST

/* A GAP of days does not stall the streaming thread: the analysis restarts
 * after it, and windows after it carry the post-gap timestamps. */
GST_START_TEST(test_huge_gap_restarts) {
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  gst_harness_set_src_caps_str(h, "audio/x-raw,format=F32LE,rate=16000,channels=1,layout=interleaved");
  gsize bytes;
  guint8 *data = speech_bytes(GST_AUDIO_FORMAT_F32LE, 16000, 1, &bytes, NULL, NULL);
  GstClockTime days = 3 * 24 * 3600 * GST_SECOND;
  push_audio(h, data, 16000 * 1 * 4, 4, 16000, 160, 0, TRUE);
  gint64 t0 = g_get_monotonic_time();
  gst_harness_push_event(h, gst_event_new_gap(GST_SECOND, days));
  fail_unless(g_get_monotonic_time() - t0 < 5 * G_USEC_PER_SEC, "a 3-day GAP took more than 5 s");
  push_audio(h, data, bytes, 4, 16000, 160, GST_SECOND + days, TRUE);
  gst_harness_push_event(h, gst_event_new_eos());
  Results res = {0};
  GstStructure *sum = collect(bus, &res);
  fail_unless(sum != NULL);
  fail_unless(res.n >= 2, "only %u windows after the gap", res.n);
  for (guint i = 0; i < res.n; i++)
    fail_unless(res.r[i].timestamp >= GST_SECOND + days, "window at %" GST_TIME_FORMAT " before the gap's end",
                GST_TIME_ARGS(res.r[i].timestamp));
  fail_unless_equals_uint64(res.r[0].timestamp, GST_SECOND + days);
  gst_structure_free(sum);
  results_clear(&res);
  drain_buffers(h);
  g_free(data);
  seremotion_harness_teardown(h, bus);
}
GST_END_TEST

/* GAP = silence: windows inside the gap have no speech; time runs on. */
GST_START_TEST(test_gap_is_silence) {
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  gst_harness_set_src_caps_str(h, "audio/x-raw,format=F32LE,rate=44100,channels=1,layout=interleaved");
  gsize bytes;
  guint8 *data = speech_bytes(GST_AUDIO_FORMAT_F32LE, 44100, 1, &bytes, NULL, NULL);
  gsize first = 44100 * 3 * 4; /* 3 s of speech */
  push_audio(h, data, first, 4, 44100, 441, 0, TRUE);
  gst_harness_push_event(h, gst_event_new_gap(3 * GST_SECOND, 6 * GST_SECOND));
  push_audio(h, data, bytes, 4, 44100, 441, 9 * GST_SECOND, TRUE);
  gst_harness_push_event(h, gst_event_new_eos());
  Results res = {0};
  GstStructure *sum = collect(bus, &res);
  fail_unless(sum != NULL);
  guint inside = 0, speech_outside = 0;
  for (guint i = 0; i < res.n; i++) {
    const Result *r = &res.r[i];
    /* no reset: one window every interval across the gap */
    if (i > 0) fail_unless_equals_uint64(r->timestamp - res.r[i - 1].timestamp, 500 * GST_MSECOND);
    if (r->timestamp >= 3 * GST_SECOND && r->timestamp + r->duration <= 9 * GST_SECOND) {
      inside++;
      fail_if(r->speech, "window at %" GST_TIME_FORMAT " inside the gap has speech", GST_TIME_ARGS(r->timestamp));
      fail_unless_equals_string(r->emotion, "none");
      fail_unless(r->confidence == 0.0);
    } else if (r->speech) {
      speech_outside++;
    }
  }
  fail_unless(inside >= 4, "only %u windows inside the 6 s gap", inside);
  fail_unless(speech_outside >= 4, "speech around the gap not detected (%u)", speech_outside);
  fail_unless_equals_uint64(res.r[0].timestamp, 0);
  gst_structure_free(sum);
  results_clear(&res);
  drain_buffers(h);
  g_free(data);
  seremotion_harness_teardown(h, bus);
}
GST_END_TEST

/* A stream shorter than a window: classified at EOS, then the summary,
 * then the tags and EOS downstream. Below the minimum: nothing but the
 * summary. */
GST_START_TEST(test_eos_tail_and_summary) {
  const guint64 lens_ms[] = {1500, 400};
  for (guint t = 0; t < 2; t++) {
    GstBus *bus;
    GstHarness *h = seremotion_harness(&bus);
    gst_harness_set_src_caps_str(h, "audio/x-raw,format=S16LE,rate=22050,channels=2,layout=interleaved");
    gsize bytes;
    guint8 *data = speech_bytes(GST_AUDIO_FORMAT_S16LE, 22050, 2, &bytes, NULL, NULL);
    /* skip the first 0.5 s (leading silence) */
    gsize skip = 11025 * 4, len = (gsize)(22050 * lens_ms[t] / 1000) * 4;
    push_audio(h, data + skip, len, 4, 22050, 512, 0, TRUE);
    Results res = {0};
    fail_unless(collect(bus, &res) == NULL);
    fail_unless_equals_int(res.n, 0); /* shorter than a window: nothing yet */
    gst_harness_push_event(h, gst_event_new_eos());
    GstMessage *m;
    gboolean seen_tail = FALSE, seen_summary = FALSE;
    while ((m = gst_bus_pop(bus)) != NULL) {
      const GstStructure *s = gst_message_get_structure(m);
      if (s && gst_structure_has_name(s, "seremotion")) {
        fail_if(seen_summary, "window after the summary");
        Result r;
        result_from_structure(s, &r);
        fail_unless_equals_uint64(r.timestamp, 0);
        fail_unless(r.duration <= lens_ms[t] * GST_MSECOND && r.duration >= lens_ms[t] * GST_MSECOND - 20 * GST_MSECOND,
                    "tail duration %" GST_TIME_FORMAT, GST_TIME_ARGS(r.duration));
        seen_tail = TRUE;
      } else if (s && gst_structure_has_name(s, "seremotion-summary")) {
        guint64 windows = 99;
        fail_unless(gst_structure_get_uint64(s, "windows", &windows));
        fail_unless_equals_uint64(windows, seen_tail ? 1 : 0);
        fail_unless(gst_structure_get_string(s, "emotion") != NULL);
        const GValue *v = gst_structure_get_value(s, "speech-time");
        fail_unless(v && G_VALUE_HOLDS(v, GST_TYPE_STRUCTURE));
        fail_unless(gst_structure_n_fields(gst_value_get_structure(v)) >= 2);
        seen_summary = TRUE;
      }
      gst_message_unref(m);
    }
    fail_unless(seen_summary);
    fail_unless_equals_int(seen_tail, t == 0); /* 1.5 s >= the 1 s minimum; 0.4 s below */
    /* EOS went on, after a tag event when there was speech */
    GstEvent *ev;
    gboolean tag_before_eos = FALSE, eos = FALSE;
    while ((ev = gst_harness_try_pull_event(h)) != NULL) {
      if (GST_EVENT_TYPE(ev) == GST_EVENT_TAG && !eos) {
        GstTagList *l;
        gchar *e = NULL;
        gst_event_parse_tag(ev, &l);
        if (gst_tag_list_get_string(l, "emotion", &e)) tag_before_eos = TRUE;
        g_free(e);
      }
      if (GST_EVENT_TYPE(ev) == GST_EVENT_EOS) eos = TRUE;
      gst_event_unref(ev);
    }
    fail_unless(eos);
    if (t == 0) fail_unless(tag_before_eos);
    results_clear(&res);
    drain_buffers(h);
    g_free(data);
    seremotion_harness_teardown(h, bus);
  }
}
GST_END_TEST

/* Tags downstream: each change of the emotion, upstream tags kept, the
 * whole-stream emotion last before EOS (= the summary's). */
GST_START_TEST(test_tags_downstream) {
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  gst_harness_set_src_caps_str(h, "audio/x-raw,format=S16LE,rate=16000,channels=1,layout=interleaved");
  GstTagList *up = gst_tag_list_new(GST_TAG_TITLE, "a title from upstream", NULL);
  gst_tag_list_add(up, GST_TAG_MERGE_APPEND, GST_TAG_EXTENDED_COMMENT, "LANGUAGE=de", NULL);
  gst_tag_list_add(up, GST_TAG_MERGE_APPEND, GST_TAG_EXTENDED_COMMENT, "EMOTION=old", NULL);
  gst_harness_push_event(h, gst_event_new_tag(up));
  gsize bytes;
  guint8 *data = speech_bytes(GST_AUDIO_FORMAT_S16LE, 16000, 1, &bytes, NULL, NULL);
  push_audio(h, data, bytes, 2, 16000, 320, 0, TRUE);
  push_audio(h, data, bytes, 2, 16000, 320, bytes / 2 * GST_SECOND / 16000, FALSE);
  gst_harness_push_event(h, gst_event_new_eos());
  Results res = {0};
  GstStructure *sum = collect(bus, &res);
  fail_unless(sum != NULL);
  /* expected changes of the emotion among speech windows */
  guint changes = 0;
  const gchar *prev = NULL;
  for (guint i = 0; i < res.n; i++)
    if (res.r[i].speech) {
      if (!prev || strcmp(prev, res.r[i].emotion) != 0) changes++;
      prev = res.r[i].emotion;
    }
  fail_unless(changes >= 1);
  GstEvent *ev;
  guint n_emotion_tags = 0;
  gchar *last = NULL;
  gboolean title_kept = TRUE, eos = FALSE;
  while ((ev = gst_harness_try_pull_event(h)) != NULL) {
    if (GST_EVENT_TYPE(ev) == GST_EVENT_TAG) {
      GstTagList *l;
      gchar *e = NULL, *title = NULL;
      gdouble conf = -1;
      gst_event_parse_tag(ev, &l);
      if (gst_tag_list_get_string(l, "emotion", &e)) {
        fail_unless(gst_tag_list_get_double(l, "emotion-confidence", &conf));
        fail_unless(conf >= 0 && conf <= 1);
        if (!gst_tag_list_get_string(l, GST_TAG_TITLE, &title)) title_kept = FALSE;
        g_free(title);
        /* upstream's other comments kept, its EMOTION= replaced by ours */
        guint nc = gst_tag_list_get_tag_size(l, GST_TAG_EXTENDED_COMMENT), lang = 0, emo = 0;
        for (guint i = 0; i < nc; i++) {
          const gchar *c = NULL;
          fail_unless(gst_tag_list_peek_string_index(l, GST_TAG_EXTENDED_COMMENT, i, &c));
          if (strcmp(c, "LANGUAGE=de") == 0) lang++;
          if (g_str_has_prefix(c, "EMOTION=")) {
            emo++;
            fail_unless_equals_string(c + 8, e);
          }
        }
        fail_unless_equals_int(lang, 1);
        fail_unless_equals_int(emo, 1);
        n_emotion_tags++;
        g_free(last);
        last = e;
      }
    }
    if (GST_EVENT_TYPE(ev) == GST_EVENT_EOS) eos = TRUE;
    gst_event_unref(ev);
  }
  fail_unless(eos);
  fail_unless(title_kept, "upstream title lost in the tag events");
  /* one per change (the last window's change may coincide with the final one) plus the final */
  fail_unless(n_emotion_tags >= changes && n_emotion_tags <= changes + 1, "%u tag events for %u changes",
              n_emotion_tags, changes);
  fail_unless_equals_string(last, gst_structure_get_string(sum, "emotion"));
  g_free(last);
  gst_structure_free(sum);
  results_clear(&res);
  drain_buffers(h);
  g_free(data);
  seremotion_harness_teardown(h, bus);
}
GST_END_TEST

/* Properties changed while PLAYING take effect at the next window. */
GST_START_TEST(test_property_while_playing) {
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  gst_harness_set_src_caps_str(h, "audio/x-raw,format=S16LE,rate=16000,channels=1,layout=interleaved");
  gsize bytes;
  guint8 *data = speech_bytes(GST_AUDIO_FORMAT_S16LE, 16000, 1, &bytes, NULL, NULL);
  gsize third = 64000 * 2; /* 4 s, more than the default 3 s window */
  push_audio(h, data, third, 2, 16000, 320, 0, TRUE);
  Results a = {0}, b = {0}, c = {0};
  collect(bus, &a);
  fail_unless(a.n >= 1);
  g_object_set(h->element, "interval", (guint64)(250 * GST_MSECOND), NULL);
  push_audio(h, data + third, 48000 * 2, 2, 16000, 320, 4 * GST_SECOND, FALSE);
  collect(bus, &b);
  fail_unless(b.n >= 6);
  for (guint i = 1; i < b.n; i++) fail_unless_equals_uint64(b.r[i].timestamp - b.r[i - 1].timestamp, 250 * GST_MSECOND);
  guint speech_b = 0;
  for (guint i = 0; i < b.n; i++) speech_b += b.r[i].speech;
  fail_unless(speech_b > 0);
  /* nothing is loud enough for a 0 dBFS threshold */
  g_object_set(h->element, "speech-threshold", 0.0, "post-messages", TRUE, NULL);
  push_audio(h, data + third + 48000 * 2, bytes - third - 48000 * 2, 2, 16000, 320, 7 * GST_SECOND, FALSE);
  collect(bus, &c);
  fail_unless(c.n >= 3);
  for (guint i = 0; i < c.n; i++) {
    fail_if(c.r[i].speech);
    fail_unless_equals_string(c.r[i].emotion, "none");
  }
  /* post-messages off: no more messages */
  g_object_set(h->element, "post-messages", FALSE, NULL);
  push_audio(h, data, bytes, 2, 16000, 320, 9 * GST_SECOND, FALSE);
  Results d = {0};
  collect(bus, &d);
  fail_unless_equals_int(d.n, 0);
  results_clear(&a);
  results_clear(&b);
  results_clear(&c);
  results_clear(&d);
  drain_buffers(h);
  g_free(data);
  seremotion_harness_teardown(h, bus);
}
GST_END_TEST

/* The window changed while PLAYING: later windows have the new length. */
GST_START_TEST(test_window_while_playing) {
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  gst_harness_set_src_caps_str(h, "audio/x-raw,format=S16LE,rate=16000,channels=1,layout=interleaved");
  gsize bytes;
  guint8 *data = speech_bytes(GST_AUDIO_FORMAT_S16LE, 16000, 1, &bytes, NULL, NULL);
  push_audio(h, data, 64000 * 2, 2, 16000, 320, 0, TRUE);
  Results a = {0}, b = {0};
  collect(bus, &a);
  fail_unless(a.n >= 1);
  guint64 w0 = a.r[0].duration;
  g_object_set(h->element, "window", (guint64)(1500 * GST_MSECOND), NULL);
  push_audio(h, data + 64000 * 2, bytes - 64000 * 2, 2, 16000, 320, 4 * GST_SECOND, FALSE);
  collect(bus, &b);
  fail_unless(b.n >= 4);
  gboolean switched = FALSE;
  for (guint i = 0; i < b.n; i++) {
    if (b.r[i].duration == 1500 * GST_MSECOND) switched = TRUE;
    else
      fail_if(switched || b.r[i].duration != w0, "window %u: duration %" G_GUINT64_FORMAT, i, b.r[i].duration);
  }
  fail_unless(switched);
  fail_unless_equals_uint64(b.r[b.n - 1].duration, 1500 * GST_MSECOND);
  results_clear(&a);
  results_clear(&b);
  drain_buffers(h);
  g_free(data);
  seremotion_harness_teardown(h, bus);
}
GST_END_TEST

/* Warnings on the bus (popped; other messages are dropped). */
static guint pop_warnings(GstBus *bus, Results *res) {
  guint n = 0;
  GstMessage *m;
  while ((m = gst_bus_pop(bus)) != NULL) {
    const GstStructure *s = gst_message_get_structure(m);
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_WARNING) n++;
    else if (res && GST_MESSAGE_TYPE(m) == GST_MESSAGE_ELEMENT && s && gst_structure_has_name(s, "seremotion")) {
      if (res->n == res->cap) {
        res->cap = res->cap ? res->cap * 2 : 64;
        res->r = g_renew(Result, res->r, res->cap);
      }
      result_from_structure(s, &res->r[res->n++]);
    }
    gst_message_unref(m);
  }
  return n;
}

/* A window the model cannot take, set while PLAYING, is refused once (one
 * warning, the property back to the window in effect) and does not block
 * later changes of the other properties. */
GST_START_TEST(test_window_refused_while_playing) {
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  gst_harness_set_src_caps_str(h, "audio/x-raw,format=S16LE,rate=16000,channels=1,layout=interleaved");
  gsize bytes;
  guint8 *data = speech_bytes(GST_AUDIO_FORMAT_S16LE, 16000, 1, &bytes, NULL, NULL);
  gsize part = 48000 * 2; /* 3 s */
  push_audio(h, data, part, 2, 16000, 320, 0, TRUE);
  Results a = {0}, b = {0}, c = {0};
  fail_unless_equals_int(pop_warnings(bus, &a), 0);
  fail_unless(a.n >= 1);
  g_object_set(h->element, "window", (guint64)(10 * GST_MSECOND), NULL);
  push_audio(h, data + part, part, 2, 16000, 320, 3 * GST_SECOND, FALSE);
  fail_unless_equals_int(pop_warnings(bus, &b), 1);
  guint64 w = 1;
  g_object_get(h->element, "window", &w, NULL);
  fail_unless_equals_uint64(w, 0); /* back to the model's window */
  fail_unless(b.n >= 4);
  guint speech_b = 0;
  for (guint i = 0; i < b.n; i++) {
    fail_unless_equals_uint64(b.r[i].duration, a.r[0].duration);
    speech_b += b.r[i].speech;
  }
  fail_unless(speech_b > 0);
  /* later changes apply, without further warnings */
  g_object_set(h->element, "speech-threshold", 0.0, "interval", (guint64)(250 * GST_MSECOND), NULL);
  push_audio(h, data + 2 * part, bytes - 2 * part, 2, 16000, 320, 6 * GST_SECOND, FALSE);
  fail_unless_equals_int(pop_warnings(bus, &c), 0);
  fail_unless(c.n >= 4);
  for (guint i = 0; i < c.n; i++) fail_if(c.r[i].speech, "window %u has speech at a 0 dBFS threshold", i);
  for (guint i = 1; i < c.n; i++) fail_unless_equals_uint64(c.r[i].timestamp - c.r[i - 1].timestamp, 250 * GST_MSECOND);
  results_clear(&a);
  results_clear(&b);
  results_clear(&c);
  drain_buffers(h);
  g_free(data);
  seremotion_harness_teardown(h, bus);
}
GST_END_TEST

/* The summary covers one pass: after EOS, a flushing seek and the same
 * audio again, the second summary counts the second pass only; its speech
 * time is the speech windows times the interval in effect (plus the tail). */
GST_START_TEST(test_summary_per_pass) {
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  gst_harness_set_src_caps_str(h, "audio/x-raw,format=S16LE,rate=16000,channels=1,layout=interleaved");
  gsize bytes;
  guint8 *data = speech_bytes(GST_AUDIO_FORMAT_S16LE, 16000, 1, &bytes, NULL, NULL);
  guint64 windows[2] = {0, 0};
  for (guint pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      gst_harness_push_event(h, gst_event_new_flush_start());
      gst_harness_push_event(h, gst_event_new_flush_stop(TRUE));
      GstSegment seg;
      gst_segment_init(&seg, GST_FORMAT_TIME);
      gst_harness_push_event(h, gst_event_new_segment(&seg));
    }
    push_audio(h, data, bytes, 2, 16000, 320, 0, TRUE);
    gst_harness_push_event(h, gst_event_new_eos());
    Results res = {0};
    GstStructure *sum = collect(bus, &res);
    fail_unless(sum != NULL);
    guint64 speech_windows = 0, speech_ns = 0;
    fail_unless(gst_structure_get_uint64(sum, "windows", &windows[pass]));
    fail_unless(gst_structure_get_uint64(sum, "speech-windows", &speech_windows));
    fail_unless(gst_structure_get_uint64(sum, "speech-duration", &speech_ns));
    fail_unless_equals_uint64(windows[pass], res.n);
    guint64 expect_ns = 0, n_speech = 0;
    for (guint i = 0; i < res.n; i++) {
      if (!res.r[i].speech) continue;
      n_speech++;
      /* the EOS tail (shorter than a window) counts its length */
      expect_ns += res.r[i].duration < res.r[0].duration ? res.r[i].duration : 500 * GST_MSECOND;
    }
    fail_unless_equals_uint64(speech_windows, n_speech);
    fail_unless(n_speech > 0);
    fail_unless_equals_uint64(speech_ns, expect_ns);
    gst_structure_free(sum);
    results_clear(&res);
    drain_buffers(h);
    GstEvent *ev;
    while ((ev = gst_harness_try_pull_event(h)) != NULL) gst_event_unref(ev);
  }
  fail_unless_equals_uint64(windows[1], windows[0]);
  g_free(data);
  seremotion_harness_teardown(h, bus);
}
GST_END_TEST

/* Raw audio in a BYTES segment (filesrc ! capsfilter): results with their
 * timestamps, stream-time and running-time unknown (-1), no criticals (gst-check
 * fails a test on any). */
GST_START_TEST(test_bytes_segment) {
  GstBus *bus;
  GstHarness *h = seremotion_harness(&bus);
  gst_harness_set_src_caps_str(h, "audio/x-raw,format=S16LE,rate=16000,channels=1,layout=interleaved");
  GstSegment seg;
  gst_segment_init(&seg, GST_FORMAT_BYTES);
  gst_harness_push_event(h, gst_event_new_segment(&seg));
  gsize bytes;
  guint8 *data = speech_bytes(GST_AUDIO_FORMAT_S16LE, 16000, 1, &bytes, NULL, NULL);
  for (gsize off = 0; off < bytes; off += 4096) {
    GstBuffer *b = gst_buffer_new_memdup(data + off, MIN(4096, bytes - off)); /* no timestamps */
    fail_unless_equals_int(gst_harness_push(h, b), GST_FLOW_OK);
  }
  Results res = {0};
  collect(bus, &res);
  fail_unless(res.n >= 10);
  for (guint i = 0; i < res.n; i++) {
    fail_unless_equals_uint64(res.r[i].timestamp, i * 500 * GST_MSECOND);
    fail_unless_equals_uint64(res.r[i].stream_time, GST_CLOCK_TIME_NONE);
    fail_unless_equals_uint64(res.r[i].running_time, GST_CLOCK_TIME_NONE);
  }
  results_clear(&res);
  drain_buffers(h);
  g_free(data);
  seremotion_harness_teardown(h, bus);
}
GST_END_TEST

/* A missing or corrupt model fails the change to READY, naming the file. */
static void check_bad_model(const gchar *path) {
  GstElement *e = gst_element_factory_make("seremotion", NULL);
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(e, bus);
  g_object_set(e, "model", path, NULL);
  fail_unless_equals_int(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  fail_unless(m != NULL, "no error message");
  GError *err = NULL;
  gchar *dbg = NULL;
  gst_message_parse_error(m, &err, &dbg);
  fail_unless(strstr(err->message, path) != NULL, "error does not name the file: %s", err->message);
  GST_INFO("error for %s: %s", path, err->message);
  g_error_free(err);
  g_free(dbg);
  gst_message_unref(m);
  gst_element_set_state(e, GST_STATE_NULL);
  gst_element_set_bus(e, NULL);
  gst_object_unref(bus);
  gst_object_unref(e);
}

GST_START_TEST(test_bad_model) {
  check_bad_model("/nonexistent/dir/missing.sermodel");
  gchar *tmp = g_build_filename(g_get_tmp_dir(), "seremotion-corrupt-XXXXXX.sermodel", NULL);
  gint fd = g_mkstemp(tmp);
  fail_unless(fd >= 0);
  /* the start of a real model, truncated, then garbage */
  gchar *real = g_build_filename(g_getenv("SER_SOURCE_ROOT"), "models", "default.sermodel", NULL);
  gchar *contents = NULL;
  gsize len = 0;
  if (g_file_get_contents(real, &contents, &len, NULL) && len > 64) {
    fail_unless(write(fd, contents, 64) == 64);
  }
  fail_unless(write(fd, "garbage garbage garbage", 23) == 23);
  close(fd);
  check_bad_model(tmp);
  g_unlink(tmp);
  g_free(tmp);
  g_free(real);
  g_free(contents);
}
GST_END_TEST

/* labels: read-only, comma separated, the model's order; the same through
 * a model file. */
GST_START_TEST(test_labels_and_model_file) {
  GstElement *e = gst_element_factory_make("seremotion", NULL);
  gchar *labels = NULL;
  g_object_get(e, "labels", &labels, NULL);
  fail_unless(labels != NULL);
  gchar **parts = g_strsplit(labels, ",", -1);
  fail_unless(g_strv_length(parts) >= 2);
  gchar *path = g_build_filename(g_getenv("SER_SOURCE_ROOT"), "models", "default.sermodel", NULL);
  GstElement *f = gst_element_factory_make("seremotion", NULL);
  g_object_set(f, "model", path, NULL);
  fail_unless(gst_element_set_state(f, GST_STATE_READY) == GST_STATE_CHANGE_SUCCESS);
  gchar *labels2 = NULL;
  g_object_get(f, "labels", &labels2, NULL);
  fail_unless_equals_string(labels2, labels);
  GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "labels");
  fail_unless(ps && !(ps->flags & G_PARAM_WRITABLE));
  gst_element_set_state(f, GST_STATE_NULL);
  gst_object_unref(f);
  gst_object_unref(e);
  g_strfreev(parts);
  g_free(labels);
  g_free(labels2);
  g_free(path);
}
GST_END_TEST

static void teardown(void) {
  g_clear_pointer(&speech, g_free);
}

/* In the forked test process: GStreamer threads must not cross a fork. */
static void setup(void) {
  if (!speech) speech = load_speech(CLIP, 16000, &speech_n);
}

static Suite *element_suite(void) {
  Suite *s = suite_create("seremotion");
  TCase *tc = tcase_create("element");
  tcase_set_timeout(tc, 60);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_passthrough_pointer_equal);
  tcase_add_test(tc, test_timestamps_exact);
  tcase_add_test(tc, test_one_long_buffer);
  tcase_add_test(tc, test_reset_discont);
  tcase_add_test(tc, test_reset_flush);
  tcase_add_test(tc, test_reset_segment);
  tcase_add_test(tc, test_reset_caps);
  tcase_add_test(tc, test_discont_continuing_no_reset);
  tcase_add_test(tc, test_gap_is_silence);
  tcase_add_test(tc, test_huge_gap_restarts);
  tcase_add_test(tc, test_eos_tail_and_summary);
  tcase_add_test(tc, test_tags_downstream);
  tcase_add_test(tc, test_property_while_playing);
  tcase_add_test(tc, test_window_while_playing);
  tcase_add_test(tc, test_window_refused_while_playing);
  tcase_add_test(tc, test_summary_per_pass);
  tcase_add_test(tc, test_bytes_segment);
  tcase_add_test(tc, test_bad_model);
  tcase_add_test(tc, test_labels_and_model_file);
  suite_add_tcase(s, tc);
  return s;
}

GST_CHECK_MAIN(element);
