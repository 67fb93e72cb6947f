/* Shared by `ser train` and `ser eval`: options, corpora, decoding through
 * the cache, progress display. */
#include "train_common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char *const spec_labels[] = {"neutral", "happy", "sad", "angry",
                                          "fearful", "disgusted", "surprised"};

char **tc_split(const char *s, int *n) {
  int cnt = 1;
  for (const char *p = s; *p; p++) cnt += *p == ',';
  char **v = calloc((size_t)cnt + 1, sizeof(char *));
  if (!v) return NULL;
  int k = 0;
  const char *p = s;
  while (1) {
    const char *e = strchr(p, ',');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    while (l && isspace((unsigned char)*p)) p++, l--;
    while (l && isspace((unsigned char)p[l - 1])) l--;
    if (l) v[k++] = strndup(p, l);
    if (!e) break;
    p = e + 1;
  }
  v[k] = NULL;
  if (n) *n = k;
  return v;
}

void tc_split_free(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

void tc_opts_init(tc_opts *o) {
  memset(o, 0, sizeof *o);
  ser_arch_config_default(&o->arch, SER_ARCH_TEMPORAL);
  ser_feature_params_default(&o->feat);
  for (uint32_t i = 0; i < 7; i++) o->labels[i] = strdup(spec_labels[i]);
  o->n_labels = 7;
  ser_train_options_default(&o->train);
  o->train.aug.p_shift = 0; /* random crops already shift; zero fill would add digital silence */
  o->val_n = -1;
  o->trim_db = 40;
  ser_spknorm_params_default(&o->spk);
  o->members = 1;
  o->distill_temp = 2;
}

void tc_opts_free(tc_opts *o) {
  for (uint32_t i = 0; i < o->n_labels; i++) free(o->labels[i]);
  free(o->val_list);
  free(o->speakers);
  free(o->corpora);
  free(o->cmdline);
}

static int parse_u32(const char *s, uint32_t *v) {
  char *e;
  errno = 0;
  unsigned long x = strtoul(s, &e, 10);
  if (errno || e == s || *e || x > 0xffffffffUL || s[0] == '-') return -1;
  *v = (uint32_t)x;
  return 0;
}

static int parse_f(const char *s, float *v) {
  char *e;
  errno = 0;
  double x = strtod(s, &e);
  if (errno || e == s || *e || !isfinite(x)) return -1;
  *v = (float)x;
  return 0;
}

void tc_print_opts_help(FILE *f) {
  fprintf(f,
          "Model:\n"
          "  --arch temporal|paper   architecture (default temporal; see docs/research.md)\n"
          "  --labels LIST           label set, comma separated (default: neutral,happy,sad,angry,\n"
          "                          fearful,disgusted,surprised; RAVDESS calm counts as neutral\n"
          "                          unless 'calm' is in the set; clips of other labels are dropped)\n"
          "  --channels LIST         conv channels per block (temporal, default 32,64,128,128;\n"
          "                          paper 256,256)\n"
          "  --kernel N              conv kernel (default 5 temporal, 7 paper)\n"
          "  --cbam-from N           CBAM after blocks N.. (0-based, temporal, default 2)\n"
          "  --reduction N           channel attention reduction (default 8; paper 16)\n"
          "  --dropout P             dropout before the classifier (default 0.3; paper 0.2)\n"
          "  --window-s S            training window = default analysis window (default 2.0;\n"
          "                          paper: clip length, 2.5)\n"
          "Features (stored in the model; defaults: SPEC section 3; paper: its librosa preset):\n"
          "  --sample-rate HZ --n-mfcc N --n-mels N --deltas 0|1|2 --preemph A\n"
          "  --fmin HZ --fmax HZ --log db|ln\n"
          "  --pitch-features        append log pitch and voicing to every frame (docs/features.md)\n"
          "Training:\n"
          "  --epochs N              maximum epochs (default 80)\n"
          "  --batch N               mini-batch size (default 16)\n"
          "  --lr F                  peak learning rate of AdamW (default 0.002)\n"
          "  --weight-decay F        decoupled weight decay on weights (default 0.001)\n"
          "  --warmup E              linear warm-up epochs, then cosine decay (default 3)\n"
          "  --patience N            stop after N epochs without a better validation UA, never\n"
          "                          before half of --epochs (default 0 = off: run all epochs and\n"
          "                          keep the epoch with the best validation UA)\n"
          "  --val-speakers N|LIST   validation speakers taken from the TRAINING speakers, for\n"
          "                          early stopping (default: 10%% of them, at least 1; 0 = none)\n"
          "  --balance class|corpus|off  class weights of the loss. class (default): n/(k*n_class)\n"
          "                          over all training clips; corpus: the same within each\n"
          "                          corpus (a class only one corpus has is not favoured on its\n"
          "                          voices); off: none (--no-balance is the same)\n"
          "  --label-smoothing E     targets (1-E) one-hot + E/labels (default 0 = off)\n"
          "  --mixup A               mix each training input with another of the mini-batch,\n"
          "                          lambda ~ Beta(A,A) folded to >= 0.5, targets mixed alike\n"
          "                          (default 0 = off)\n"
          "  --avg-epochs N          keep the average of the weights at the end of the last N\n"
          "                          epochs instead of the best validation epoch (default 0 = off)\n"
          "  --swa-lr F              with --avg-epochs N: stochastic weight averaging. The cosine\n"
          "                          decay reaches F x --lr when the last N epochs start and the\n"
          "                          rate stays there while their weights are averaged; batch-norm\n"
          "                          statistics are then recomputed for the average over one pass\n"
          "                          of training batches (F in (0, 1]; default off)\n"
          "  --augment LIST          audio augmentation of training clips: any of noise,speed,pitch,\n"
          "                          shift,gain,specaug, or none (default noise,speed,pitch,gain,\n"
          "                          specaug)\n"
          "  --no-noise --no-speed --no-pitch --no-gain --no-specaug   switch one off\n"
          "  --aug-variants N        speed/pitch: make N perturbed copies of every training clip\n"
          "                          once (alternately speed and pitch) and draw from them\n"
          "                          (default 2, at most 16; 0 = perturb on the fly, slower)\n"
          "  --speed P,MIN,MAX       speed perturbation: probability and range of the factor\n"
          "                          (default 0.3,0.9,1.1; MIN >= 0.25, MAX <= 4)\n"
          "  --aug-pitch-norm        with --pitch-features and --norm speaker|running: a speed- or\n"
          "                          pitch-changed copy is normalised as a voice of its own pitch\n"
          "                          (its speaker's mean log pitch moved by the same amount), so\n"
          "                          its pitch relative to the voice stays the clip's (default off)\n"
          "  --virtual-speakers      with --norm running and --aug-variants N: copy v of every clip\n"
          "                          of a speaker is perturbed by the same amount (one speed factor\n"
          "                          or pitch shift per speaker and copy), and each such set of\n"
          "                          copies is normalised as a voice of its own (a running\n"
          "                          normaliser from the prior over the set), as a new speaker is\n"
          "                          at test time: N new voices per training speaker (default off)\n"
          "  --speakers LIST         use only these speakers (e.g. emodb:03,emodb:08)\n"
          "  --norm global|speaker|utterance|running   feature normalisation before the model's\n"
          "                          per-coefficient statistics (default global: none; the stored\n"
          "                          statistics are those of all training frames). speaker: each\n"
          "                          speaker's frames are z-normalised with the mean/std of all\n"
          "                          frames of that speaker's (trimmed, un-augmented) clips, the\n"
          "                          stored statistics are then those of the normalised frames\n"
          "                          (about 0/1); in ser eval the TEST speakers' statistics come\n"
          "                          from their own clips, without labels (transductive: a live\n"
          "                          stream has only what it has heard: see running). utterance:\n"
          "                          each clip with its\n"
          "                          own statistics. running: what the analyzer does live, a\n"
          "                          running normaliser per speaker (the prior, a typical training\n"
          "                          speaker, then the speaker's earlier clips in a random order,\n"
          "                          frames below -50 dBFS not counted); each clip is normalised\n"
          "                          with what was heard before it, never with itself; ser train\n"
          "                          stores the prior in the model, and ser classify and the\n"
          "                          element then adapt to each voice. See docs/training.md\n"
          "  --speaker-memory S      --norm running: seconds of speech the normaliser averages\n"
          "                          over (default 120; 0 = never forget)\n"
          "  --norm-clips K          with --norm speaker: each clip's statistics come from K other\n"
          "                          clips of its speaker picked at random (all of them when it has\n"
          "                          fewer), never from the clip itself: a normaliser that has\n"
          "                          heard K other utterances of the voice (default 0: all of the\n"
          "                          speaker's clips, the clip included)\n"
          "  --trim-db DB            cut leading and trailing silence: keep from the first to the\n"
          "                          last 25 ms frame within DB dB of the loudest, plus 100 ms\n"
          "                          (default 40; 0 = keep whole clips), training and test alike\n"
          "  --seed N                seed of initialisation, order, augmentation (default 1)\n"
          "  --members N             an ensemble: train N networks into one model whose scores\n"
          "                          are the mean of theirs; network j is initialised and trained\n"
          "                          with seed S+j-1 (S = --seed) and holds out the validation\n"
          "                          speakers that seed picks; normalisation from network 1's\n"
          "                          training speakers (default 1; at most 16; N times the\n"
          "                          training time and the cost per window)\n"
          "  --distill N             knowledge distillation: first train a teacher ensemble of N\n"
          "                          networks (seeds after the members') on the same clips, then\n"
          "                          train the model's networks on targets (1-A) x the label's +\n"
          "                          A x the teacher's probabilities of the clip (whole clip,\n"
          "                          windows averaged, tempered); the teacher is not kept, so the\n"
          "                          model costs what --members says (default 0: no teacher)\n"
          "  --distill-alpha A       weight of the teacher's probabilities (default 0.5)\n"
          "  --distill-temp T        temper them as p^(1/T), renormalised (default 2: softer)\n"
          "  --threads N             worker threads (default: number of cores)\n"
          "  --cache DIR             decoded-audio cache (default $XDG_CACHE_HOME/seremotion or\n"
          "                          ~/.cache/seremotion); --no-cache to decode every time\n"
          "  --name NAME             model name in the metadata\n"
          "  --meta KEY=VALUE        extra metadata (repeatable)\n"
          "  -q, --quiet             no progress output\n");
}

static int set_augment(tc_opts *o, const char *list) {
  ser_augment_config d;
  ser_augment_config_default(&d);
  ser_augment_config *a = &o->train.aug;
  a->p_noise = a->p_speed = a->p_pitch = a->p_shift = a->p_gain = 0;
  o->train.specaugment = 0;
  if (!strcmp(list, "none")) return 0;
  int n;
  char **v = tc_split(list, &n);
  if (!v) return -1;
  int rc = 0;
  for (int i = 0; i < n; i++) {
    if (!strcmp(v[i], "noise")) a->p_noise = d.p_noise;
    else if (!strcmp(v[i], "speed")) a->p_speed = d.p_speed;
    else if (!strcmp(v[i], "pitch")) a->p_pitch = d.p_pitch;
    else if (!strcmp(v[i], "shift")) a->p_shift = d.p_shift;
    else if (!strcmp(v[i], "gain")) a->p_gain = d.p_gain;
    else if (!strcmp(v[i], "specaug")) o->train.specaugment = 1;
    else rc = -1;
  }
  tc_split_free(v);
  return rc;
}

int tc_parse_opt(tc_opts *o, int argc, char **argv, int *i, const char *cmd) {
  const char *a = argv[*i];
  const char *val = NULL;
#define NEED()                                                                 \
  do {                                                                         \
    if (*i + 1 >= argc) {                                                      \
      fprintf(stderr, "ser %s: %s needs a value\n", cmd, a);                   \
      return -1;                                                               \
    }                                                                          \
    val = argv[++*i];                                                          \
  } while (0)
#define BAD()                                                                  \
  do {                                                                         \
    fprintf(stderr, "ser %s: %s: bad value '%s'\n", cmd, a, val);              \
    return -1;                                                                 \
  } while (0)
  uint32_t u;
  if (!strcmp(a, "--arch")) {
    NEED();
    ser_arch_config keep = o->arch;
    if (!strcmp(val, "temporal")) ser_arch_config_default(&o->arch, SER_ARCH_TEMPORAL);
    else if (!strcmp(val, "paper")) {
      ser_arch_config_default(&o->arch, SER_ARCH_PAPER);
      if (!o->feat_set) ser_feature_params_paper(&o->feat);
    } else BAD();
    (void)keep;
  } else if (!strcmp(a, "--labels")) {
    NEED();
    int n;
    char **v = tc_split(val, &n);
    if (!v || n < 2 || n > TC_MAX_LABELS) {
      tc_split_free(v);
      BAD();
    }
    for (uint32_t k = 0; k < o->n_labels; k++) free(o->labels[k]);
    for (int k = 0; k < n; k++) o->labels[k] = strdup(v[k]);
    o->n_labels = (uint32_t)n;
    tc_split_free(v);
  } else if (!strcmp(a, "--channels")) {
    NEED();
    int n;
    char **v = tc_split(val, &n);
    if (!v || n < 1 || n > 8) {
      tc_split_free(v);
      BAD();
    }
    for (int k = 0; k < n; k++)
      if (parse_u32(v[k], &o->arch.channels[k]) < 0 || o->arch.channels[k] == 0) {
        tc_split_free(v);
        BAD();
      }
    o->arch.n_channels = (uint32_t)n;
    tc_split_free(v);
  } else if (!strcmp(a, "--kernel")) {
    NEED();
    if (parse_u32(val, &o->arch.kernel) < 0 || !(o->arch.kernel & 1)) BAD();
  } else if (!strcmp(a, "--cbam-from")) {
    NEED();
    if (parse_u32(val, &o->arch.cbam_from) < 0) BAD();
  } else if (!strcmp(a, "--reduction")) {
    NEED();
    if (parse_u32(val, &o->arch.reduction) < 0 || !o->arch.reduction) BAD();
  } else if (!strcmp(a, "--dropout")) {
    NEED();
    if (parse_f(val, &o->arch.dropout) < 0 || o->arch.dropout < 0 || o->arch.dropout >= 1) BAD();
  } else if (!strcmp(a, "--window-s")) {
    NEED();
    if (parse_f(val, &o->arch.window_s) < 0 || o->arch.window_s <= 0.1f || o->arch.window_s > 60) BAD();
  } else if (!strcmp(a, "--sample-rate")) {
    NEED();
    if (parse_u32(val, &o->feat.sample_rate) < 0) BAD();
    o->feat_set = 1;
  } else if (!strcmp(a, "--n-mfcc")) {
    NEED();
    if (parse_u32(val, &o->feat.n_mfcc) < 0) BAD();
    o->feat_set = 1;
  } else if (!strcmp(a, "--n-mels")) {
    NEED();
    if (parse_u32(val, &o->feat.n_mels) < 0) BAD();
    o->feat_set = 1;
  } else if (!strcmp(a, "--deltas")) {
    NEED();
    if (parse_u32(val, &o->feat.deltas) < 0 || o->feat.deltas > 2) BAD();
    o->feat_set = 1;
  } else if (!strcmp(a, "--pitch-features")) {
    o->feat.pitch = 1;
    o->feat_set = 1;
  } else if (!strcmp(a, "--preemph")) {
    NEED();
    if (parse_f(val, &o->feat.preemph) < 0) BAD();
    o->feat_set = 1;
  } else if (!strcmp(a, "--fmin")) {
    NEED();
    if (parse_f(val, &o->feat.fmin) < 0) BAD();
    o->feat_set = 1;
  } else if (!strcmp(a, "--fmax")) {
    NEED();
    if (parse_f(val, &o->feat.fmax) < 0) BAD();
    o->feat_set = 1;
  } else if (!strcmp(a, "--log")) {
    NEED();
    if (!strcmp(val, "db")) o->feat.log = SER_LOG_DB;
    else if (!strcmp(val, "ln")) o->feat.log = SER_LOG_LN;
    else BAD();
    o->feat_set = 1;
  } else if (!strcmp(a, "--epochs")) {
    NEED();
    if (parse_u32(val, &o->train.epochs) < 0 || !o->train.epochs) BAD();
  } else if (!strcmp(a, "--batch")) {
    NEED();
    if (parse_u32(val, &o->train.batch) < 0 || !o->train.batch) BAD();
  } else if (!strcmp(a, "--lr")) {
    NEED();
    if (parse_f(val, &o->train.lr) < 0 || o->train.lr <= 0) BAD();
  } else if (!strcmp(a, "--weight-decay")) {
    NEED();
    if (parse_f(val, &o->train.weight_decay) < 0 || o->train.weight_decay < 0) BAD();
  } else if (!strcmp(a, "--warmup")) {
    NEED();
    if (parse_f(val, &o->train.warmup_epochs) < 0 || o->train.warmup_epochs < 0) BAD();
  } else if (!strcmp(a, "--patience")) {
    NEED();
    if (parse_u32(val, &o->train.patience) < 0) BAD();
  } else if (!strcmp(a, "--val-speakers")) {
    NEED();
    if (parse_u32(val, &u) == 0) {
      o->val_n = (int)u;
      free(o->val_list);
      o->val_list = NULL;
    } else {
      free(o->val_list);
      o->val_list = strdup(val);
      o->val_n = -2;
    }
  } else if (!strcmp(a, "--aug-variants")) {
    NEED();
    if (parse_u32(val, &o->train.aug_variants) < 0 || o->train.aug_variants > 16) BAD();
  } else if (!strcmp(a, "--label-smoothing")) {
    NEED();
    if (parse_f(val, &o->train.label_smoothing) < 0 || o->train.label_smoothing < 0 ||
        o->train.label_smoothing >= 1)
      BAD();
  } else if (!strcmp(a, "--mixup")) {
    NEED();
    if (parse_f(val, &o->train.mixup_alpha) < 0 || o->train.mixup_alpha < 0 || o->train.mixup_alpha > 100) BAD();
  } else if (!strcmp(a, "--avg-epochs")) {
    NEED();
    if (parse_u32(val, &o->train.avg_epochs) < 0) BAD();
  } else if (!strcmp(a, "--speed")) {
    NEED();
    char **v = tc_split(val, NULL);
    float f[3];
    int n = 0, okv = 1;
    for (char **q = v; q && *q; q++, n++) okv = okv && n < 3 && parse_f(*q, &f[n]) == 0;
    tc_split_free(v);
    if (!okv || n != 3 || f[0] < 0 || f[0] > 1 || f[1] < 0.25f || f[1] > f[2] || f[2] > 4) BAD();
    o->train.aug.p_speed = f[0];
    o->train.aug.speed_min = f[1];
    o->train.aug.speed_max = f[2];
  } else if (!strcmp(a, "--aug-pitch-norm")) {
    o->train.aug_pitch_norm = 1;
  } else if (!strcmp(a, "--virtual-speakers")) {
    o->train.virtual_speakers = 1;
  } else if (!strcmp(a, "--swa-lr")) {
    NEED();
    if (parse_f(val, &o->train.swa_lr_frac) < 0 || !(o->train.swa_lr_frac > 0) || o->train.swa_lr_frac > 1) BAD();
  } else if (!strcmp(a, "--no-balance")) {
    o->train.balanced = 0;
  } else if (!strcmp(a, "--balance")) {
    NEED();
    if (!strcmp(val, "off")) o->train.balanced = 0;
    else if (!strcmp(val, "class")) o->train.balanced = 1;
    else if (!strcmp(val, "corpus")) o->train.balanced = 2;
    else BAD();
  } else if (!strcmp(a, "--augment")) {
    NEED();
    if (set_augment(o, val) < 0) BAD();
  } else if (!strcmp(a, "--no-noise")) {
    o->train.aug.p_noise = 0;
  } else if (!strcmp(a, "--no-speed")) {
    o->train.aug.p_speed = 0;
  } else if (!strcmp(a, "--no-pitch")) {
    o->train.aug.p_pitch = 0;
  } else if (!strcmp(a, "--no-shift")) {
    o->train.aug.p_shift = 0;
  } else if (!strcmp(a, "--no-gain")) {
    o->train.aug.p_gain = 0;
  } else if (!strcmp(a, "--no-specaug")) {
    o->train.specaugment = 0;
  } else if (!strcmp(a, "--speakers")) {
    NEED();
    free(o->speakers);
    o->speakers = strdup(val);
  } else if (!strcmp(a, "--seed")) {
    NEED();
    char *e;
    errno = 0;
    unsigned long long s = strtoull(val, &e, 10);
    if (errno || e == val || *e) BAD();
    o->train.seed = s;
  } else if (!strcmp(a, "--members")) {
    NEED();
    if (parse_u32(val, &o->members) < 0 || o->members < 1 || o->members > SER_MAX_NETS) BAD();
  } else if (!strcmp(a, "--distill")) {
    NEED();
    if (parse_u32(val, &o->distill) < 0 || o->distill > SER_MAX_NETS) BAD();
  } else if (!strcmp(a, "--distill-alpha")) {
    NEED();
    if (parse_f(val, &o->train.distill_alpha) < 0 || !(o->train.distill_alpha >= 0 && o->train.distill_alpha <= 1))
      BAD();
  } else if (!strcmp(a, "--distill-temp")) {
    NEED();
    if (parse_f(val, &o->distill_temp) < 0 || !(o->distill_temp >= 0.1f && o->distill_temp <= 100)) BAD();
  } else if (!strcmp(a, "--threads")) {
    NEED();
    if (parse_u32(val, &o->train.threads) < 0 || o->train.threads > 64) BAD();
  } else if (!strcmp(a, "--cache")) {
    NEED();
    o->cache_dir = val;
  } else if (!strcmp(a, "--no-cache")) {
    o->no_cache = 1;
  } else if (!strcmp(a, "--name")) {
    NEED();
    o->name = val;
  } else if (!strcmp(a, "--meta")) {
    NEED();
    if (!strchr(val, '=') || o->n_meta >= 32) BAD();
    o->meta_kv[o->n_meta++] = (char *)val;
  } else if (!strcmp(a, "--norm")) {
    NEED();
    if ((o->norm = tc_norm_parse(val)) < 0) BAD();
  } else if (!strcmp(a, "--speaker-memory")) {
    NEED();
    if (parse_f(val, &o->spk.memory_s) < 0 || !(o->spk.memory_s >= 0 && o->spk.memory_s <= 1e6f)) BAD();
  } else if (!strcmp(a, "--norm-clips")) {
    NEED();
    uint32_t k;
    if (parse_u32(val, &k) < 0 || k > 100000) BAD();
    o->norm_clips = (int)k;
  } else if (!strcmp(a, "--trim-db")) {
    NEED();
    if (parse_f(val, &o->trim_db) < 0 || o->trim_db < 0) BAD();
  } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
    o->quiet = 1;
  } else {
    return 0;
  }
  return 1;
#undef NEED
#undef BAD
}

