/* ser classify: emotion of audio files, per window (the streaming analyzer)
 * or per file (--utterance). Output formats: docs/analyzer.md. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/wav.h"
#include "cli.h"

/* --utterance: longest file classified as a single window (seconds). */
#define UTTERANCE_MAX_S 30.0
#include "ser.h"

enum { FMT_JSONL, FMT_CSV, FMT_VTT };

static void usage(FILE *f) {
  fprintf(f,
          "Usage: ser classify [OPTIONS] FILE...\n"
          "\n"
          "Emotion in speech, per window or per file. Decodes anything GStreamer can,\n"
          "resampled to the model's rate. Results go to standard output.\n"
          "\n"
          "Options:\n"
          "  --model M             .sermodel file (default: the built-in model)\n"
          "  --window S            window length in seconds (default: the model's)\n"
          "  --interval S          seconds between window starts (default 0.5)\n"
          "  --utterance           one result per file: the whole file as one input (files over\n"
          "                        30 s: the average of 30 s windows every 15 s)\n"
          "  --format F            jsonl (default), csv or vtt\n"
          "  --speech-threshold DB a window whose level (mean of its loudest 15%% of\n"
          "                        frames) is below DB dBFS holds no speech (default %.0f)\n"
          "  --smoothing A         exponential smoothing of the scores over consecutive\n"
          "                        speech windows, A in [0, 1) (default 0 = off)\n"
          "  --min-tail S          shortest end-of-file tail (or short file) that is still\n"
          "                        classified, seconds (default 1; never less than the model's\n"
          "                        minimum, so 0 = the model's minimum)\n"
          "  --no-speaker-norm     keep a model's speaker normaliser at its prior (a typical\n"
          "                        training speaker) instead of adapting it to the voice\n"
          "  --speaker-memory S    seconds of speech the speaker normaliser averages over\n"
          "                        (default: the model's; 0 = the model's)\n"
          "  --same-speaker        all FILEs are one voice: the speaker normaliser carries its\n"
          "                        statistics from file to file, in the order given (default:\n"
          "                        each file is a new voice and starts from the prior)\n"
          "  --no-reuse            run the whole network on every window instead of sharing\n"
          "                        the convolutions of overlapping windows (same results up\n"
          "                        to float rounding; for benchmarks)\n"
          "  -h, --help            this help\n"
          "\n"
          "Per window (jsonl): {\"file\",\"start\",\"end\",\"emotion\",\"confidence\",\"speech\",\n"
          "  [\"speaker_adapted\",] \"scores\":{label:p}}; times in seconds; without speech\n"
          "  emotion is \"none\" and confidence 0; speaker_adapted (models with a speaker\n"
          "  normaliser only): seconds of the voice the normaliser had heard. csv: the same\n"
          "  fields, a header line, one column per label.\n"
          "  vtt: WebVTT cues, consecutive windows with the same emotion merged, each\n"
          "  window covering the interval around its centre; no cue where there is no speech.\n"
          "With --utterance (jsonl, csv): {\"file\",\"duration\",\"emotion\",\"confidence\",\"scores\"}.\n"
          "\n"
          "Speaker normaliser: models trained with --norm running (ser info: \"speaker\n"
          "normalisation: running\") normalise each frame with the running statistics of\n"
          "the voice heard so far, starting from a prior; the speaker options change that\n"
          "(also with --utterance). Other models ignore them.\n"
          "\n"
          "Exit status: 0 success, 1 usage error, 2 bad input (a file that cannot be read\n"
          "or decoded, or a bad model; the other files are still classified).\n",
          SER_SPEECH_THRESHOLD_DEFAULT);
}

static void json_str(FILE *o, const char *s) {
  fputc('"', o);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(o, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", o);
    else if (c == '\t')
      fputs("\\t", o);
    else if (c < 0x20)
      fprintf(o, "\\u%04x", c);
    else
      fputc(c, o);
  }
  fputc('"', o);
}

