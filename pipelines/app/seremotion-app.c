/* seremotion-app: a small application around the seremotion element.
 * Builds a pipeline, consumes the element's messages and writes the
 * emotion timeline (text, JSON lines, WebVTT); optionally re-encodes the
 * audio so that the emotion tags reach a muxer. Links only GStreamer.
 *
 *   seremotion-app [options] FILE|URI
 *   seremotion-app [options] --live             (default microphone)
 *   seremotion-app [options] --pipeline DESC    (DESC has 'seremotion name=ser')
 * Options:
 *   --jsonl PATH    one JSON object per window
 *   --vtt PATH      WebVTT subtitles (one cue per interval)
 *   --encode PATH   re-encode the audio with the tags: .ogg (Vorbis), .opus,
 *                   .flac, .mka (Matroska/FLAC)
 *   --window MS --interval MS --model PATH --seconds N (stop after N s)
 *   -q              no per-window lines on stdout
 * Exit: 0 ok, 1 usage, 2 bad input / pipeline error. */
#include <gst/gst.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  FILE *jsonl, *vtt;
  const gchar *source_name;
  gboolean quiet;
  GMainLoop *loop;
  GstElement *pipeline;
  int status;
  guint64 interval;
  /* the previous window, written as a VTT cue when the next one arrives */
  gboolean have_cue;
  guint64 cue_start, cue_end;
  gchar cue_text[96];
  guint n;
  gchar summary_emotion[32];
  gdouble summary_confidence;
} App;

static void vtt_time(FILE *f, guint64 ns) {
  guint64 ms = ns / GST_MSECOND;
  fprintf(f, "%02u:%02u:%02u.%03u", (guint)(ms / 3600000), (guint)(ms / 60000 % 60), (guint)(ms / 1000 % 60),
          (guint)(ms % 1000));
}

static void flush_cue(App *a, guint64 end) {
  if (!a->have_cue || !a->vtt) return;
  if (end > a->cue_start) a->cue_end = MIN(a->cue_end, end);
  vtt_time(a->vtt, a->cue_start);
  fputs(" --> ", a->vtt);
  vtt_time(a->vtt, a->cue_end);
  fprintf(a->vtt, "\n%s\n\n", a->cue_text);
  a->have_cue = FALSE;
}

static void json_string(FILE *f, const gchar *s) {
  gchar *e = g_strescape(s, NULL);
  fprintf(f, "\"%s\"", e);
  g_free(e);
}

static void on_result(App *a, const GstStructure *s) {
  guint64 ts = 0, dur = 0;
  gdouble conf = 0;
  gboolean speech = FALSE;
  gst_structure_get_uint64(s, "stream-time", &ts);
  gst_structure_get_uint64(s, "duration", &dur);
  gst_structure_get_double(s, "confidence", &conf);
  gst_structure_get_boolean(s, "speech", &speech);
  const gchar *emotion = gst_structure_get_string(s, "emotion");
  const GstStructure *sc = gst_value_get_structure(gst_structure_get_value(s, "scores"));
  double start = (double)ts / GST_SECOND, end = (double)(ts + dur) / GST_SECOND;
  a->n++;
  if (!a->quiet) printf("%8.3f-%8.3f  %-10s %.3f%s\n", start, end, emotion, conf, speech ? "" : "  (no speech)");
  if (a->jsonl) {
    fputs("{\"file\":", a->jsonl);
    json_string(a->jsonl, a->source_name);
    fprintf(a->jsonl, ",\"start\":%.3f,\"end\":%.3f,\"emotion\":", start, end);
    json_string(a->jsonl, emotion);
    fprintf(a->jsonl, ",\"confidence\":%.4f,\"speech\":%s,\"scores\":{", conf, speech ? "true" : "false");
    for (gint i = 0; sc && i < gst_structure_n_fields(sc); i++) {
      const gchar *k = gst_structure_nth_field_name(sc, (guint)i);
      gdouble v = 0;
      gst_structure_get_double(sc, k, &v);
      fprintf(a->jsonl, "%s\"%s\":%.4f", i ? "," : "", k, v);
    }
    fputs("}}\n", a->jsonl);
    fflush(a->jsonl);
  }
  if (a->vtt) {
    flush_cue(a, ts);
    a->have_cue = TRUE;
    a->cue_start = ts;
    a->cue_end = ts + dur;
    if (speech)
      g_snprintf(a->cue_text, sizeof a->cue_text, "%s (%.0f%%)", emotion, conf * 100.0);
    else
      g_snprintf(a->cue_text, sizeof a->cue_text, "(no speech)");
  }
}