int tc_finalize(tc_opts *o, const char *cmd) {
  ser_error err;
  if (ser_feature_params_check(&o->feat, &err) < 0) {
    fprintf(stderr, "ser %s: %s\n", cmd, err.msg);
    return -1;
  }
  if (o->norm == TC_NORM_RUNNING && o->arch.arch == SER_ARCH_PAPER) {
    fprintf(stderr, "ser %s: --norm running: the paper architecture takes whole clips, not a stream of frames\n", cmd);
    return -1;
  }
  if (o->train.swa_lr_frac > 0 && (o->train.avg_epochs == 0 || o->train.avg_epochs >= o->train.epochs)) {
    fprintf(stderr, "ser %s: --swa-lr needs --avg-epochs N with N below --epochs (%u): the rate is held "
                    "during the last N epochs, whose weights are averaged\n", cmd, o->train.epochs);
    return -1;
  }
  if (o->train.aug_pitch_norm &&
      (!o->feat.pitch || (o->norm != TC_NORM_SPEAKER && o->norm != TC_NORM_RUNNING) || o->train.aug_variants == 0)) {
    fprintf(stderr, "ser %s: --aug-pitch-norm needs --pitch-features, --norm speaker or running, and --aug-variants "
                    "of 1 or more (the copies whose pitch change it knows)\n", cmd);
    return -1;
  }
  if (o->train.virtual_speakers &&
      (o->norm != TC_NORM_RUNNING || o->train.aug_variants == 0 ||
       (o->train.aug.p_speed <= 0 && o->train.aug.p_pitch <= 0) || o->train.aug_pitch_norm)) {
    fprintf(stderr, "ser %s: --virtual-speakers needs --norm running, --aug-variants of 1 or more with speed or pitch "
                    "perturbation on (the copies that make the voices), and not --aug-pitch-norm\n", cmd);
    return -1;
  }
  { /* the model file's own rules (label names, duplicates, sizes) now, not when it is written after training */
    ser_model_spec spec;
    memset(&spec, 0, sizeof spec);
    if (tc_build_spec(o, 1, &spec, cmd) < 0) return -1;
    int bad = ser_model_spec_check(&spec, &err);
    ser_model_spec_clear(&spec);
    if (bad) {
      fprintf(stderr, "ser %s: --labels or model options: %s\n", cmd, err.msg);
      return -1;
    }
  }
  if (o->arch.arch == SER_ARCH_PAPER && !o->feat.center)
    fprintf(stderr, "ser %s: note: the paper architecture normally uses the paper feature preset\n", cmd);
  if (o->feat.pitch && o->train.aug.p_pitch > 0 && !o->quiet && !o->train.aug_pitch_norm)
    fprintf(stderr, "ser %s: note: pitch-shift augmentation moves the pitch features the model is to learn from; "
                    "with --pitch-features, --no-pitch scored better (docs/results.md, fourth search)\n", cmd);
  return 0;
}

