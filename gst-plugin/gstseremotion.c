/* seremotion element: a thin adapter from GStreamer audio to ser-core's
 * streaming analyzer (SPEC section 5; user documentation in docs/element.md).
 *
 * Data flow (one way): input buffer -> GstAudioConverter (mono float at the
 * model's rate) -> ser_analyzer -> results -> bus message, buffer meta, tags.
 * The audio itself is passed through untouched: the output buffer is the
 * input buffer, made writable only when a meta has to be attached. */
#include "gstseremotion.h"

#include <math.h>
#include <string.h>

#include "modelcache.h"
#include "ser.h"

GST_DEBUG_CATEGORY_STATIC(seremotion_debug);
#define GST_CAT_DEFAULT seremotion_debug

#define DEFAULT_INTERVAL (500 * GST_MSECOND)
#define DEFAULT_SPEECH_THRESHOLD SER_SPEECH_THRESHOLD_DEFAULT
#define MAX_TIME (3600 * GST_SECOND)
/* A DISCONT buffer whose timestamp is within this of where the stream was
 * expected to continue (e.g. after a GAP filled the hole) does not reset. */
#define DISCONT_TOLERANCE (40 * GST_MSECOND)
/* Input frames converted per GstAudioConverter call. */
#define CHUNK_FRAMES 4096

enum {
  PROP_0,
  PROP_MODEL,
  PROP_WINDOW,
  PROP_INTERVAL,
  PROP_POST_MESSAGES,
  PROP_ATTACH_META,
  PROP_EMIT_TAGS,
  PROP_SMOOTHING,
  PROP_SPEECH_THRESHOLD,
  PROP_SPEAKER_NORM,
  PROP_SPEAKER_MEMORY,
  PROP_LABELS,
};

enum {
  SIGNAL_RESET_SPEAKER,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

#define DEFAULT_SPEAKER_NORM TRUE
#define DEFAULT_SPEAKER_MEMORY 0.0
#define MAX_SPEAKER_MEMORY 1e6

struct _GstSerEmotion {
  GstBaseTransform parent;

  /* Properties: protected by the object lock. */
  gchar *model_path;
  guint64 window_ns;
  guint64 interval_ns;
  gboolean post_messages;
  gboolean attach_meta;
  gboolean emit_tags;
  gdouble smoothing;
  gdouble speech_threshold;
  gboolean speaker_norm;
  gdouble speaker_memory; /* seconds of speech; 0 = the model's */
  gboolean config_dirty;
  gboolean speaker_reset_due;
  guint64 applied_window_ns; /* the window property last applied (a refused one is put back) */ /* "reset-speaker" emitted: applied by the streaming thread */

  /* Loaded at NULL->READY (shared through the model cache). */
  ser_model *model;
  guint model_rate;
  guint n_labels;

  /* Streaming state: touched by the streaming thread only (and by state
   * changes, when no data flows). */
  ser_analyzer *analyzer;
  GstAudioInfo in_info;
  gboolean have_info;
  GstAudioConverter *conv;
  gboolean conv_passthrough;
  float *conv_out;
  gsize conv_out_cap; /* frames */
  guint8 *zero_in;    /* CHUNK_FRAMES frames of input-format silence */

  GstClockTime base_ts;  /* time of sample 0 since the last reset */
  guint64 in_samples;    /* input-rate frames since the last reset (incl. gaps) */
  guint64 model_pushed;  /* model-rate samples given to the analyzer since reset */
  guint64 interval_applied_ns; /* the analyzer's interval, for the summary's speech time */

  /* Per-buffer snapshot of the properties. */
  gboolean cur_post, cur_meta, cur_tags;
  GPtrArray *pending; /* GstStructure*: results of the current buffer, for meta */

  /* Tags. */
  gint tag_label;     /* label last sent in a tag event, -1 none */
  gint cur_label;     /* top label of the latest speech window, -1 none */
  gdouble cur_conf;
  gboolean tag_due;
  GstTagList *upstream_tags;

  /* Whole-stream summary. */
  guint64 n_windows;
  guint64 n_speech;
  guint64 *label_time; /* ns of speech per label */
  guint64 *label_windows;
  gdouble *label_score_sum;
};

G_DEFINE_TYPE(GstSerEmotion, gst_seremotion, GST_TYPE_BASE_TRANSFORM)

#define CAPS_STR                                                             \
  "audio/x-raw, format = (string) { S16LE, S32LE, F32LE, F64LE }, "          \
  "layout = (string) interleaved, rate = (int) [ 8000, 192000 ], "           \
  "channels = (int) [ 1, 8 ]"

static GstStaticPadTemplate sink_tmpl =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS_STR));
static GstStaticPadTemplate src_tmpl =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS_STR));

/* ---------------------------------------------------------------- tags, meta */

void gst_seremotion_register_tags_and_meta(void) {
  static gsize done = 0;
  if (g_once_init_enter(&done)) {
    gst_tag_register(SEREMOTION_TAG_EMOTION, GST_TAG_FLAG_META, G_TYPE_STRING, "emotion",
                     "emotion recognised in the speech (seremotion)", gst_tag_merge_use_first);
    gst_tag_register(SEREMOTION_TAG_CONFIDENCE, GST_TAG_FLAG_META, G_TYPE_DOUBLE,
                     "emotion confidence", "confidence of the emotion tag, 0..1 (seremotion)",
                     gst_tag_merge_use_first);
    static const gchar *no_tags[] = {NULL};
    gst_meta_register_custom(SEREMOTION_META_NAME, no_tags, NULL, NULL, NULL);
    g_once_init_leave(&done, 1);
  }
}

/* ------------------------------------------------------------ configuration */

/* The analysis settings from the properties; *window_ns: the window
 * property they were built from. */