static gboolean on_message(GstBus *bus, GstMessage *m, gpointer user) {
  App *a = user;
  (void)bus;
  switch (GST_MESSAGE_TYPE(m)) {
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure(m);
      if (s && gst_structure_has_name(s, "seremotion")) on_result(a, s);
      if (s && gst_structure_has_name(s, "seremotion-summary")) {
        guint64 w = 0;
        gst_structure_get_uint64(s, "windows", &w);
        g_strlcpy(a->summary_emotion, gst_structure_get_string(s, "emotion"), sizeof a->summary_emotion);
        gst_structure_get_double(s, "confidence", &a->summary_confidence);
        if (!a->quiet) printf("summary: %s over %" G_GUINT64_FORMAT " windows\n", a->summary_emotion, w);
      }
      break;
    }
    case GST_MESSAGE_ERROR: {
      GError *err = NULL;
      gchar *dbg = NULL;
      gst_message_parse_error(m, &err, &dbg);
      fprintf(stderr, "seremotion-app: %s: %s\n", a->source_name, err->message);
      g_error_free(err);
      g_free(dbg);
      a->status = 2;
      g_main_loop_quit(a->loop);
      break;
    }
    case GST_MESSAGE_EOS:
      g_main_loop_quit(a->loop);
      break;
    default:
      break;
  }
  return TRUE;
}

static gboolean stop_live(gpointer user) {
  App *a = user;
  gst_element_send_event(a->pipeline, gst_event_new_eos());
  return G_SOURCE_REMOVE;
}

static const gchar *encoder_for(const gchar *path) {
  if (g_str_has_suffix(path, ".ogg")) return "audioconvert ! vorbisenc ! oggmux";
  if (g_str_has_suffix(path, ".opus")) return "audioconvert ! audioresample ! opusenc ! oggmux";
  if (g_str_has_suffix(path, ".flac")) return "audioconvert ! flacenc";
  if (g_str_has_suffix(path, ".mka")) return "audioconvert ! flacenc ! matroskamux";
  return NULL;
}

/* Second pass: the whole-stream emotion is known only at EOS, but Ogg and
 * FLAC write their comments before the first audio packet, so the tags are
 * injected at the start of a re-encode (taginject), as the element's
 * `emotion`/`emotion-confidence` tags plus EMOTION=<label> as a Vorbis
 * comment (extended-comment), which is what survives in files. */
static int encode_with_tags(App *a, const gchar *uri, const gchar *out) {
  if (!a->summary_emotion[0]) return 2;
  gchar *desc = g_strdup_printf(
      "uridecodebin uri=\"%s\" ! audioconvert ! taginject name=tags ! %s ! filesink location=\"%s\"", uri,
      encoder_for(out), out);
  GError *err = NULL;
  GstElement *p = gst_parse_launch(desc, &err);
  g_free(desc);
  if (!p) {
    fprintf(stderr, "seremotion-app: %s: %s\n", out, err ? err->message : "cannot build the encoder");
    return 2;
  }
  GstElement *ti = gst_bin_get_by_name(GST_BIN(p), "tags");
  gchar *tags = g_strdup_printf("emotion=\"%s\",emotion-confidence=%.4f,extended-comment=\"EMOTION=%s\"",
                                a->summary_emotion, a->summary_confidence, a->summary_emotion);
  g_object_set(ti, "tags", tags, NULL);
  g_free(tags);
  gst_object_unref(ti);
  GstBus *bus = gst_element_get_bus(p);
  gst_element_set_state(p, GST_STATE_PLAYING);
  GstMessage *m = gst_bus_timed_pop_filtered(bus, GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  int rc = 0;
  if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
    GError *e = NULL;
    gst_message_parse_error(m, &e, NULL);
    fprintf(stderr, "seremotion-app: %s: %s\n", out, e->message);
    g_error_free(e);
    rc = 2;
  } else if (!a->quiet) {
    printf("wrote %s with emotion=%s\n", out, a->summary_emotion);
  }
  gst_message_unref(m);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(p);
  return rc;
}