/* ---- loading ---------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void tc_data_free(tc_data *d) {
  for (size_t i = 0; i < d->n; i++) {
    if (d->audio) free(d->audio[i]);
    if (d->paths) free(d->paths[i]);
  }
  for (uint32_t i = 0; i < d->n_speakers; i++) free(d->speakers[i]);
  free(d->audio);
  free(d->paths);
  free(d->speakers);
  free(d->clips);
  free(d->gstats);
  free(d->sstats);
  memset(d, 0, sizeof *d);
}

int tc_check_speakers(const char *list, char *const *known, size_t n_known, const char *opt, const char *cmd) {
  if (!list) return 0;
  char **names = tc_split(list, NULL);
  int rc = 0;
  for (char **q = names; q && *q && rc == 0; q++) {
    int found = 0;
    const char *near = NULL; /* "03" for "emodb:03" */
    for (size_t k = 0; k < n_known && !found; k++) {
      found = !strcmp(known[k], *q);
      const char *colon = strchr(known[k], ':');
      if (!near && colon && !strcmp(colon + 1, *q)) near = known[k];
    }
    if (found) continue;
    rc = -1;
    fprintf(stderr, "ser %s: %s: no speaker '%s' in the corpora", cmd, opt, *q);
    if (near) fprintf(stderr, " (did you mean %s? speakers are named corpus:id)\n", near);
    else {
      fprintf(stderr, " (speakers are named corpus:id; these are:");
      for (size_t k = 0; k < n_known && k < 8; k++) fprintf(stderr, " %s", known[k]);
      fprintf(stderr, "%s)\n", n_known > 8 ? " ..." : "");
    }
  }
  tc_split_free(names);
  return rc;
}