static void build_config(GstSerEmotion *self, ser_analyzer_config *c, guint64 *window_ns) {
  ser_analyzer_config_default(c, self->model);
  GST_OBJECT_LOCK(self);
  *window_ns = self->window_ns;
  if (self->window_ns)
    c->window = gst_util_uint64_scale_round(self->window_ns, self->model_rate, GST_SECOND);
  c->interval = gst_util_uint64_scale_round(self->interval_ns, self->model_rate, GST_SECOND);
  if (c->interval == 0) c->interval = 1;
  c->smoothing = self->smoothing;
  c->speech_threshold = self->speech_threshold;
  c->speaker_norm = self->speaker_norm ? 1 : 0;
  c->speaker_memory = self->speaker_memory;
  self->config_dirty = FALSE;
  GST_OBJECT_UNLOCK(self);
}

static GParamSpec *window_pspec;

/* After a successful ser_analyzer_set_config: remember what is in effect,
 * the window property it came from and the interval in ns (the summary's
 * speech time counts windows by the interval really used). */
static void note_applied(GstSerEmotion *self, guint64 window_ns) {
  ser_analyzer_config now;
  ser_analyzer_get_config(self->analyzer, &now);
  self->interval_applied_ns = gst_util_uint64_scale_int(now.interval, GST_SECOND, self->model_rate);
  GST_OBJECT_LOCK(self);
  self->applied_window_ns = window_ns;
  GST_OBJECT_UNLOCK(self);
}

/* Applies the properties to the analyzer. Only the window can be refused (it
 * depends on the model; the other properties' ranges are those the analyzer
 * accepts): then the window property goes back to the last one applied, the
 * other changes are applied all the same, and a warning says what was
 * refused. Streaming thread only. */
static void apply_config(GstSerEmotion *self) {
  ser_analyzer_config c;
  ser_error err = {{0}};
  guint64 w;
  build_config(self, &c, &w);
  if (ser_analyzer_set_config(self->analyzer, &c, &err) == 0) {
    note_applied(self, w);
    return;
  }
  gboolean restored = FALSE;
  guint64 refused = w, back;
  GST_OBJECT_LOCK(self);
  back = self->applied_window_ns;
  if (self->window_ns == refused && refused != back) { /* unless set again meanwhile */
    self->window_ns = back;
    restored = TRUE;
  }
  GST_OBJECT_UNLOCK(self);
  GST_ELEMENT_WARNING(self, LIBRARY, SETTINGS, ("Invalid analysis settings: %s", err.msg),
                      ("window %" G_GUINT64_FORMAT " ns refused; the window property is back to %" G_GUINT64_FORMAT
                       " ns (0 = the model's), the other settings are applied",
                       refused, back));
  if (restored) g_object_notify_by_pspec(G_OBJECT(self), window_pspec);
  ser_error err2 = {{0}};
  build_config(self, &c, &w);
  if (ser_analyzer_set_config(self->analyzer, &c, &err2) == 0)
    note_applied(self, w);
  else /* not expected: the analyzer keeps all its previous settings */
    GST_ELEMENT_WARNING(self, LIBRARY, SETTINGS, ("Invalid analysis settings: %s", err2.msg),
                        ("keeping all previous settings"));
}

/* Called by the streaming thread at the start of each buffer/event. */
static void sync_properties(GstSerEmotion *self) {
  GST_OBJECT_LOCK(self);
  gboolean dirty = self->config_dirty;
  gboolean spk_reset = self->speaker_reset_due;
  self->speaker_reset_due = FALSE;
  self->cur_post = self->post_messages;
  self->cur_meta = self->attach_meta;
  self->cur_tags = self->emit_tags;
  GST_OBJECT_UNLOCK(self);
  if (spk_reset && self->analyzer) {
    GST_DEBUG_OBJECT(self, "reset-speaker: the speaker normaliser returns to the model's prior");
    ser_analyzer_reset_speaker(self->analyzer);
  }
  if (dirty && self->analyzer) apply_config(self);
}

/* ----------------------------------------------------------------- results */

static void reset_analysis(GstSerEmotion *self) {
  if (self->analyzer) ser_analyzer_reset(self->analyzer);
  if (self->conv) gst_audio_converter_reset(self->conv);
  self->base_ts = GST_CLOCK_TIME_NONE;
  self->in_samples = 0;
  self->model_pushed = 0;
  GST_DEBUG_OBJECT(self, "analysis reset");
}

/* A new voice: the speaker normaliser back to the model's prior (new
 * stream, new caps). The streaming thread's (or a state change's) only. */
static void reset_speaker(GstSerEmotion *self) {
  if (self->analyzer) ser_analyzer_reset_speaker(self->analyzer);
  GST_DEBUG_OBJECT(self, "speaker normaliser reset");
}

/* The summary's totals and the emotion tags start again: after the summary
 * at EOS and on FLUSH_STOP (a seek: the summary covers what was analysed
 * since). Streams joined without EOS (concat) share one summary. */
static void reset_summary(GstSerEmotion *self) {
  self->n_windows = self->n_speech = 0;
  if (self->label_time) {
    memset(self->label_time, 0, self->n_labels * sizeof *self->label_time);
    memset(self->label_windows, 0, self->n_labels * sizeof *self->label_windows);
    memset(self->label_score_sum, 0, self->n_labels * sizeof *self->label_score_sum);
  }
  self->tag_label = self->cur_label = -1;
  self->cur_conf = 0.0;
  self->tag_due = FALSE;
}