static void vtt_time(FILE *o, double t) {
  if (t < 0) t = 0;
  long ms = lround(t * 1000);
  fprintf(o, "%02ld:%02ld:%02ld.%03ld", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, ms % 1000);
}

typedef struct {
  const ser_model *m;
  const char *file;
  int fmt;
  double rate;
  uint32_t nl;
  int spk; /* the model has a speaker normaliser: a speaker_adapted field */
  uint64_t interval, window;
  /* vtt: the open cue */
  int cue_open;
  int32_t cue_top;
  double cue_start, cue_end;
  double last_end; /* end of the previous cue of this file: cues never overlap */
  uint32_t cue_n;
  double cue_conf;
  unsigned cue_id;
  size_t n_file; /* results for the current file */
  /* utterance: every result */
  size_t n, cap;
  float *sum_all, *sum_speech;
  size_t n_speech;
} out_ctx;

static void vtt_flush(FILE *o, out_ctx *c) {
  if (c->cue_open && c->cue_top >= 0) {
    fprintf(o, "%u\n", ++c->cue_id);
    vtt_time(o, c->cue_start);
    fputs(" --> ", o);
    vtt_time(o, c->cue_end);
    fprintf(o, "\n%s (%.2f)\n\n", ser_model_label(c->m, (uint32_t)c->cue_top),
            c->cue_conf / c->cue_n);
  }
  c->cue_open = 0;
}

static void on_window(void *user, const ser_result *r) {
  out_ctx *c = user;
  c->n_file++;
  FILE *o = stdout;
  double start = r->start / c->rate, end = (r->start + r->length) / c->rate;
  const char *emo = r->top >= 0 ? ser_model_label(c->m, (uint32_t)r->top) : "none";
  if (c->fmt == FMT_JSONL) {
    fputs("{\"file\":", o);
    json_str(o, c->file);
    fprintf(o, ",\"start\":%.3f,\"end\":%.3f,\"emotion\":", start, end);
    json_str(o, emo);
    fprintf(o, ",\"confidence\":%.6f,\"speech\":%s,", (double)r->confidence, r->speech ? "true" : "false");
    if (c->spk) fprintf(o, "\"speaker_adapted\":%.3f,", r->speaker_s);
    fputs("\"scores\":{", o);
    for (uint32_t i = 0; i < c->nl; i++) {
      if (i) fputc(',', o);
      json_str(o, ser_model_label(c->m, i));
      fprintf(o, ":%.6f", (double)r->scores[i]);
    }
    fputs("}}\n", o);
  } else if (c->fmt == FMT_CSV) {
    cli_csv_str(o, c->file);
    fprintf(o, ",%.3f,%.3f,%s,%.6f,%d", start, end, emo, (double)r->confidence, r->speech);
    if (c->spk) fprintf(o, ",%.3f", r->speaker_s);
    for (uint32_t i = 0; i < c->nl; i++) fprintf(o, ",%.6f", (double)r->scores[i]);
    fputc('\n', o);
  } else {
    /* window k covers [centre - interval/2, centre + interval/2); the first
     * starts at 0; a tail window covers up to its end */
    double half = c->interval / c->rate / 2, centre = (start + end) / 2;
    double a = r->start == 0 ? 0 : centre - half, b = r->is_tail ? end : centre + half;
    if (c->cue_open && c->cue_top == r->top && a <= c->cue_end + 1e-9) {
      c->cue_end = b;
      c->cue_n++;
      c->cue_conf += r->confidence;
    } else {
      vtt_flush(o, c);
      /* a tail window is shorter than the one before it, so its centred
       * interval can start before the previous cue's end */
      if (a < c->last_end) a = c->last_end;
      if (b <= a) return; /* nothing left to cover */
      c->cue_open = 1;
      c->cue_top = r->top;
      c->cue_start = a;
      c->cue_end = b;
      c->cue_n = 1;
      c->cue_conf = r->confidence;
    }
    c->last_end = c->cue_end;
  }
}