/* a corpus's balance group (--balance corpus): the same number for the same
 * corpus name in every tc_load (evaluated corpora and --extra-train alike) */
static uint32_t corpus_group(const char *corpus) {
  static const char *const known[] = {"emodb", "ravdess", "cremad", "tess", "savee", "emovo"};
  for (uint32_t g = 0; g < sizeof known / sizeof known[0]; g++)
    if (!strcmp(corpus, known[g])) return g;
  return sizeof known / sizeof known[0]; /* manifest */
}

int tc_load(const tc_opts *o, uint32_t rate, tc_data *d, const char *cmd) {
  memset(d, 0, sizeof *d);
  char cache[4096];
  const char *cdir = NULL;
  if (!o->no_cache) cdir = o->cache_dir ? o->cache_dir : tc_default_cache_dir(cache, sizeof cache);
  char **only = o->speakers ? tc_split(o->speakers, NULL) : NULL;
  const char *lab[TC_MAX_LABELS];
  for (uint32_t k = 0; k < o->n_labels; k++) lab[k] = o->labels[k];
  size_t cap = 0;
  int rc = 0;
  size_t total = 0, done = 0;
  ser_corpus *cs = calloc((size_t)o->n_corpora, sizeof *cs);
  if (!cs) return -1;
  for (int ci = 0; ci < o->n_corpora && rc == 0; ci++) {
    const char *p = o->corpora[ci];
    ser_error err;
    struct stat st;
    if (stat(p, &st) != 0) {
      fprintf(stderr, "ser %s: %s: %s\n", cmd, p, strerror(errno));
      rc = -1;
      break;
    }
    int r = S_ISDIR(st.st_mode) ? ser_corpus_scan_dir(p, &cs[ci], &err) : ser_corpus_load_manifest(p, &cs[ci], &err);
    if (r < 0) {
      fprintf(stderr, "ser %s: %s\n", cmd, err.msg);
      rc = -1;
      break;
    }
    total += cs[ci].n;
  }
  if (rc == 0 && total > 1) { /* a file named twice (two corpora, a link) would count twice, or land in the
                               * training and test sets of one fold under two speakers */
    const char **paths = malloc(total * sizeof *paths);
    const ser_corpus_item **items = malloc(total * sizeof *items);
    int *from = malloc(total * sizeof *from);
    size_t np = 0, i0 = 0, i1 = 0;
    for (int ci = 0; paths && items && from && ci < o->n_corpora; ci++)
      for (size_t i = 0; i < cs[ci].n; i++, np++) {
        paths[np] = cs[ci].items[i].path;
        items[np] = &cs[ci].items[i];
        from[np] = ci;
      }
    int r = paths && items && from ? ser_files_repeated(paths, np, &i0, &i1) : -1;
    if (r < 0) fprintf(stderr, "ser %s: out of memory\n", cmd);
    if (r > 0)
      fprintf(stderr,
              "ser %s: %s (speaker %s, from %s) and %s (speaker %s, from %s) are one file; a clip must be "
              "given once\n",
              cmd, items[i0]->path, items[i0]->speaker, o->corpora[from[i0]], items[i1]->path, items[i1]->speaker,
              o->corpora[from[i1]]);
    if (r != 0) rc = -1;
    free(paths), free(items), free(from);
  }
  if (rc == 0 && o->speakers) { /* every name must be a speaker of the corpora */
    char **all = malloc((total + 1) * sizeof *all);
    size_t na = 0;
    for (int ci = 0; all && ci < o->n_corpora; ci++)
      for (size_t i = 0; i < cs[ci].n; i++) all[na++] = cs[ci].items[i].speaker;
    if (all && na) { /* distinct, sorted */
      qsort(all, na, sizeof *all, cmp_str);
      size_t m = 1;
      for (size_t i = 1; i < na; i++)
        if (strcmp(all[m - 1], all[i])) all[m++] = all[i];
      na = m;
    }
    if (all && tc_check_speakers(o->speakers, all, na, "--speakers", cmd) < 0) rc = -1;
    free(all);
  }
  int tty = isatty(2) && !o->quiet;
  for (int ci = 0; ci < o->n_corpora && rc == 0; ci++) {
    for (size_t i = 0; i < cs[ci].n && rc == 0; i++) {
      ser_corpus_item *it = &cs[ci].items[i];
      done++;
      int li = ser_label_map(it->label, lab, o->n_labels);
      if (li < 0) {
        d->dropped++;
        continue;
      }
      if (only) {
        int keep = 0;
        for (char **q = only; *q; q++) keep |= !strcmp(*q, it->speaker);
        if (!keep) continue;
      }
      if (d->n == cap) {
        size_t nc = cap ? 2 * cap : 256;
        ser_clip *c2 = realloc(d->clips, nc * sizeof *c2);
        if (c2) d->clips = c2;
        float **a2 = realloc(d->audio, nc * sizeof *a2);
        if (a2) d->audio = a2;
        char **p2 = realloc(d->paths, nc * sizeof *p2);
        if (p2) d->paths = p2;
        char **s2 = realloc(d->speakers, nc * sizeof *s2); /* temp: speaker per clip */
        if (s2) d->speakers = s2;
        if (!c2 || !a2 || !p2 || !s2) {
          fprintf(stderr, "ser %s: out of memory\n", cmd);
          rc = -1;
          break;
        }
        cap = nc;
      }
      float *x = NULL;
      size_t n = 0;
      char emsg[1024];
      if (tc_cache_decode(cdir, it->path, rate, &x, &n, emsg, sizeof emsg) < 0) {
        fprintf(stderr, "ser %s: %s\n", cmd, emsg);
        rc = -1;
        break;
      }
      if (n == 0) {
        fprintf(stderr, "ser %s: %s: no audio, skipped\n", cmd, it->path);
        free(x);
        continue;
      }
      if (o->trim_db > 0) {
        size_t s0, len;
        ser_train_trim(x, n, rate, o->trim_db, &s0, &len);
        if (s0 || len != n) {
          memmove(x, x + s0, len * sizeof(float));
          n = len;
        }
      }
      d->audio[d->n] = x;
      d->paths[d->n] = strdup(it->path);
      d->speakers[d->n] = strdup(it->speaker);
      d->clips[d->n].audio = x;
      d->clips[d->n].n = n;
      d->clips[d->n].label = (uint32_t)li;
      d->clips[d->n].norm_mean = d->clips[d->n].norm_std = NULL;
      d->clips[d->n].soft = NULL;
      d->clips[d->n].group = corpus_group(it->corpus);
      d->n++;
      if (tty && (done % 20 == 0 || done == total))
        fprintf(stderr, "\rdecoding %zu/%zu", done, total);
      if (!strstr(d->corpora, it->corpus) && strlen(d->corpora) + strlen(it->corpus) + 2 < sizeof d->corpora) {
        if (d->corpora[0]) strcat(d->corpora, ",");
        strcat(d->corpora, it->corpus);
      }
    }
  }
  if (tty) fprintf(stderr, "\r%*s\r", 40, "");
  for (int ci = 0; ci < o->n_corpora; ci++) ser_corpus_free(&cs[ci]);
  free(cs);
  tc_split_free(only);
  /* distinct speakers */
  char **per = d->speakers;
  d->speakers = NULL;
  if (rc == 0 && d->n == 0) {
    fprintf(stderr, "ser %s: no clips with a label in the label set\n", cmd);
    rc = -1;
  }
  if (rc == 0) {
    char **uniq = malloc(d->n * sizeof(char *));
    memcpy(uniq, per, d->n * sizeof(char *));
    qsort(uniq, d->n, sizeof(char *), cmp_str);
    uint32_t m = 0;
    for (size_t i = 0; i < d->n; i++)
      if (m == 0 || strcmp(uniq[m - 1], uniq[i])) uniq[m++] = uniq[i];
    d->speakers = malloc(m * sizeof(char *));
    for (uint32_t k = 0; k < m; k++) d->speakers[k] = strdup(uniq[k]);
    d->n_speakers = m;
    for (size_t i = 0; i < d->n; i++) {
      char **f = bsearch(&per[i], d->speakers, m, sizeof(char *), cmp_str);
      d->clips[i].speaker = (uint32_t)(f - d->speakers);
    }
    free(uniq);
  }
  if (per) {
    for (size_t i = 0; i < d->n; i++) free(per[i]);
    free(per);
  }
  if (rc < 0) tc_data_free(d);
  return rc;
}