static GstStructure *result_structure(GstSerEmotion *self, const ser_result *r) {
  GstBaseTransform *bt = GST_BASE_TRANSFORM(self);
  GstClockTime base = GST_CLOCK_TIME_IS_VALID(self->base_ts) ? self->base_ts : 0;
  GstClockTime ts = base + gst_util_uint64_scale_int(r->start, GST_SECOND, self->model_rate);
  GstClockTime dur = gst_util_uint64_scale_int(r->length, GST_SECOND, self->model_rate);
  GstClockTime st = GST_CLOCK_TIME_NONE, rt = GST_CLOCK_TIME_NONE; /* unknown without a TIME segment */
  if (bt->segment.format == GST_FORMAT_TIME) {
    st = gst_segment_to_stream_time(&bt->segment, GST_FORMAT_TIME, ts);
    rt = gst_segment_to_running_time(&bt->segment, GST_FORMAT_TIME, ts);
  }
  const char *emotion = "none";
  double conf = 0.0;
  if (r->speech && r->top >= 0 && (guint)r->top < self->n_labels) {
    emotion = ser_model_label(self->model, (uint32_t)r->top);
    conf = r->confidence;
  }
  GstStructure *scores = gst_structure_new_empty("scores");
  for (guint i = 0; i < self->n_labels; i++)
    gst_structure_set(scores, ser_model_label(self->model, i), G_TYPE_DOUBLE,
                      r->scores ? (double)r->scores[i] : 0.0, NULL);
  GstStructure *s = gst_structure_new("seremotion", "timestamp", G_TYPE_UINT64, ts,
                                      "stream-time", G_TYPE_UINT64, st, "running-time",
                                      G_TYPE_UINT64, rt, "duration", G_TYPE_UINT64, dur,
                                      "emotion", G_TYPE_STRING, emotion, "confidence",
                                      G_TYPE_DOUBLE, conf, "speech", G_TYPE_BOOLEAN,
                                      r->speech ? TRUE : FALSE, "scores", GST_TYPE_STRUCTURE,
                                      scores, NULL);
  gst_structure_free(scores);
  /* only models with a speaker normaliser have it (speaker_s -1 otherwise) */
  if (r->speaker_s >= 0) gst_structure_set(s, "speaker-adapted", G_TYPE_DOUBLE, (double)r->speaker_s, NULL);
  return s;
}

static void on_result(void *user, const ser_result *r) {
  GstSerEmotion *self = user;
  GST_LOG_OBJECT(self, "result: start %" G_GUINT64_FORMAT " length %" G_GUINT64_FORMAT " tail %d", (guint64)r->start,
                 (guint64)r->length, r->is_tail);
  GstStructure *s = result_structure(self, r);

  /* Summary and tags. */
  self->n_windows++;
  if (r->speech && r->top >= 0 && (guint)r->top < self->n_labels) {
    guint64 len = gst_util_uint64_scale_int(r->length, GST_SECOND, self->model_rate);
    self->n_speech++;
    self->label_time[r->top] += r->is_tail ? len : MIN(self->interval_applied_ns, len);
    self->label_windows[r->top]++;
    if (r->scores) self->label_score_sum[r->top] += r->scores[r->top];
    self->cur_label = r->top;
    self->cur_conf = r->confidence;
    if (self->cur_label != self->tag_label) self->tag_due = TRUE;
  }

  if (self->cur_post)
    gst_element_post_message(GST_ELEMENT(self),
                             gst_message_new_element(GST_OBJECT(self), gst_structure_copy(s)));
  if (self->cur_meta && self->pending)
    g_ptr_array_add(self->pending, s);
  else
    gst_structure_free(s);
}

static GstTagList *make_tags(GstSerEmotion *self, gint label, gdouble conf) {
  GstTagList *l = self->upstream_tags ? gst_tag_list_copy(self->upstream_tags) : gst_tag_list_new_empty();
  const char *name = ser_model_label(self->model, (uint32_t)label);
  gchar *comment = g_strdup_printf("EMOTION=%s", name);
  gst_tag_list_add(l, GST_TAG_MERGE_REPLACE, SEREMOTION_TAG_EMOTION, name,
                   SEREMOTION_TAG_CONFIDENCE, conf, NULL);
  /* Also as a Vorbis-style comment so that the tag survives in Vorbis, Opus
   * and FLAC files (see docs/element.md). */
  /* Upstream's other comments (LANGUAGE=..., ...) are kept; an EMOTION= of
   * theirs (an earlier pass's) is replaced by ours. */
  guint n = gst_tag_list_get_tag_size(l, GST_TAG_EXTENDED_COMMENT);
  gchar **keep = g_new0(gchar *, n + 1);
  guint k = 0;
  for (guint i = 0; i < n; i++) {
    const gchar *c = NULL;
    if (gst_tag_list_peek_string_index(l, GST_TAG_EXTENDED_COMMENT, i, &c) && c &&
        g_ascii_strncasecmp(c, "EMOTION=", 8) != 0)
      keep[k++] = g_strdup(c);
  }
  gst_tag_list_remove_tag(l, GST_TAG_EXTENDED_COMMENT);
  for (guint i = 0; i < k; i++) gst_tag_list_add(l, GST_TAG_MERGE_APPEND, GST_TAG_EXTENDED_COMMENT, keep[i], NULL);
  gst_tag_list_add(l, GST_TAG_MERGE_APPEND, GST_TAG_EXTENDED_COMMENT, comment, NULL);
  g_strfreev(keep);
  g_free(comment);
  return l;
}

static void push_tags(GstSerEmotion *self, gint label, gdouble conf) {
  GstTagList *l = make_tags(self, label, conf);
  GST_DEBUG_OBJECT(self, "tags %" GST_PTR_FORMAT, l);
  gst_pad_push_event(GST_BASE_TRANSFORM_SRC_PAD(self), gst_event_new_tag(l));
  self->tag_label = label;
}

/* ---------------------------------------------------------------- analysis */

/* Converts `frames` interleaved input frames and feeds the analyzer. `limit`
 * caps how many model-rate samples may still be pushed (for the drain). */