static void on_utt(void *user, const ser_result *r) {
  out_ctx *c = user;
  for (uint32_t i = 0; i < c->nl; i++) {
    c->sum_all[i] += r->scores[i];
    if (r->speech) c->sum_speech[i] += r->scores[i];
  }
  c->n++;
  if (r->speech) c->n_speech++;
}

/* Samples per ser_analyzer_push: large, so the analyzer's shared
 * convolutions run ahead in wide blocks (docs/analyzer.md). */
#define PUSH_BLOCK 65536

/* Decode a file at the model's rate: WAV fast path (ser features' reader) or
 * GStreamer. With `stream`, a WAV file at the rate is left open in *stream
 * for reading block by block (*x stays NULL), so memory does not grow with
 * the file. */
static int load(const char *path, uint32_t rate, float **x, size_t *n, ser_wav *stream) {
  char err[1024];
  ser_wav w;
  int wr = ser_wav_open(&w, path, err, sizeof err);
  if (wr < 0) {
    fprintf(stderr, "ser classify: %s\n", err);
    return -1;
  }
  if (wr == 1 && w.rate == rate && stream) {
    *stream = w;
    *x = NULL;
    *n = (size_t)w.frames;
    return 0;
  }
  if (wr == 1 && w.rate == rate) {
    *x = malloc(sizeof(float) * (w.frames ? w.frames : 1));
    if (!*x) {
      ser_wav_close(&w);
      fprintf(stderr, "ser classify: %s: out of memory\n", path);
      return -1;
    }
    *n = ser_wav_read(&w, *x, (size_t)w.frames);
    ser_wav_close(&w);
    return 0;
  }
  if (wr == 1) ser_wav_close(&w);
  if (ser_decode_file(path, rate, x, n, err, sizeof err) < 0) {
    fprintf(stderr, "ser classify: %s\n", err);
    return -1;
  }
  return 0;
}

static int parse_double(const char *opt, const char *s, double *v) {
  char *end;
  *v = strtod(s, &end);
  if (!*s || *end || !isfinite(*v)) {
    fprintf(stderr, "ser classify: %s: '%s' is not a number\n", opt, s);
    return -1;
  }
  return 0;
}