const char *tc_norm_name(int norm) {
  return norm == TC_NORM_SPEAKER     ? "speaker"
         : norm == TC_NORM_UTTERANCE ? "utterance"
         : norm == TC_NORM_RUNNING   ? "running"
                                     : "global";
}

int tc_norm_parse(const char *s) {
  for (int n = TC_NORM_GLOBAL; n <= TC_NORM_RUNNING; n++)
    if (!strcmp(s, tc_norm_name(n))) return n;
  return -1;
}

/* --norm running: every speaker's gated statistics over all its clips */
static int speaker_stats(const tc_opts *o, const ser_model_spec *spec, tc_data *d, const char *cmd) {
  uint32_t dim = ser_feature_dim(&spec->feat);
  ser_error err;
  ser_spknorm_params p = o->spk;
  p.memory_s = 0; /* never forget: the whole speaker */
  ser_mfcc *m = ser_mfcc_new(&spec->feat, &err);
  ser_spknorm *sn = m ? ser_spknorm_new(dim, (double)spec->feat.sample_rate / spec->feat.hop_length, NULL, NULL,
                                        &p, &err)
                      : NULL;
  d->sstats = malloc((size_t)d->n_speakers * 2 * dim * sizeof(float));
  if (!m || !sn || !d->sstats) {
    fprintf(stderr, "ser %s: speaker statistics: %s\n", cmd, d->sstats ? err.msg : "out of memory");
    ser_spknorm_free(sn);
    ser_mfcc_free(m);
    return -1;
  }
  for (uint32_t g = 0; g < d->n_speakers; g++) {
    ser_spknorm_reset(sn);
    for (size_t i = 0; i < d->n; i++)
      if (d->clips[i].speaker == g) ser_spknorm_feed_clip(sn, m, d->clips[i].audio, d->clips[i].n);
    ser_spknorm_stats(sn, d->sstats + (size_t)g * 2 * dim, d->sstats + (size_t)g * 2 * dim + dim);
  }
  ser_spknorm_free(sn);
  ser_mfcc_free(m);
  return 0;
}

void tc_running_prior_add(const tc_data *d, const unsigned char *use, uint32_t dim, double *acc) {
  for (uint32_t g = 0; g < d->n_speakers; g++) {
    if (use && !use[g]) continue;
    const float *mean = d->sstats + (size_t)g * 2 * dim, *sd = mean + dim;
    for (uint32_t k = 0; k < dim; k++) {
      acc[k] += mean[k];
      acc[dim + k] += (double)sd[k] * sd[k];
    }
    acc[2 * dim] += 1;
  }
}

void tc_running_prior_finish(const double *acc, uint32_t dim, float *mean, float *std) {
  double n = acc[2 * dim] > 0 ? acc[2 * dim] : 1;
  for (uint32_t k = 0; k < dim; k++) {
    mean[k] = (float)(acc[k] / n);
    std[k] = acc[2 * dim] > 0 ? (float)sqrt(acc[dim + k] / n) : 1.0f;
  }
}

int tc_running_states(const tc_opts *o, const ser_model_spec *spec, tc_data *d, const float *prior_mean,
                      const float *prior_std, const char *cmd) {
  uint32_t dim = ser_feature_dim(&spec->feat);
  ser_error err;
  ser_mfcc *m = ser_mfcc_new(&spec->feat, &err);
  ser_spknorm *sn = m ? ser_spknorm_new(dim, (double)spec->feat.sample_rate / spec->feat.hop_length, prior_mean,
                                        prior_std, &o->spk, &err)
                      : NULL;
  size_t *ord = malloc((d->n ? d->n : 1) * sizeof *ord);
  if (!m || !sn || !ord) {
    fprintf(stderr, "ser %s: running speaker statistics: %s\n", cmd, ord ? err.msg : "out of memory");
    ser_spknorm_free(sn);
    ser_mfcc_free(m);
    free(ord);
    return -1;
  }
  for (uint32_t g = 0; g < d->n_speakers; g++) {
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++)
      if (d->clips[i].speaker == g) ord[k++] = i;
    ser_rng r; /* the order the voice's clips are heard in, fixed by the speaker's name */
    uint64_t h = 0x72756e6eULL;
    for (const char *c = d->speakers[g]; *c; c++) h = h * 131 + (unsigned char)*c;
    ser_rng_seed(&r, h);
    for (size_t i = 0; i + 1 < k; i++) {
      size_t j = i + ser_rng_below(&r, (uint32_t)(k - i));
      size_t t = ord[i];
      ord[i] = ord[j];
      ord[j] = t;
    }
    ser_spknorm_reset(sn);
    for (size_t i = 0; i < k; i++) {
      float *mean = d->gstats + ord[i] * 2 * dim;
      ser_spknorm_stats(sn, mean, mean + dim);
      ser_spknorm_feed_clip(sn, m, d->clips[ord[i]].audio, d->clips[ord[i]].n);
    }
  }
  ser_spknorm_free(sn);
  ser_mfcc_free(m);
  free(ord);
  return 0;
}