static void analyze_frames(GstSerEmotion *self, const guint8 *data, gsize frames, guint64 limit) {
  const gsize bpf = GST_AUDIO_INFO_BPF(&self->in_info);
  if (self->conv_passthrough && ((guintptr)data & 3) == 0) {
    gsize n = MIN(frames, limit);
    ser_analyzer_push(self->analyzer, (const float *)data, n, on_result, self);
    self->model_pushed += n;
    return;
  }
  while (frames > 0) {
    gsize n = MIN(frames, CHUNK_FRAMES);
    gsize out_n = gst_audio_converter_get_out_frames(self->conv, n);
    if (out_n > self->conv_out_cap) { /* cannot happen with the capacity set up in set_caps */
      n = n / 2;
      if (n == 0) break;
      continue;
    }
    gpointer in[1] = {(gpointer)data};
    gpointer out[1] = {self->conv_out};
    if (!gst_audio_converter_samples(self->conv, 0, in, n, out, out_n)) {
      GST_WARNING_OBJECT(self, "conversion failed");
      break;
    }
    gsize push = (gsize)MIN((guint64)out_n, limit);
    GST_LOG_OBJECT(self, "push %" G_GSIZE_FORMAT, push);
    if (push) ser_analyzer_push(self->analyzer, self->conv_out, push, on_result, self);
    self->model_pushed += push;
    limit -= push;
    data += n * bpf;
    frames -= n;
  }
}

static void attach_pending(GstSerEmotion *self, GstBuffer *buf) {
  for (guint i = 0; i < self->pending->len; i++) {
    GstStructure *src = g_ptr_array_index(self->pending, i);
    GstCustomMeta *meta = gst_buffer_add_custom_meta(buf, SEREMOTION_META_NAME);
    if (!meta) continue;
    GstStructure *dst = gst_custom_meta_get_structure(meta);
    gint nf = gst_structure_n_fields(src);
    for (gint f = 0; f < nf; f++) {
      const gchar *name = gst_structure_nth_field_name(src, (guint)f);
      gst_structure_set_value(dst, name, gst_structure_get_value(src, name));
    }
  }
}

static void clear_pending(GstSerEmotion *self) {
  if (self->pending) g_ptr_array_set_size(self->pending, 0);
}

static void handle_timing(GstSerEmotion *self, GstBuffer *buf) {
  GstBaseTransform *bt = GST_BASE_TRANSFORM(self);
  GstClockTime ts = GST_BUFFER_PTS(buf);
  if (GST_CLOCK_TIME_IS_VALID(self->base_ts) &&
      (GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DISCONT) || GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_RESYNC))) {
    GstClockTime expected =
        self->base_ts + gst_util_uint64_scale_int(self->in_samples, GST_SECOND, GST_AUDIO_INFO_RATE(&self->in_info));
    if (!GST_CLOCK_TIME_IS_VALID(ts) || GST_CLOCK_DIFF(ts, expected) > (GstClockTimeDiff)DISCONT_TOLERANCE ||
        GST_CLOCK_DIFF(expected, ts) > (GstClockTimeDiff)DISCONT_TOLERANCE) {
      GST_DEBUG_OBJECT(self, "discont at %" GST_TIME_FORMAT ", expected %" GST_TIME_FORMAT,
                       GST_TIME_ARGS(ts), GST_TIME_ARGS(expected));
      reset_analysis(self);
    }
  }
  if (!GST_CLOCK_TIME_IS_VALID(self->base_ts)) {
    if (GST_CLOCK_TIME_IS_VALID(ts))
      self->base_ts = ts;
    else if (bt->segment.format == GST_FORMAT_TIME)
      self->base_ts = bt->segment.start;
    else
      self->base_ts = 0;
    self->in_samples = 0;
    self->model_pushed = 0;
  }
}

