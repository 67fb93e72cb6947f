/* Helpers shared by the element tests: real speech in any format, a
 * seremotion harness with a bus, and the results read back. */
#ifndef SER_TEST_ELEMENT_COMMON_H
#define SER_TEST_ELEMENT_COMMON_H

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/audio/audio.h>

#define MAX_LABELS 16

typedef struct {
  guint64 timestamp, stream_time, running_time, duration;
  gchar emotion[32];
  gdouble confidence;
  gboolean speech;
  guint n_scores;
  gdouble scores[MAX_LABELS];
  gchar labels[MAX_LABELS][32];
  /* "speaker-adapted": only for models with a speaker normaliser */
  gboolean has_speaker;
  gdouble speaker_adapted;
} Result;

typedef struct {
  Result *r;
  guint n;
  guint cap;
} Results;

/* Real speech: a dataset (or bundled) clip decoded to mono F32 at `rate`
 * through GStreamer (decodebin ! audioconvert ! audioresample). */
gfloat *load_speech(const gchar *relpath, gint rate, gsize *n);
/* Path of a clip: $SER_DATASETS/<rel> or $SER_SOURCE_ROOT/<rel>. */
gchar *speech_path(const gchar *rel);
/* Resample mono F32 with audioresample (what a user's pipeline would do). */
gfloat *resample(const gfloat *x, gsize n, gint from, gint to, gsize *out_n);
/* Interleaved bytes of `fmt` with the mono signal copied to every channel. */
guint8 *make_interleaved(const gfloat *x, gsize n, GstAudioFormat fmt, gint channels, gsize *bytes);
gchar *caps_string(GstAudioFormat fmt, gint rate, gint channels);

/* A harness around seremotion with its own bus. */
GstHarness *seremotion_harness(GstBus **bus);
/* Tears down a harness from seremotion_harness() and releases its bus: the
 * teardown's messages hold the element, which holds the bus, so the bus is
 * set flushing first. */
void seremotion_harness_teardown(GstHarness *h, GstBus *bus);
/* Pushes `bytes` as buffers of `chunk_frames` frames, timestamped from ts0. */
void push_audio(GstHarness *h, const guint8 *data, gsize bytes, gint bpf, gint rate, gsize chunk_frames,
                GstClockTime ts0, gboolean first_discont);
/* Appends every seremotion message on the bus to res; returns the
 * seremotion-summary structure if one was posted (caller frees). */
GstStructure *collect(GstBus *bus, Results *res);
void result_from_structure(const GstStructure *s, Result *out);
void results_clear(Results *res);
/* A tiny model trained in a few seconds by `$SER train` on 16 real EMO-DB
 * clips (speakers 03 and 09, neutral/angry) into dir; norm is a --norm value
 * ("running": a model with a speaker normaliser; "global": without).
 * Returns the .sermodel path (g_free). */
gchar *train_tiny_model(const gchar *dir, const gchar *norm);
/* Whether `$SER info --builtin` reports a speaker normaliser. */
gboolean builtin_has_speaker_norm(void);
/* Drains the harness's output buffers (unref) and returns how many. */
guint drain_buffers(GstHarness *h);

#endif