int tc_group_norm(const tc_opts *o, const ser_model_spec *spec, tc_data *d, const char *cmd) {
  for (size_t i = 0; i < d->n; i++) d->clips[i].norm_mean = d->clips[i].norm_std = NULL;
  free(d->gstats);
  d->gstats = NULL;
  free(d->sstats);
  d->sstats = NULL;
  if (o->norm == TC_NORM_GLOBAL || d->n == 0) return 0;
  uint32_t dim = ser_feature_dim(&spec->feat);
  if (o->norm == TC_NORM_RUNNING) {
    /* the speakers' statistics now; the clips' once the prior is known
     * (tc_running_states, which every caller runs before training or
     * testing): until then NaN, so that a path that forgot it fails loudly
     * instead of using the speaker's own (transductive) statistics */
    d->gstats = malloc(d->n * 2 * dim * sizeof(float));
    if (!d->gstats) {
      fprintf(stderr, "ser %s: out of memory\n", cmd);
      return -1;
    }
    if (speaker_stats(o, spec, d, cmd) < 0) return -1;
    for (size_t i = 0; i < d->n; i++) {
      for (size_t k = 0; k < 2 * (size_t)dim; k++) d->gstats[i * 2 * dim + k] = NAN;
      d->clips[i].norm_mean = d->gstats + i * 2 * dim;
      d->clips[i].norm_std = d->gstats + i * 2 * dim + dim;
    }
    return 0;
  }
  /* --norm-clips K: a group per clip, made of K other clips of its speaker */
  const int per_clip = o->norm == TC_NORM_UTTERANCE || o->norm_clips > 0;
  size_t groups = per_clip ? d->n : d->n_speakers;
  ser_clip *sel = malloc(d->n * sizeof *sel);
  d->gstats = malloc(groups * 2 * dim * sizeof(float));
  if (!sel || !d->gstats) {
    free(sel);
    fprintf(stderr, "ser %s: out of memory\n", cmd);
    return -1;
  }
  ser_error err;
  for (size_t g = 0; g < groups; g++) {
    size_t m = 0;
    if (o->norm == TC_NORM_SPEAKER && o->norm_clips > 0) {
      /* the other clips of g's speaker, then K of them in a random order
       * fixed by the clip's index */
      for (size_t i = 0; i < d->n; i++)
        if (i != g && d->clips[i].speaker == d->clips[g].speaker) sel[m++] = d->clips[i];
      ser_rng r;
      ser_rng_seed(&r, 0x6e6f726dULL + g);
      for (size_t i = 0; i < m && i < (size_t)o->norm_clips; i++) {
        size_t j = i + ser_rng_below(&r, (uint32_t)(m - i));
        ser_clip t = sel[i];
        sel[i] = sel[j];
        sel[j] = t;
      }
      if (m > (size_t)o->norm_clips) m = (size_t)o->norm_clips;
      if (m == 0) sel[m++] = d->clips[g]; /* a speaker with one clip: its own */
    } else if (o->norm == TC_NORM_SPEAKER) {
      for (size_t i = 0; i < d->n; i++)
        if (d->clips[i].speaker == g) sel[m++] = d->clips[i];
    } else sel[m++] = d->clips[g];
    float *mean = d->gstats + g * 2 * dim, *sd = mean + dim;
    if (ser_train_feature_stats(spec, sel, m, mean, sd, &err) < 0) {
      fprintf(stderr, "ser %s: %s statistics of %s: %s\n", cmd, tc_norm_name(o->norm),
              per_clip ? d->paths[g] : d->speakers[g], err.msg);
      free(sel);
      return -1;
    }
  }
  free(sel);
  for (size_t i = 0; i < d->n; i++) {
    size_t g = per_clip ? i : d->clips[i].speaker;
    d->clips[i].norm_mean = d->gstats + g * 2 * dim;
    d->clips[i].norm_std = d->gstats + g * 2 * dim + dim;
  }
  return 0;
}

int tc_norm_stats(const tc_opts *o, ser_model_spec *spec, const ser_clip *tr, size_t ntr, ser_error *err) {
  if (o->norm == TC_NORM_GLOBAL) return ser_train_norm_stats(spec, tr, ntr, err);
  uint32_t dim = ser_feature_dim(&spec->feat);
  float *mean = malloc(dim * sizeof(float)), *sd = malloc(dim * sizeof(float));
  if (!mean || !sd) {
    free(mean), free(sd);
    return ser_fail(err, "normalisation: out of memory");
  }
  free(spec->norm_mean);
  free(spec->norm_std);
  spec->norm_mean = spec->norm_std = NULL;
  if (ser_train_feature_stats(spec, tr, ntr, mean, sd, err) < 0) {
    free(mean), free(sd);
    return -1;
  }
  spec->norm_mean = mean;
  spec->norm_std = sd;
  return 0;
}

int tc_build_spec(const tc_opts *o, uint64_t seed, ser_model_spec *spec, const char *cmd) {
  ser_error err;
  const char *lab[TC_MAX_LABELS];
  for (uint32_t k = 0; k < o->n_labels; k++) lab[k] = o->labels[k];
  if (ser_arch_build(&o->arch, &o->feat, lab, o->n_labels, seed, spec, &err) < 0) {
    fprintf(stderr, "ser %s: %s\n", cmd, err.msg);
    return -1;
  }
  return 0;
}

/* A network's training result in its final.sermodel (tc_train_members), and back. */
static void result_to_meta(ser_model_spec *s, const ser_train_result *r) {
  char v[64];
  snprintf(v, sizeof v, "%u", r->epochs_run);
  ser_model_spec_set_meta(s, "epochs_run", v);
  snprintf(v, sizeof v, "%u", r->best_epoch);
  ser_model_spec_set_meta(s, "best_epoch", v);
  snprintf(v, sizeof v, "%u", r->avg_epochs);
  ser_model_spec_set_meta(s, "avg_epochs", v);
  snprintf(v, sizeof v, "%.17g", r->best_val_ua);
  ser_model_spec_set_meta(s, "val_ua", v);
  snprintf(v, sizeof v, "%.3f", r->seconds);
  ser_model_spec_set_meta(s, "train_seconds", v);
}

/* DIR/netj/final.sermodel: the network over its input, and only its
 * training result as metadata (s itself is not changed). */
static int write_final(const ser_model_spec *s, const ser_train_result *r, const char *path, ser_error *err) {
  ser_model_spec w = *s; /* shallow: its own metadata only */
  w.n_meta = 0;
  w.meta_keys = w.meta_values = NULL;
  result_to_meta(&w, r);
  int rc = ser_model_spec_write(&w, path, err);
  for (uint32_t i = 0; i < w.n_meta; i++) free(w.meta_keys[i]), free(w.meta_values[i]);
  free(w.meta_keys);
  free(w.meta_values);
  return rc;
}

static void result_from_meta(const ser_model_spec *s, ser_train_result *r) {
  memset(r, 0, sizeof *r);
  r->best_val_ua = -1;
  for (uint32_t i = 0; i < s->n_meta; i++) {
    const char *k = s->meta_keys[i], *v = s->meta_values[i];
    if (!strcmp(k, "epochs_run")) r->epochs_run = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(k, "best_epoch")) r->best_epoch = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(k, "avg_epochs")) r->avg_epochs = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(k, "val_ua")) r->best_val_ua = strtod(v, NULL);
    else if (!strcmp(k, "train_seconds")) r->seconds = strtod(v, NULL);
  }
}