static GstFlowReturn gst_seremotion_prepare_output_buffer(GstBaseTransform *bt, GstBuffer *inbuf,
                                                         GstBuffer **outbuf) {
  GstSerEmotion *self = GST_SEREMOTION(bt);
  *outbuf = inbuf;
  if (!self->analyzer || !self->have_info) return GST_FLOW_OK;
  sync_properties(self);
  handle_timing(self, inbuf);

  GstMapInfo map;
  if (!gst_buffer_map(inbuf, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Could not read the audio buffer"), (NULL));
    return GST_FLOW_ERROR;
  }
  gsize frames = map.size / GST_AUDIO_INFO_BPF(&self->in_info);
  analyze_frames(self, map.data, frames, G_MAXUINT64);
  self->in_samples += frames;
  gst_buffer_unmap(inbuf, &map);

  if (self->pending->len > 0) {
    if (!gst_buffer_is_writable(inbuf)) *outbuf = gst_buffer_copy(inbuf); /* shallow: memory shared */
    attach_pending(self, *outbuf);
    clear_pending(self);
  }
  if (self->tag_due && self->cur_tags && self->cur_label >= 0) push_tags(self, self->cur_label, self->cur_conf);
  self->tag_due = FALSE;
  return GST_FLOW_OK;
}

static GstFlowReturn gst_seremotion_transform_ip(GstBaseTransform *bt, GstBuffer *buf) {
  (void)bt;
  (void)buf;
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------------ events */

/* Longest GAP analysed as silence (windows without speech); longer ones
 * restart the analysis after the gap (docs/element.md). */
#define MAX_GAP_AS_SILENCE (10 * 60 * GST_SECOND)

static void handle_gap(GstSerEmotion *self, GstEvent *event) {
  GstClockTime ts, dur;
  gst_event_parse_gap(event, &ts, &dur);
  if (!self->analyzer || !self->have_info || !GST_CLOCK_TIME_IS_VALID(dur)) return;
  sync_properties(self);
  if (dur > MAX_GAP_AS_SILENCE) {
    /* Analysing hours of silence sample by sample would stall the streaming
     * thread; a gap this long is a new start, like a DISCONT. */
    GST_DEBUG_OBJECT(self, "gap of %" GST_TIME_FORMAT ": analysis restarts after it", GST_TIME_ARGS(dur));
    reset_analysis(self);
    if (GST_CLOCK_TIME_IS_VALID(ts)) self->base_ts = ts + dur;
    clear_pending(self);
    return;
  }
  guint rate = GST_AUDIO_INFO_RATE(&self->in_info);
  if (!GST_CLOCK_TIME_IS_VALID(self->base_ts)) {
    self->base_ts = GST_CLOCK_TIME_IS_VALID(ts) ? ts : 0;
    self->in_samples = 0;
    self->model_pushed = 0;
  }
  guint64 g = gst_util_uint64_scale_round(dur, rate, GST_SECOND);
  guint64 before = gst_util_uint64_scale_int(self->in_samples, self->model_rate, rate);
  guint64 after = gst_util_uint64_scale_int(self->in_samples + g, self->model_rate, rate);
  ser_analyzer_push_silence(self->analyzer, (size_t)(after - before), on_result, self);
  self->model_pushed += after - before;
  self->in_samples += g;
  /* Results of a gap have no buffer to carry their meta. */
  clear_pending(self);
  if (self->tag_due && self->cur_tags && self->cur_label >= 0) push_tags(self, self->cur_label, self->cur_conf);
  self->tag_due = FALSE;
}

static void post_summary(GstSerEmotion *self, gint *dominant_out, gdouble *conf_out) {
  GstStructure *times = gst_structure_new_empty("speech-time");
  gint dom = -1;
  for (guint i = 0; i < self->n_labels; i++) {
    gst_structure_set(times, ser_model_label(self->model, i), G_TYPE_UINT64, self->label_time[i], NULL);
    if (self->label_time[i] > 0 && (dom < 0 || self->label_time[i] > self->label_time[dom])) dom = (gint)i;
  }
  gdouble conf = 0.0;
  if (dom >= 0 && self->label_windows[dom] > 0) conf = self->label_score_sum[dom] / (double)self->label_windows[dom];
  guint64 speech_total = 0;
  for (guint i = 0; i < self->n_labels; i++) speech_total += self->label_time[i];
  GstStructure *s = gst_structure_new(
      "seremotion-summary", "emotion", G_TYPE_STRING, dom >= 0 ? ser_model_label(self->model, (uint32_t)dom) : "none",
      "confidence", G_TYPE_DOUBLE, conf, "windows", G_TYPE_UINT64, self->n_windows, "speech-windows", G_TYPE_UINT64,
      self->n_speech, "speech-duration", G_TYPE_UINT64, speech_total, "speech-time", GST_TYPE_STRUCTURE, times, NULL);
  gst_structure_free(times);
  double spk = ser_analyzer_speaker_s(self->analyzer); /* -1: the model has no normaliser */
  if (spk >= 0) gst_structure_set(s, "speaker-adapted", G_TYPE_DOUBLE, spk, NULL);
  if (self->cur_post)
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
  else
    gst_structure_free(s);
  *dominant_out = dom;
  *conf_out = conf;
}

static void handle_eos(GstSerEmotion *self) {
  if (!self->analyzer || !self->have_info) return;
  sync_properties(self);
  guint rate = GST_AUDIO_INFO_RATE(&self->in_info);
  if (GST_CLOCK_TIME_IS_VALID(self->base_ts)) {
    /* Drain the resampler: feed silence until every real sample came out. */
    guint64 expected = gst_util_uint64_scale_int(self->in_samples, self->model_rate, rate);
    if (!self->conv_passthrough && self->model_pushed < expected) {
      GST_DEBUG_OBJECT(self, "draining the resampler: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT, self->model_pushed, expected);
      gsize lat = gst_audio_converter_get_max_latency(self->conv) + 1;
      while (lat > 0 && self->model_pushed < expected) {
        gsize n = MIN(lat, (gsize)CHUNK_FRAMES);
        analyze_frames(self, self->zero_in, n, expected - self->model_pushed);
        lat -= n;
      }
    }
    GST_DEBUG_OBJECT(self, "EOS: %" G_GUINT64_FORMAT " input samples, %" G_GUINT64_FORMAT
                     " model samples analysed of %" G_GUINT64_FORMAT, self->in_samples, self->model_pushed, expected);
    ser_analyzer_finish(self->analyzer, on_result, self);
    clear_pending(self);
  }
  gint dom;
  gdouble conf;
  post_summary(self, &dom, &conf);
  if (self->cur_tags && dom >= 0) push_tags(self, dom, conf);
  self->tag_due = FALSE;
  reset_analysis(self);
  reset_summary(self);
}

static gboolean gst_seremotion_sink_event(GstBaseTransform *bt, GstEvent *event) {
  GstSerEmotion *self = GST_SEREMOTION(bt);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_STREAM_START:
      /* a new stream: a new voice (FLUSH, DISCONT, SEGMENT and GAP keep the
       * speaker normaliser's statistics) */
      reset_speaker(self);
      g_clear_pointer(&self->upstream_tags, gst_tag_list_unref); /* the new stream's come after */
      break;
    case GST_EVENT_FLUSH_STOP:
      reset_analysis(self);
      reset_summary(self);
      break;
    case GST_EVENT_SEGMENT:
      reset_analysis(self);
      break;
    case GST_EVENT_GAP:
      handle_gap(self, event);
      break;
    case GST_EVENT_EOS:
      handle_eos(self);
      break;
    case GST_EVENT_TAG: {
      GstTagList *l;
      gst_event_parse_tag(event, &l);
      if (gst_tag_list_get_scope(l) == GST_TAG_SCOPE_STREAM) {
        if (self->upstream_tags) gst_tag_list_unref(self->upstream_tags);
        self->upstream_tags = gst_tag_list_copy(l);
        gst_tag_list_remove_tag(self->upstream_tags, SEREMOTION_TAG_EMOTION);
        gst_tag_list_remove_tag(self->upstream_tags, SEREMOTION_TAG_CONFIDENCE);
        if (self->tag_label >= 0 && self->cur_tags) {
          /* Keep our emotion tags alongside the new upstream ones. */
          gst_event_unref(event);
          event = gst_event_new_tag(make_tags(self, self->tag_label, self->cur_conf));
        }
      }
      break;
    }
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS(gst_seremotion_parent_class)->sink_event(bt, event);
}

/* ------------------------------------------------------------------- caps */

static gboolean gst_seremotion_set_caps(GstBaseTransform *bt, GstCaps *incaps, GstCaps *outcaps) {
  GstSerEmotion *self = GST_SEREMOTION(bt);
  GstAudioInfo info;
  (void)outcaps;
  if (!gst_audio_info_from_caps(&info, incaps)) {
    /* e.g. more than 2 channels without a channel-mask: unpositioned is fine
     * for us, we mix everything down to mono anyway. */
    GstStructure *s = gst_caps_get_structure(incaps, 0);
    gint rate = 0, ch = 0;
    const gchar *fmt = gst_structure_get_string(s, "format");
    if (!fmt || !gst_structure_get_int(s, "rate", &rate) || !gst_structure_get_int(s, "channels", &ch)) return FALSE;
    GstAudioChannelPosition pos[64];
    for (gint i = 0; i < ch && i < 64; i++) pos[i] = GST_AUDIO_CHANNEL_POSITION_NONE;
    gst_audio_info_init(&info);
    gst_audio_info_set_format(&info, gst_audio_format_from_string(fmt), rate, ch, pos);
  }
  if (self->have_info && gst_audio_info_is_equal(&info, &self->in_info)) return TRUE;

  GST_DEBUG_OBJECT(self, "new caps %" GST_PTR_FORMAT, incaps);
  if (self->conv) gst_audio_converter_free(self->conv);
  self->conv = NULL;
  g_free(self->conv_out);
  self->conv_out = NULL;
  g_free(self->zero_in);
  self->zero_in = NULL;
  self->have_info = FALSE;
  if (!self->model) return FALSE;

  GstAudioInfo out;
  gst_audio_info_init(&out);
  gst_audio_info_set_format(&out, GST_AUDIO_FORMAT_F32, (gint)self->model_rate, 1, NULL);
  GstStructure *config = gst_structure_new_empty("GstAudioConverter");
  gst_structure_set(config, GST_AUDIO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_AUDIO_DITHER_METHOD,
                    GST_AUDIO_DITHER_NONE, NULL);
  /* The same resampler as the audioresample element's defaults (Kaiser,
   * quality 4): the features the model sees at any input rate are those of
   * `audioresample`, which is also what the ser CLI uses to decode. */
  gst_structure_set(config, GST_AUDIO_CONVERTER_OPT_RESAMPLER_METHOD, GST_TYPE_AUDIO_RESAMPLER_METHOD,
                    GST_AUDIO_RESAMPLER_METHOD_KAISER, NULL);
  gst_audio_resampler_options_set_quality(GST_AUDIO_RESAMPLER_METHOD_KAISER, GST_AUDIO_RESAMPLER_QUALITY_DEFAULT,
                                          GST_AUDIO_INFO_RATE(&info), (gint)self->model_rate, config);
  gint ch = GST_AUDIO_INFO_CHANNELS(&info);
  if (ch > 1) {
    /* Mono = mean of the channels, whatever their positions. */
    GValue matrix = G_VALUE_INIT, row = G_VALUE_INIT;
    g_value_init(&matrix, GST_TYPE_ARRAY);
    g_value_init(&row, GST_TYPE_ARRAY);
    for (gint c = 0; c < ch; c++) {
      GValue v = G_VALUE_INIT;
      g_value_init(&v, G_TYPE_FLOAT);
      g_value_set_float(&v, 1.0f / (float)ch);
      gst_value_array_append_value(&row, &v);
      g_value_unset(&v);
    }
    gst_value_array_append_and_take_value(&matrix, &row);
    gst_structure_take_value(config, GST_AUDIO_CONVERTER_OPT_MIX_MATRIX, &matrix);
  }
  self->conv = gst_audio_converter_new(GST_AUDIO_CONVERTER_FLAG_NONE, &info, &out, config);
  if (!self->conv) {
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("Cannot convert %" GST_PTR_FORMAT " for analysis", incaps), (NULL));
    return FALSE;
  }
  self->conv_passthrough = gst_audio_converter_is_passthrough(self->conv);
  gsize lat = gst_audio_converter_get_max_latency(self->conv);
  gsize rate = (gsize)GST_AUDIO_INFO_RATE(&info);
  self->conv_out_cap = (gsize)gst_util_uint64_scale_ceil(CHUNK_FRAMES + lat + 8, self->model_rate, rate) + 64;
  self->conv_out = g_new0(float, self->conv_out_cap);
  self->zero_in = g_malloc0((gsize)CHUNK_FRAMES * GST_AUDIO_INFO_BPF(&info));
  self->in_info = info;
  self->have_info = TRUE;
  reset_analysis(self);
  reset_speaker(self); /* another source, or another microphone */
  return TRUE;
}

/* --------------------------------------------------------------- lifecycle */

static gboolean gst_seremotion_start(GstBaseTransform *bt) {
  GstSerEmotion *self = GST_SEREMOTION(bt);
  ser_analyzer_config c;
  ser_error err = {{0}};
  guint64 w;
  if (!self->model) return FALSE;
  build_config(self, &c, &w);
  self->analyzer = ser_analyzer_new(self->model, &c, &err);
  if (!self->analyzer) {
    GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS, ("Invalid analysis settings: %s", err.msg), (NULL));
    return FALSE;
  }
  note_applied(self, w);
  self->pending = g_ptr_array_new_with_free_func((GDestroyNotify)gst_structure_free);
  self->label_time = g_new0(guint64, self->n_labels);
  self->label_windows = g_new0(guint64, self->n_labels);
  self->label_score_sum = g_new0(gdouble, self->n_labels);
  reset_summary(self);
  self->have_info = FALSE;
  sync_properties(self);
  reset_analysis(self);
  reset_speaker(self); /* READY->PAUSED: a new stream (the analyzer is new anyway) */
  return TRUE;
}

static gboolean gst_seremotion_stop(GstBaseTransform *bt) {
  GstSerEmotion *self = GST_SEREMOTION(bt);
  if (self->analyzer) ser_analyzer_free(self->analyzer);
  self->analyzer = NULL;
  if (self->conv) gst_audio_converter_free(self->conv);
  self->conv = NULL;
  g_clear_pointer(&self->conv_out, g_free);
  g_clear_pointer(&self->zero_in, g_free);
  g_clear_pointer(&self->pending, g_ptr_array_unref);
  g_clear_pointer(&self->label_time, g_free);
  g_clear_pointer(&self->label_windows, g_free);
  g_clear_pointer(&self->label_score_sum, g_free);
  g_clear_pointer(&self->upstream_tags, gst_tag_list_unref);
  self->have_info = FALSE;
  return TRUE;
}

static GstStateChangeReturn gst_seremotion_change_state(GstElement *element, GstStateChange transition) {
  GstSerEmotion *self = GST_SEREMOTION(element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    ser_error err = {{0}};
    gchar *path;
    GST_OBJECT_LOCK(self);
    path = g_strdup(self->model_path);
    GST_OBJECT_UNLOCK(self);
    ser_model *m = seremotion_model_cache_acquire(path, &err);
    if (!m) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ,
                        ("Could not load model \"%s\": %s", path ? path : "(built-in)", err.msg),
                        ("model property: %s", path ? path : "(built-in)"));
      g_free(path);
      return GST_STATE_CHANGE_FAILURE;
    }
    GST_OBJECT_LOCK(self);
    self->model = m;
    GST_OBJECT_UNLOCK(self);
    self->model_rate = ser_model_features(m)->sample_rate;
    self->n_labels = ser_model_n_labels(m);
    GST_INFO_OBJECT(self, "model %s loaded; convolutions run on %s", path ? path : "(built-in)", ser_conv_backend());
    g_free(path);
    GST_OBJECT_LOCK(self);
    self->config_dirty = TRUE;
    GST_OBJECT_UNLOCK(self);
  }
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(gst_seremotion_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL ||
      (transition == GST_STATE_CHANGE_NULL_TO_READY && ret == GST_STATE_CHANGE_FAILURE)) {
    GST_OBJECT_LOCK(self);
    ser_model *m = self->model;
    self->model = NULL;
    GST_OBJECT_UNLOCK(self);
    seremotion_model_cache_release(m);
  }
  return ret;
}