int cmd_classify(int argc, char **argv) {
  static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                       {"window", required_argument, 0, 'w'},
                                       {"interval", required_argument, 0, 'i'},
                                       {"utterance", no_argument, 0, 'u'},
                                       {"format", required_argument, 0, 'f'},
                                       {"speech-threshold", required_argument, 0, 't'},
                                       {"smoothing", required_argument, 0, 's'},
                                       {"min-tail", required_argument, 0, 'T'},
                                       {"no-reuse", no_argument, 0, 'R'},
                                       {"no-speaker-norm", no_argument, 0, 'N'},
                                       {"speaker-memory", required_argument, 0, 'M'},
                                       {"same-speaker", no_argument, 0, 'S'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *model_path = NULL;
  double window = 0, interval = 0.5, thr = SER_SPEECH_THRESHOLD_DEFAULT, smooth = 0, min_tail = 0;
  int min_tail_given = 0; /* --min-tail 0: the model's minimum, not the 1 s default */
  double spk_memory = 0;
  int utt = 0, fmt = FMT_JSONL, ch, reuse = 1, spk_norm = 1, same_speaker = 0;
  optind = 1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (ch) {
    case 'm': model_path = optarg; break;
    case 'w':
      if (parse_double("--window", optarg, &window) < 0) return EXIT_USAGE;
      if (window <= 0) {
        fprintf(stderr, "ser classify: --window: must be > 0 seconds\n");
        return EXIT_USAGE;
      }
      break;
    case 'i':
      if (parse_double("--interval", optarg, &interval) < 0) return EXIT_USAGE;
      if (interval <= 0) {
        fprintf(stderr, "ser classify: --interval: must be > 0 seconds\n");
        return EXIT_USAGE;
      }
      break;
    case 'u': utt = 1; break;
    case 'R': reuse = 0; break;
    case 'N': spk_norm = 0; break;
    case 'S': same_speaker = 1; break;
    case 'M':
      if (parse_double("--speaker-memory", optarg, &spk_memory) < 0) return EXIT_USAGE;
      if (spk_memory < 0 || spk_memory > 1e6) {
        fprintf(stderr, "ser classify: --speaker-memory: %s is not in [0, 1e6] seconds\n", optarg);
        return EXIT_USAGE;
      }
      break;
    case 'f':
      if (!strcmp(optarg, "jsonl")) fmt = FMT_JSONL;
      else if (!strcmp(optarg, "csv")) fmt = FMT_CSV;
      else if (!strcmp(optarg, "vtt")) fmt = FMT_VTT;
      else {
        fprintf(stderr, "ser classify: --format: '%s' is not jsonl, csv or vtt\n", optarg);
        return EXIT_USAGE;
      }
      break;
    case 't':
      if (parse_double("--speech-threshold", optarg, &thr) < 0) return EXIT_USAGE;
      break;
    case 's':
      if (parse_double("--smoothing", optarg, &smooth) < 0) return EXIT_USAGE;
      if (smooth < 0 || smooth >= 1) {
        fprintf(stderr, "ser classify: --smoothing: %s is not in [0, 1)\n", optarg);
        return EXIT_USAGE;
      }
      break;
    case 'T':
      if (parse_double("--min-tail", optarg, &min_tail) < 0) return EXIT_USAGE;
      min_tail_given = 1;
      if (min_tail < 0) {
        fprintf(stderr, "ser classify: --min-tail: must be >= 0 seconds\n");
        return EXIT_USAGE;
      }
      break;
    case 'h': usage(stdout); return EXIT_OK;
    case ':':
      fprintf(stderr, "ser classify: %s needs a value\n", argv[optind - 1]);
      return EXIT_USAGE;
    default:
      fprintf(stderr, "ser classify: unknown option '%s'\n", argv[optind - 1]);
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "ser classify: no input file\n");
    usage(stderr);
    return EXIT_USAGE;
  }
  if (utt && fmt == FMT_VTT) {
    fprintf(stderr, "ser classify: --utterance gives one line per file: use jsonl or csv\n");
    return EXIT_USAGE;
  }

  ser_error e = {{0}};
  ser_model *m = model_path ? ser_model_load(model_path, &e) : ser_model_default(&e);
  if (!m) {
    if (model_path && strncmp(e.msg, model_path, strlen(model_path)) != 0)
      fprintf(stderr, "ser classify: %s: %s\n", model_path, e.msg);
    else
      fprintf(stderr, "ser classify: %s%s\n", model_path ? "" : "built-in model: ", e.msg);
    return EXIT_BADINPUT;
  }
  const ser_feature_params *fp = ser_model_features(m);
  double rate = fp->sample_rate;
  uint32_t nl = ser_model_n_labels(m);
  ser_analyzer_config cfg;
  ser_analyzer_config_default(&cfg, m);
  if (window > 0) cfg.window = (uint64_t)llround(window * rate);
  cfg.interval = (uint64_t)llround(interval * rate);
  if (!cfg.interval) cfg.interval = 1;
  cfg.speech_threshold = thr;
  cfg.smoothing = smooth;
  cfg.min_tail = (uint64_t)llround(min_tail * rate);
  if (min_tail_given && !cfg.min_tail) cfg.min_tail = 1; /* raised to the model's minimum */
  cfg.speaker_norm = spk_norm;
  cfg.speaker_memory = spk_memory;

  /* --utterance: one analyzer too, reconfigured for each file's length, so
   * that the speaker normaliser can carry over with --same-speaker */
  ser_analyzer *a = NULL, *ua = NULL;
  if (!utt) {
    a = ser_analyzer_new(m, &cfg, &e);
    if (!a) {
      fprintf(stderr, "ser classify: %s\n", e.msg);
      ser_model_unref(m);
      return EXIT_USAGE;
    }
    ser_analyzer_get_config(a, &cfg);
    ser_analyzer_set_reuse(a, reuse);
  }
  out_ctx c = {.m = m, .fmt = fmt, .rate = rate, .nl = nl, .interval = cfg.interval,
               .window = cfg.window, .spk = ser_model_get_spec(m)->spk_mean != NULL};
  c.sum_all = calloc(2 * nl, sizeof(float));
  c.sum_speech = c.sum_all + nl;
  if (fmt == FMT_CSV) {
    fputs(utt ? "file,duration,emotion,confidence" : "file,start,end,emotion,confidence,speech",
          stdout);
    if (!utt && c.spk) fputs(",speaker_adapted", stdout);
    for (uint32_t i = 0; i < nl; i++) {
      fputc(',', stdout);
      cli_csv_str(stdout, ser_model_label(m, i));
    }
    fputc('\n', stdout);
  } else if (fmt == FMT_VTT) {
    fputs("WEBVTT\n\n", stdout);
  }
  int bad = 0;
  uint64_t min_samples = 0;
  {
    /* a frame reads n_fft samples (the window is centred in them), as the
     * analyzer counts a window's frames */
    uint32_t mf = ser_model_min_frames(m);
    uint32_t flen = fp->n_fft > fp->win_length ? fp->n_fft : fp->win_length;
    min_samples = ser_model_arch(m) == SER_ARCH_PAPER
                      ? ser_model_get_spec(m)->clip_samples
                      : (uint64_t)(mf ? mf - 1 : 0) * fp->hop_length + flen;
  }
  for (int k = optind; k < argc; k++) {
    const char *path = argv[k];
    float *x = NULL;
    size_t n = 0;
    ser_wav w = {0};
    if (load(path, fp->sample_rate, &x, &n, utt ? NULL : &w) < 0) {
      bad = 1;
      continue;
    }
    c.file = path;
    if (n == 0) {
      fprintf(stderr, "ser classify: %s: no audio\n", path);
      bad = 1;
      free(x);
      if (w.f) ser_wav_close(&w);
      continue;
    }
    /* each file a new voice, unless told otherwise (the first file starts
     * from the prior either way) */
    if (!same_speaker) {
      if (a) ser_analyzer_reset_speaker(a);
      if (ua) ser_analyzer_reset_speaker(ua);
    }
    if (!utt) {
      c.n_file = 0;
      if (fmt == FMT_VTT) {
        fputs("NOTE file: ", stdout);
        fputs(path, stdout);
        fputs("\n\n", stdout);
        c.cue_open = 0;
        c.cue_id = 0;
        c.last_end = 0;
      }
      if (w.f) { /* WAV, block by block */
        float *buf = malloc(PUSH_BLOCK * sizeof *buf);
        size_t got;
        n = 0;
        while (buf && (got = ser_wav_read(&w, buf, PUSH_BLOCK)) > 0) {
          ser_analyzer_push(a, buf, got, on_window, &c);
          n += got;
        }
        ser_wav_close(&w);
        if (!buf) {
          fprintf(stderr, "ser classify: %s: out of memory\n", path);
          bad = 1;
          continue;
        }
        free(buf);
      } else {
        for (size_t i = 0; i < n; i += PUSH_BLOCK)
          ser_analyzer_push(a, x + i, n - i < PUSH_BLOCK ? n - i : PUSH_BLOCK, on_window, &c);
      }
      ser_analyzer_finish(a, on_window, &c);
      if (fmt == FMT_VTT) vtt_flush(stdout, &c);
      fflush(stdout);
      if (!c.n_file) {
        uint64_t mt = cfg.min_tail ? cfg.min_tail : (uint64_t)rate;
        if (mt < min_samples) mt = min_samples;
        fprintf(stderr, "ser classify: %s: %.3f s is too short to classify (minimum %.3f s)\n",
                path, n / rate, mt / rate);
      }
    } else {
      /* the whole file as one window (padded with silence to the model's minimum) */
      ser_analyzer_config uc = cfg;
      uint64_t len = n > min_samples ? n : min_samples;
      if (ser_model_arch(m) != SER_ARCH_PAPER) {
        /* files up to UTTERANCE_MAX_S are one window; longer ones are the
         * average of UTTERANCE_MAX_S windows every half of that, so memory
         * does not grow with the file */
        uint64_t max_len = (uint64_t)(UTTERANCE_MAX_S * rate);
        uc.window = len <= max_len ? len : max_len;
        uc.interval = len <= max_len ? len : max_len / 2;
      }
      uc.smoothing = 0;
      if (ua ? ser_analyzer_set_config(ua, &uc, &e) < 0 : !(ua = ser_analyzer_new(m, &uc, &e))) {
        fprintf(stderr, "ser classify: %s: %s\n", path, e.msg);
        bad = 1;
        free(x);
        continue;
      }
      /* share convolutions only between overlapping windows (files over
       * UTTERANCE_MAX_S), as an analyzer made for this file would */
      ser_analyzer_set_reuse(ua, reuse && uc.interval < uc.window);
      memset(c.sum_all, 0, 2 * nl * sizeof(float));
      c.n = c.n_speech = 0;
      ser_analyzer_push(ua, x, n, on_utt, &c);
      if (len > n) ser_analyzer_push_silence(ua, len - n, on_utt, &c);
      ser_analyzer_finish(ua, on_utt, &c);
      /* one window (temporal); the paper model's fixed clips are averaged */
      const float *sum = c.n_speech ? c.sum_speech : c.sum_all;
      size_t cnt = c.n_speech ? c.n_speech : c.n;
      int32_t top = -1;
      float conf = 0;
      if (c.n_speech) {
        top = 0;
        for (uint32_t i = 1; i < nl; i++)
          if (sum[i] > sum[top]) top = (int32_t)i;
        conf = sum[top] / (float)cnt;
      }
      const char *emo = top >= 0 ? ser_model_label(m, (uint32_t)top) : "none";
      if (fmt == FMT_JSONL) {
        fputs("{\"file\":", stdout);
        json_str(stdout, path);
        fprintf(stdout, ",\"duration\":%.3f,\"emotion\":", n / rate);
        json_str(stdout, emo);
        fprintf(stdout, ",\"confidence\":%.6f,\"scores\":{", (double)conf);
        for (uint32_t i = 0; i < nl; i++) {
          if (i) fputc(',', stdout);
          json_str(stdout, ser_model_label(m, i));
          fprintf(stdout, ":%.6f", cnt ? (double)sum[i] / cnt : 0.0);
        }
        fputs("}}\n", stdout);
      } else {
        cli_csv_str(stdout, path);
        fprintf(stdout, ",%.3f,%s,%.6f", n / rate, emo, (double)conf);
        for (uint32_t i = 0; i < nl; i++) fprintf(stdout, ",%.6f", cnt ? (double)sum[i] / cnt : 0.0);
        fputc('\n', stdout);
      }
      fflush(stdout);
    }
    free(x);
  }
  free(c.sum_all);
  ser_analyzer_free(a);
  ser_analyzer_free(ua);
  ser_model_unref(m);
  /* results that did not reach their destination (disk full, closed pipe)
   * are lost data, not success */
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "ser classify: stdout: write error: %s\n", strerror(errno));
    return EXIT_BADINPUT;
  }
  return bad ? EXIT_BADINPUT : EXIT_OK;
}