/* Network j's own split: the validation speakers tc_pick_val picks with
 * rs->val_seed + j (marked in mark), the rest of the pool and the extra
 * clips train. */
static void member_split(const tc_opts *o, const tc_resplit *rs, uint32_t j, unsigned char *mark, ser_clip *tr,
                         size_t *ntr, ser_clip *va, size_t *nva) {
  tc_pick_val(o, rs->spk, rs->n_spk, rs->d, rs->val_seed + j, mark);
  *ntr = *nva = 0;
  for (size_t i = 0; i < rs->n_pool; i++) {
    if (mark[rs->pool[i].speaker]) va[(*nva)++] = rs->pool[i];
    else tr[(*ntr)++] = rs->pool[i];
  }
  for (size_t i = 0; i < rs->n_extra; i++) tr[(*ntr)++] = rs->extra[i];
}

/* A freshly initialised network (seed) over spec's input: its normalisation
 * and speaker statistics are copies of spec's. */
static int fresh_net(const tc_opts *o, const ser_model_spec *spec, uint64_t seed, ser_model_spec *net,
                     const char *cmd) {
  ser_error err;
  memset(net, 0, sizeof *net);
  if (tc_build_spec(o, seed, net, cmd) < 0) return -1;
  ser_model_spec in;
  if (ser_model_spec_copy(&in, spec, &err) < 0) {
    fprintf(stderr, "ser %s: %s\n", cmd, err.msg);
    ser_model_spec_clear(net);
    return -1;
  }
  net->norm_mean = in.norm_mean, net->norm_std = in.norm_std;
  net->spk_mean = in.spk_mean, net->spk_std = in.spk_std, net->spk = in.spk;
  in.norm_mean = in.norm_std = in.spk_mean = in.spk_std = NULL;
  ser_model_spec_clear(&in);
  return 0;
}

/* Copies of clips[0..n) whose soft targets are the teacher's tempered
 * probabilities, stored in probs (n x n_labels). */
static int teach_clips(ser_model_spec *teacher, float temp, const ser_clip *clips, size_t n, ser_clip *out,
                       float *probs, const char *cmd) {
  ser_error err;
  uint32_t nn = ser_model_spec_n_nets(teacher), K = teacher->n_labels;
  ser_model_spec views[SER_MAX_NETS];
  ser_tnet *ev[SER_MAX_NETS] = {0};
  int rc = -1;
  for (uint32_t j = 0; j < nn; j++) {
    ser_model_spec_net_view(teacher, j, &views[j]);
    if (!(ev[j] = ser_tnet_new(&views[j], 1, teacher->in_len, &err))) goto out;
  }
  for (size_t i = 0; i < n; i++) {
    float *P = probs + i * K, p[64];
    double sum = 0;
    for (uint32_t k = 0; k < K; k++) P[k] = 0;
    for (uint32_t j = 0; j < nn; j++) {
      if (ser_train_classify(ev[j], &clips[i], p, &err) < 0) goto out;
      for (uint32_t k = 0; k < K; k++) P[k] += p[k] / (float)nn;
    }
    for (uint32_t k = 0; k < K; k++) sum += P[k] = powf(P[k] > 0 ? P[k] : 0, 1 / temp);
    for (uint32_t k = 0; k < K; k++) P[k] = sum > 0 ? (float)(P[k] / sum) : 1.f / (float)K;
    out[i] = clips[i];
    out[i].soft = P;
  }
  rc = 0;
out:
  if (rc < 0) fprintf(stderr, "ser %s: teacher: %s\n", cmd, err.msg);
  for (uint32_t j = 0; j < nn; j++) ser_tnet_free(ev[j]);
  return rc;
}

/* --distill: the teacher (o->distill networks after the members' seeds),
 * then the members on the teacher's targets (tc_train_members). */
static int train_distilled(const tc_opts *o, ser_model_spec *spec, uint64_t init_seed, uint64_t init_step,
                           const ser_clip *tr, size_t ntr, const ser_clip *va, size_t nva, const tc_resplit *rs,
                           const char *pre, ser_train_result *res, const char *cmd) {
  tc_opts to = *o, so = *o;
  to.members = o->distill;
  to.distill = so.distill = 0;
  to.train.seed = o->train.seed + o->members;
  char tdir[4096], tpre[160];
  const char *dir = o->train.checkpoint_dir;
  if (dir) {
    snprintf(tdir, sizeof tdir, "%s/teacher", dir);
    if ((mkdir(dir, 0777) != 0 && errno != EEXIST) || (mkdir(tdir, 0777) != 0 && errno != EEXIST)) {
      fprintf(stderr, "ser %s: %s: cannot create: %s\n", cmd, tdir, strerror(errno));
      return -1;
    }
    to.train.checkpoint_dir = tdir;
  }
  snprintf(tpre, sizeof tpre, "%steacher: ", pre ? pre : "");
  tc_resplit trs;
  if (rs) trs = *rs, trs.val_seed = rs->val_seed + o->members;
  ser_model_spec teacher;
  if (fresh_net(o, spec, init_seed + o->members * init_step, &teacher, cmd) < 0) return -1;
  if (!o->quiet) fprintf(stderr, "ser %s: %sa teacher of %u network%s first\n", cmd, pre ? pre : "", o->distill,
                           o->distill > 1 ? "s" : "");
  if (tc_train_members(&to, &teacher, init_seed + o->members * init_step, init_step, tr, ntr, va, nva,
                       rs ? &trs : NULL, tpre, res, cmd) < 0) {
    ser_model_spec_clear(&teacher);
    return -1;
  }
  double tsec = res->seconds;
  size_t np = rs ? rs->n_pool : 0, nx = rs ? rs->n_extra : 0, all = ntr + np + nx;
  uint32_t K = spec->n_labels;
  ser_clip *c = malloc((all + 1) * sizeof *c);
  float *probs = malloc(((all + 1) * K) * sizeof(float));
  int rc = -1;
  if (!c || !probs) {
    fprintf(stderr, "ser %s: out of memory\n", cmd);
    goto out;
  }
  if (teach_clips(&teacher, o->distill_temp, tr, ntr, c, probs, cmd) < 0 ||
      (np && teach_clips(&teacher, o->distill_temp, rs->pool, np, c + ntr, probs + ntr * K, cmd) < 0) ||
      (nx && teach_clips(&teacher, o->distill_temp, rs->extra, nx, c + ntr + np, probs + (ntr + np) * K, cmd) < 0))
    goto out;
  if (!o->quiet) { /* what the teacher adds to the labels on network 1's training clips */
    size_t agree = 0;
    double plab = 0;
    for (size_t i = 0; i < ntr; i++) {
      const float *P = c[i].soft;
      uint32_t am = 0;
      for (uint32_t k = 1; k < K; k++)
        if (P[k] > P[am]) am = k;
      agree += am == c[i].label;
      plab += P[c[i].label];
    }
    fprintf(stderr, "ser %s: %steacher on %zu training clips: first choice the label for %.1f %%, mean probability "
                    "of the label %.3f (tempered)\n", cmd, pre ? pre : "", ntr, ntr ? 100.0 * agree / ntr : 0,
            ntr ? plab / ntr : 0);
  }
  tc_resplit srs;
  if (rs) srs = *rs, srs.pool = c + ntr, srs.extra = c + ntr + np;
  rc = tc_train_members(&so, spec, init_seed, init_step, c, ntr, va, nva, rs ? &srs : NULL, pre, res, cmd);
  res->seconds += tsec;
out:
  free(c), free(probs);
  ser_model_spec_clear(&teacher);
  return rc;
}