int main(int argc, char **argv) {
  gchar *jsonl = NULL, *vtt = NULL, *encode = NULL, *model = NULL, *pipe_desc = NULL;
  gint window_ms = 0, interval_ms = 0;
  gdouble seconds = 0;
  gboolean live = FALSE, quiet = FALSE;
  GOptionEntry entries[] = {
      {"jsonl", 0, 0, G_OPTION_ARG_FILENAME, &jsonl, "Write one JSON object per window", "PATH"},
      {"vtt", 0, 0, G_OPTION_ARG_FILENAME, &vtt, "Write WebVTT subtitles", "PATH"},
      {"encode", 0, 0, G_OPTION_ARG_FILENAME, &encode, "Re-encode with the tags (.ogg .opus .flac .mka)", "PATH"},
      {"model", 0, 0, G_OPTION_ARG_FILENAME, &model, "Model file (default: built-in)", "PATH"},
      {"window", 0, 0, G_OPTION_ARG_INT, &window_ms, "Window in ms (default: the model's)", "MS"},
      {"interval", 0, 0, G_OPTION_ARG_INT, &interval_ms, "Interval in ms (default 500)", "MS"},
      {"live", 0, 0, G_OPTION_ARG_NONE, &live, "Analyse the default microphone", NULL},
      {"pipeline", 0, 0, G_OPTION_ARG_STRING, &pipe_desc, "Custom pipeline with 'seremotion name=ser'", "DESC"},
      {"seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "Stop after N seconds", "N"},
      {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No per-window lines on stdout", NULL},
      {NULL, 0, 0, 0, NULL, NULL, NULL}};
  GError *err = NULL;
  GOptionContext *ctx = g_option_context_new("FILE|URI  - emotion timeline of speech with seremotion");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_add_group(ctx, gst_init_get_option_group());
  if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
    fprintf(stderr, "seremotion-app: %s\n", err->message);
    return 1;
  }
  g_option_context_free(ctx);
  if (!live && !pipe_desc && argc != 2) {
    fprintf(stderr, "seremotion-app: give one FILE or URI, --live or --pipeline (see --help)\n");
    return 1;
  }
  if (!gst_element_factory_find("seremotion")) {
    fprintf(stderr, "seremotion-app: the seremotion element is not found (set GST_PLUGIN_PATH)\n");
    return 2;
  }
  App a = {0};
  a.quiet = quiet;
  a.source_name = live ? "live" : pipe_desc ? "pipeline" : argv[1];
  gchar *uri = NULL;
  if (!live && !pipe_desc) {
    if (gst_uri_is_valid(argv[1])) {
      uri = g_strdup(argv[1]);
    } else {
      if (!g_file_test(argv[1], G_FILE_TEST_IS_REGULAR)) {
        fprintf(stderr, "seremotion-app: %s: no such file\n", argv[1]);
        return 2;
      }
      uri = gst_filename_to_uri(argv[1], NULL);
    }
  }
  GString *props = g_string_new("seremotion name=ser");
  if (model) g_string_append_printf(props, " model=\"%s\"", model);
  if (window_ms > 0) g_string_append_printf(props, " window=%" G_GUINT64_FORMAT, (guint64)window_ms * GST_MSECOND);
  if (interval_ms > 0)
    g_string_append_printf(props, " interval=%" G_GUINT64_FORMAT, (guint64)interval_ms * GST_MSECOND);
  gchar *desc;
  if (pipe_desc) {
    desc = g_strdup(pipe_desc);
  } else {
    const gchar *src = live ? "autoaudiosrc" : NULL;
    gchar *srcd = live ? g_strdup(src) : g_strdup_printf("uridecodebin uri=\"%s\"", uri);
    if (encode && (live || !encoder_for(encode))) {
      fprintf(stderr, "seremotion-app: %s: --encode needs a FILE and .ogg, .opus, .flac or .mka\n", encode);
      return 1;
    }
    desc = g_strdup_printf("%s ! audioconvert ! audioresample ! %s ! fakesink sync=false", srcd, props->str);
    g_free(srcd);
  }
  a.pipeline = gst_parse_launch(desc, &err);
  if (!a.pipeline) {
    fprintf(stderr, "seremotion-app: pipeline: %s\n", err ? err->message : "?");
    return 1;
  }
  if (jsonl && !(a.jsonl = fopen(jsonl, "w"))) {
    fprintf(stderr, "seremotion-app: %s: cannot write\n", jsonl);
    return 2;
  }
  if (vtt) {
    if (!(a.vtt = fopen(vtt, "w"))) {
      fprintf(stderr, "seremotion-app: %s: cannot write\n", vtt);
      return 2;
    }
    fputs("WEBVTT\n\n", a.vtt);
  }
  a.loop = g_main_loop_new(NULL, FALSE);
  GstBus *bus = gst_element_get_bus(a.pipeline);
  gst_bus_add_watch(bus, on_message, &a);
  if (seconds > 0) g_timeout_add((guint)(seconds * 1000), stop_live, &a);
  if (gst_element_set_state(a.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    if (m) {
      on_message(bus, m, &a);
      gst_message_unref(m);
    }
    a.status = 2;
  } else {
    g_main_loop_run(a.loop);
  }
  gst_element_set_state(a.pipeline, GST_STATE_NULL);
  if (encode && a.status == 0) a.status = encode_with_tags(&a, uri, encode);
  if (a.vtt) {
    flush_cue(&a, G_MAXUINT64);
    fclose(a.vtt);
  }
  if (a.jsonl) fclose(a.jsonl);
  gst_bus_remove_watch(bus);
  gst_object_unref(bus);
  gst_object_unref(a.pipeline);
  g_main_loop_unref(a.loop);
  g_string_free(props, TRUE);
  g_free(desc);
  g_free(uri);
  g_free(jsonl);
  g_free(vtt);
  g_free(encode);
  g_free(model);
  g_free(pipe_desc);
  return a.status;
}