/* -------------------------------------------------------------- properties */

static gchar *labels_string(const ser_model *m) {
  GString *s = g_string_new(NULL);
  for (uint32_t i = 0; i < ser_model_n_labels(m); i++) {
    if (i) g_string_append_c(s, ',');
    g_string_append(s, ser_model_label(m, i));
  }
  return g_string_free(s, FALSE);
}

static void gst_seremotion_set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec) {
  GstSerEmotion *self = GST_SEREMOTION(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free(self->model_path);
      self->model_path = g_value_dup_string(value);
      if (self->model_path && !*self->model_path) g_clear_pointer(&self->model_path, g_free);
      break;
    case PROP_WINDOW:
      self->window_ns = g_value_get_uint64(value);
      self->config_dirty = TRUE;
      break;
    case PROP_INTERVAL:
      self->interval_ns = g_value_get_uint64(value);
      self->config_dirty = TRUE;
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean(value);
      break;
    case PROP_ATTACH_META:
      self->attach_meta = g_value_get_boolean(value);
      break;
    case PROP_EMIT_TAGS:
      self->emit_tags = g_value_get_boolean(value);
      break;
    case PROP_SMOOTHING:
      self->smoothing = g_value_get_double(value);
      self->config_dirty = TRUE;
      break;
    case PROP_SPEECH_THRESHOLD:
      self->speech_threshold = g_value_get_double(value);
      self->config_dirty = TRUE;
      break;
    case PROP_SPEAKER_NORM:
      self->speaker_norm = g_value_get_boolean(value);
      self->config_dirty = TRUE;
      break;
    case PROP_SPEAKER_MEMORY:
      self->speaker_memory = g_value_get_double(value);
      self->config_dirty = TRUE;
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_seremotion_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) {
  GstSerEmotion *self = GST_SEREMOTION(object);
  if (prop_id == PROP_LABELS) {
    /* The model is loaded from READY on; before that, look it up (shared). */
    GST_OBJECT_LOCK(self);
    ser_model *m = self->model ? ser_model_ref(self->model) : NULL;
    GST_OBJECT_UNLOCK(self);
    gboolean borrowed = m == NULL;
    if (!m) {
      gchar *path;
      ser_error err = {{0}};
      GST_OBJECT_LOCK(self);
      path = g_strdup(self->model_path);
      GST_OBJECT_UNLOCK(self);
      m = seremotion_model_cache_acquire(path, &err);
      g_free(path);
    }
    g_value_take_string(value, m ? labels_string(m) : NULL);
    if (m) {
      if (borrowed)
        seremotion_model_cache_release(m);
      else
        ser_model_unref(m);
    }
    return;
  }
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string(value, self->model_path);
      break;
    case PROP_WINDOW:
      g_value_set_uint64(value, self->window_ns);
      break;
    case PROP_INTERVAL:
      g_value_set_uint64(value, self->interval_ns);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean(value, self->post_messages);
      break;
    case PROP_ATTACH_META:
      g_value_set_boolean(value, self->attach_meta);
      break;
    case PROP_EMIT_TAGS:
      g_value_set_boolean(value, self->emit_tags);
      break;
    case PROP_SMOOTHING:
      g_value_set_double(value, self->smoothing);
      break;
    case PROP_SPEECH_THRESHOLD:
      g_value_set_double(value, self->speech_threshold);
      break;
    case PROP_SPEAKER_NORM:
      g_value_set_boolean(value, self->speaker_norm);
      break;
    case PROP_SPEAKER_MEMORY:
      g_value_set_double(value, self->speaker_memory);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_seremotion_finalize(GObject *object) {
  GstSerEmotion *self = GST_SEREMOTION(object);
  g_free(self->model_path);
  if (self->model) seremotion_model_cache_release(self->model);
  G_OBJECT_CLASS(gst_seremotion_parent_class)->finalize(object);
}

/* The "reset-speaker" action signal: any thread; the streaming thread applies
 * it before the next buffer (the analyzer is not shared across threads). */
static void gst_seremotion_reset_speaker_action(GstSerEmotion *self) {
  GST_OBJECT_LOCK(self);
  self->speaker_reset_due = TRUE;
  GST_OBJECT_UNLOCK(self);
  GST_DEBUG_OBJECT(self, "reset-speaker requested");
}

static void gst_seremotion_class_init(GstSerEmotionClass *klass) {
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  GstElementClass *ec = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *btc = GST_BASE_TRANSFORM_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(seremotion_debug, "seremotion", 0, "speech emotion recognition");
  gst_seremotion_register_tags_and_meta();

  oc->set_property = gst_seremotion_set_property;
  oc->get_property = gst_seremotion_get_property;
  oc->finalize = gst_seremotion_finalize;

  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags live = rw | GST_PARAM_MUTABLE_PLAYING;
  g_object_class_install_property(
      oc, PROP_MODEL,
      g_param_spec_string("model", "Model", "Path of a .sermodel file; unset = the built-in default model",
                          NULL, rw));
  window_pspec = g_param_spec_uint64("window", "Window",
                                     "Analysis window in nanoseconds; 0 = the model's default (a window the "
                                     "model cannot take is refused with a warning and this property reverts)",
                                     0, MAX_TIME, 0, live);
  g_object_class_install_property(oc, PROP_WINDOW, window_pspec);
  g_object_class_install_property(
      oc, PROP_INTERVAL,
      g_param_spec_uint64("interval", "Interval", "Nanoseconds between the starts of two windows (one result each)",
                          10 * GST_MSECOND, MAX_TIME, DEFAULT_INTERVAL, live));
  g_object_class_install_property(
      oc, PROP_POST_MESSAGES,
      g_param_spec_boolean("post-messages", "Post messages",
                           "Post a 'seremotion' element message per window and a summary at EOS", TRUE, live));
  g_object_class_install_property(
      oc, PROP_ATTACH_META,
      g_param_spec_boolean("attach-meta", "Attach meta",
                           "Attach each result as SerEmotionMeta to the buffer holding the window's last sample",
                           TRUE, live));
  g_object_class_install_property(
      oc, PROP_EMIT_TAGS,
      g_param_spec_boolean("emit-tags", "Emit tags",
                           "Push 'emotion'/'emotion-confidence' tags when the emotion changes and at EOS", TRUE,
                           live));
  g_object_class_install_property(
      oc, PROP_SMOOTHING,
      g_param_spec_double("smoothing", "Smoothing",
                          "Exponential smoothing of the scores across windows (0 = off; s = a*s_prev + (1-a)*p)",
                          0.0, 0.999, 0.0, live));
  g_object_class_install_property(
      oc, PROP_SPEECH_THRESHOLD,
      g_param_spec_double("speech-threshold", "Speech threshold",
                          "Level in dBFS below which a window counts as no speech", -120.0, 0.0,
                          DEFAULT_SPEECH_THRESHOLD, live));
  g_object_class_install_property(
      oc, PROP_SPEAKER_NORM,
      g_param_spec_boolean("speaker-norm", "Speaker normalisation",
                           "Adapt the model's speaker normaliser to the voice heard; FALSE keeps the model's "
                           "prior; no effect for models without one",
                           DEFAULT_SPEAKER_NORM, live));
  g_object_class_install_property(
      oc, PROP_SPEAKER_MEMORY,
      g_param_spec_double("speaker-memory", "Speaker memory",
                          "Seconds of speech the speaker normaliser averages over (0 = the model's); no effect "
                          "for models without one",
                          0.0, MAX_SPEAKER_MEMORY, DEFAULT_SPEAKER_MEMORY, live));
  g_object_class_install_property(
      oc, PROP_LABELS,
      g_param_spec_string("labels", "Labels", "The model's labels, comma-separated, in score order", NULL,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /* "reset-speaker": another person speaks from now on (the speaker
   * normaliser returns to the model's prior at the next buffer). */
  signals[SIGNAL_RESET_SPEAKER] = g_signal_new_class_handler(
      "reset-speaker", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK(gst_seremotion_reset_speaker_action), NULL, NULL, NULL, G_TYPE_NONE, 0);

  gst_element_class_add_static_pad_template(ec, &sink_tmpl);
  gst_element_class_add_static_pad_template(ec, &src_tmpl);
  gst_element_class_set_static_metadata(ec, "Speech emotion recognition", "Filter/Analyzer/Audio",
                                        "Recognises the emotion in speech (MFCC + CBAM 1D-CNN)",
                                        "seremotion developers");
  ec->change_state = gst_seremotion_change_state;

  btc->passthrough_on_same_caps = TRUE;
  btc->transform_ip_on_passthrough = FALSE;
  btc->prepare_output_buffer = gst_seremotion_prepare_output_buffer;
  btc->transform_ip = gst_seremotion_transform_ip;
  btc->set_caps = gst_seremotion_set_caps;
  btc->sink_event = gst_seremotion_sink_event;
  btc->start = gst_seremotion_start;
  btc->stop = gst_seremotion_stop;
}

static void gst_seremotion_init(GstSerEmotion *self) {
  self->interval_ns = DEFAULT_INTERVAL;
  self->post_messages = TRUE;
  self->attach_meta = TRUE;
  self->emit_tags = TRUE;
  self->smoothing = 0.0;
  self->speech_threshold = DEFAULT_SPEECH_THRESHOLD;
  self->speaker_norm = DEFAULT_SPEAKER_NORM;
  self->speaker_memory = DEFAULT_SPEAKER_MEMORY;
  self->base_ts = GST_CLOCK_TIME_NONE;
  self->tag_label = self->cur_label = -1;
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