int tc_train_members(const tc_opts *o, ser_model_spec *spec, uint64_t init_seed, uint64_t init_step,
                     const ser_clip *tr, size_t ntr, const ser_clip *va, size_t nva, const tc_resplit *rs,
                     const char *pre, ser_train_result *res, const char *cmd) {
  if (o->distill) return train_distilled(o, spec, init_seed, init_step, tr, ntr, va, nva, rs, pre, res, cmd);
  ser_error err;
  ser_clip *rtr = NULL, *rva = NULL; /* network j's own split (rs) */
  unsigned char *mark = NULL;
  if (rs && o->members > 1) {
    rtr = malloc((rs->n_pool + rs->n_extra + 1) * sizeof *rtr);
    rva = malloc((rs->n_pool + 1) * sizeof *rva);
    mark = calloc(rs->d->n_speakers + 1, 1);
    if (!rtr || !rva || !mark) {
      free(rtr), free(rva), free(mark);
      fprintf(stderr, "ser %s: out of memory\n", cmd);
      return -1;
    }
  }
  double seconds = 0;
  const char *dir = o->train.checkpoint_dir;
  if (dir && o->members > 1 && mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "ser %s: %s: cannot create: %s\n", cmd, dir, strerror(errno));
    goto fail;
  }
  for (uint32_t j = 0; j < o->members; j++) {
    ser_model_spec net, *t = spec;
    memset(&net, 0, sizeof net);
    if (j) { /* a fresh network over the same input */
      if (fresh_net(o, spec, init_seed + j * init_step, &net, cmd) < 0) goto fail;
      t = &net;
    }
    ser_train_options to = o->train;
    to.seed = o->train.seed + j;
    char mdir[4096], final[4200], mpre[160];
    if (dir && o->members > 1) {
      snprintf(mdir, sizeof mdir, "%s/net%u", dir, j + 1);
      snprintf(final, sizeof final, "%s/final.sermodel", mdir);
      to.checkpoint_dir = mdir;
    }
    snprintf(mpre, sizeof mpre, "%snetwork %u/%u: ", pre ? pre : "", j + 1, o->members);
    if (o->members > 1 && to.progress_user) ((tc_progress *)to.progress_user)->prefix = mpre;
    ser_model_spec done;
    int have = 0;
    if (dir && o->members > 1 && o->train.resume && access(final, R_OK) == 0) {
      if (ser_model_spec_read(final, &done, &err) < 0) {
        fprintf(stderr, "ser %s: %s\n", cmd, err.msg);
        ser_model_spec_clear(&net);
        goto fail;
      }
      have = 1;
      if (!o->quiet) fprintf(stderr, "ser %s: network %u/%u: taken from %s\n", cmd, j + 1, o->members, final);
    }
    int rc = 0;
    if (have && ser_model_spec_same_input(t, &done, &err) < 0) {
      fprintf(stderr, "ser %s: %s: not from this run's data and options: %s\n", cmd, final, err.msg);
      ser_model_spec_clear(&done);
      ser_model_spec_clear(&net);
      goto fail;
    }
    if (have) { /* the finished network's layers, over this run's input */
      ser_layer *l = t->layers;
      uint32_t nl = t->n_layers;
      t->layers = done.layers, t->n_layers = done.n_layers;
      done.layers = l, done.n_layers = nl;
      result_from_meta(&done, res);
      ser_model_spec_clear(&done);
      rc = ser_model_spec_check(t, &err);
    } else {
      if (dir && o->members > 1) {
        char state[4200];
        snprintf(state, sizeof state, "%s/last.state", mdir);
        to.resume = o->train.resume && access(state, R_OK) == 0;
      }
      const ser_clip *jtr = tr, *jva = va;
      size_t jntr = ntr, jnva = nva;
      if (j && rtr) member_split(o, rs, j, mark, rtr, &jntr, rva, &jnva), jtr = rtr, jva = rva;
      if (o->members > 1 && !o->quiet) {
        fprintf(stderr, "ser %s: %snetwork %u/%u: training on %zu clips, validating on %zu", cmd, pre ? pre : "",
                j + 1, o->members, jntr, jnva);
        if (j && rtr) {
          const char *sep = " (";
          for (uint32_t g = 0; g < rs->d->n_speakers; g++)
            if (mark[g]) fprintf(stderr, "%s%s", sep, rs->d->speakers[g]), sep = ",";
          if (*sep == ',') fprintf(stderr, ")");
        }
        fprintf(stderr, "\n");
      }
      rc = ser_train(t, jtr, jntr, jva, jnva, &to, res, &err);
      if (rc == 0 && dir && o->members > 1) rc = write_final(t, res, final, &err);
    }
    if (rc == 0 && j) rc = ser_model_spec_add_nets(spec, &net, &err);
    ser_model_spec_clear(&net);
    if (o->members > 1 && to.progress_user) ((tc_progress *)to.progress_user)->prefix = pre;
    if (rc < 0) {
      fprintf(stderr, "ser %s: %s\n", cmd, err.msg);
      goto fail;
    }
    seconds += res->seconds;
  }
  res->seconds = seconds;
  free(rtr), free(rva), free(mark);
  return 0;
fail:
  free(rtr), free(rva), free(mark);
  return -1;
}

void tc_pick_val(const tc_opts *o, const uint32_t *spk, uint32_t n_spk, const tc_data *d,
                 uint64_t seed, unsigned char *mark) {
  memset(mark, 0, d->n_speakers);
  if (o->val_n == -2 && o->val_list) {
    char **v = tc_split(o->val_list, NULL);
    for (char **q = v; q && *q; q++)
      for (uint32_t k = 0; k < n_spk; k++)
        if (!strcmp(d->speakers[spk[k]], *q)) mark[spk[k]] = 1;
    tc_split_free(v);
    return;
  }
  uint32_t want = o->val_n >= 0 ? (uint32_t)o->val_n : (uint32_t)((n_spk + 5) / 10);
  if (o->val_n < 0 && want < 1) want = 1;
  if (want >= n_spk) want = n_spk > 1 ? n_spk - 1 : 0;
  /* deterministic shuffle of the candidates */
  uint32_t *c = malloc(n_spk * sizeof(uint32_t));
  memcpy(c, spk, n_spk * sizeof(uint32_t));
  ser_rng r;
  ser_rng_seed(&r, seed ^ 0x7a1d5eedULL);
  for (uint32_t i = n_spk; i > 1; i--) {
    uint32_t j = ser_rng_below(&r, i), t = c[i - 1];
    c[i - 1] = c[j];
    c[j] = t;
  }
  for (uint32_t k = 0; k < want; k++) mark[c[k]] = 1;
  free(c);
}

/* ---- progress ---------------------------------------------------------------- */

static void fmt_time(char *b, size_t n, double s) {
  if (s < 0) s = 0;
  int h = (int)(s / 3600), m = (int)(fmod(s, 3600) / 60), sec = (int)fmod(s, 60);
  if (h) snprintf(b, n, "%dh%02dm", h, m);
  else snprintf(b, n, "%dm%02ds", m, sec);
}

void tc_progress_fn(void *user, const ser_train_progress *p) {
  tc_progress *g = user;
  if (g->quiet) return;
  char el[32], eta[32];
  fmt_time(el, sizeof el, p->elapsed_s);
  fmt_time(eta, sizeof eta, p->eta_s);
  const char *pre = g->prefix ? g->prefix : "";
  if (g->tty) {
    int width = 24, fill = p->steps ? (int)((double)p->step / p->steps * width) : width;
    char bar[32];
    for (int k = 0; k < width; k++) bar[k] = k < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r%sepoch %u/%u [%s] loss %.3f acc %.1f%%", pre, p->epoch, p->epochs, bar, p->loss,
            100 * p->train_acc);
    if (p->best_val_ua >= 0) fprintf(stderr, " val UA %.1f%% (best %.1f%% @%u)", p->val_ua >= 0 ? 100 * p->val_ua : 100 * p->best_val_ua, 100 * p->best_val_ua, p->best_epoch);
    fprintf(stderr, " %s, left %s   ", el, eta);
    if (p->epoch_done && p->epoch == p->epochs) fprintf(stderr, "\n");
  } else if (p->epoch_done) {
    fprintf(stderr, "%sepoch %u/%u loss %.4f train acc %.1f%%", pre, p->epoch, p->epochs, p->loss,
            100 * p->train_acc);
    if (p->val_ua >= 0)
      fprintf(stderr, " val UA %.1f%% WA %.1f%% (best UA %.1f%% at epoch %u)", 100 * p->val_ua, 100 * p->val_wa,
              100 * p->best_val_ua, p->best_epoch);
    fprintf(stderr, " elapsed %s left %s\n", el, eta);
  }
}
