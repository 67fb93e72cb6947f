/* Shared by `ser train` and `ser eval`: options, corpus loading with a
 * decoded-audio cache, model building, progress display. */
#ifndef SER_CLI_TRAIN_COMMON_H
#define SER_CLI_TRAIN_COMMON_H

#include <stdio.h>

#include "ser.h"

#define TC_MAX_LABELS 64

/* --norm: what the features are normalised with before the model's stored
 * (global) statistics. */
enum { TC_NORM_GLOBAL = 0, TC_NORM_SPEAKER = 1, TC_NORM_UTTERANCE = 2, TC_NORM_RUNNING = 3 };
const char *tc_norm_name(int norm);
/* The TC_NORM_* named s (as tc_norm_name writes it), or -1. */
int tc_norm_parse(const char *s);

typedef struct tc_opts {
  /* model */
  ser_arch_config arch;
  ser_feature_params feat;
  int feat_set;                 /* a feature option was given */
  char *labels[TC_MAX_LABELS];
  uint32_t n_labels;
  /* training */
  ser_train_options train;
  int val_n;                    /* validation speakers: -1 auto */
  char *val_list;               /* comma list of speakers, or NULL */
  char *speakers;               /* only these speakers (comma list), or NULL */
  const char *cache_dir;        /* NULL: default */
  int no_cache;
  const char *name;
  char *meta_kv[32];
  int n_meta;
  int quiet;
  float trim_db;                /* trim leading/trailing silence (dB below the loudest frame); 0 = off */
  int norm;                     /* TC_NORM_*: feature normalisation (--norm) */
  int norm_clips;               /* --norm speaker: statistics from this many other clips of the speaker (0 = all) */
  ser_spknorm_params spk;       /* --norm running: the normaliser (--speaker-memory) */
  uint32_t members;             /* --members: networks in the ensemble (1..SER_MAX_NETS) */
  uint32_t distill;             /* --distill: networks of the teacher ensemble (0: no teacher) */
  float distill_temp;           /* --distill-temp: the teacher's probabilities p^(1/T), renormalised */
  /* inputs */
  char **corpora;
  int n_corpora;
  char *cmdline;
} tc_opts;

/* Defaults (temporal, SPEC labels). */
void tc_opts_init(tc_opts *o);
void tc_opts_free(tc_opts *o);
/* Try to consume argv[*i] (and its value) as a shared option. Returns 1 if
 * consumed, 0 if not a shared option, -1 on a usage error (printed). */
int tc_parse_opt(tc_opts *o, int argc, char **argv, int *i, const char *cmd);
/* Help text of the shared options. */
void tc_print_opts_help(FILE *f);
/* Finish option processing (architecture-dependent defaults). */
int tc_finalize(tc_opts *o, const char *cmd);

/* A loaded dataset: decoded clips with label and speaker indices. */
typedef struct tc_data {
  size_t n;
  ser_clip *clips;
  float **audio;   /* owned */
  char **paths;    /* owned */
  char **speakers; /* distinct speakers, sorted; clips[i].speaker indexes this */
  uint32_t n_speakers;
  char corpora[256]; /* comma list of corpus names */
  size_t dropped;    /* clips whose label is not in the set */
  float *gstats;     /* --norm speaker/utterance/running: the groups' mean and std (clips point here) */
  float *sstats;     /* --norm running: every speaker's gated mean and std (for the prior) */
} tc_data;

/* Scan/load every corpus (folder or CSV), map labels, keep --speakers,
 * decode at rate (through the cache). Returns 0 or -1 (message printed). */
int tc_load(const tc_opts *o, uint32_t rate, tc_data *d, const char *cmd);
void tc_data_free(tc_data *d);

/* --norm speaker|utterance: compute every speaker's (or clip's) statistics
 * from the clips of d (decoded and trimmed, no augmentation, labels unused)
 * with spec's feature parameters and point each clip's norm_mean/norm_std at
 * them. --norm global: nothing. Returns 0 or -1 (message printed). */
int tc_group_norm(const tc_opts *o, const ser_model_spec *spec, tc_data *d, const char *cmd);
/* --norm running, after tc_group_norm: the prior (mean, std: dim floats) is
 * the average of the speakers' gated means and variances over the speakers
 * of d with use[s] set (use NULL: all), added to *acc (2 * dim + 1 doubles,
 * zeroed by the caller; tc_running_prior_finish turns it into mean/std). */
void tc_running_prior_add(const tc_data *d, const unsigned char *use, uint32_t dim, double *acc);
void tc_running_prior_finish(const double *acc, uint32_t dim, float *mean, float *std);
/* --norm running: every clip's statistics are those of a running normaliser
 * (the prior, then the speaker's earlier clips in a random order fixed per
 * speaker) when the clip starts: what the analyzer has heard of the voice
 * before the clip. Returns 0 or -1 (message printed). */
int tc_running_states(const tc_opts *o, const ser_model_spec *spec, tc_data *d, const float *prior_mean,
                      const float *prior_std, const char *cmd);

/* The model's stored statistics from the training clips: raw features
 * (ser_train_norm_stats, --norm global) or the group-normalised ones
 * (ser_train_feature_stats, about 0 and 1). */
int tc_norm_stats(const tc_opts *o, ser_model_spec *spec, const ser_clip *tr, size_t ntr, ser_error *err);

/* Build a fresh spec from the options. */
int tc_build_spec(const tc_opts *o, uint64_t seed, ser_model_spec *spec, const char *cmd);

/* Trains o->members networks over the same input (features and
 * normalisation) and makes them one ensemble in spec (built by tc_build_spec with init_seed, its
 * normalisation set): network j (0-based) is initialised with seed
 * init_seed + j * init_step and trained with o->train.seed + j, the seeds a
 * one-network run with --seed S+j uses. tr/va are network 0's clips; with
 * rs, network j >= 1 holds out its own validation speakers, those a run
 * with --seed S+j would (so the networks learn from different speakers),
 * else it uses tr/va too. The normalisation stays network 0's. With a
 * checkpoint directory and more than one network, network j keeps its
 * checkpoints in DIR/net<j+1>, and its final weights in
 * DIR/net<j+1>/final.sermodel, which --resume takes instead of training it
 * again. With o->distill = N, an N-network teacher (seeds after the
 * members', checkpoints in DIR/teacher) is trained first on the same clips
 * and the members learn from its tempered probabilities on their training
 * clips too (ser_clip.soft, o->train.distill_alpha); the teacher is not
 * kept. pre: progress prefix (or NULL). res: the last network's result,
 * seconds summed. Returns 0 or -1 (message printed). */
typedef struct tc_resplit {
  const ser_clip *pool;  /* clips that train or validate, by their speaker */
  size_t n_pool;
  const ser_clip *extra; /* clips that always train (--extra-train) */
  size_t n_extra;
  const uint32_t *spk;   /* speakers that may validate */
  uint32_t n_spk;
  const tc_data *d;
  uint64_t val_seed;     /* network j's validation speakers: tc_pick_val(..., val_seed + j) */
} tc_resplit;
int tc_train_members(const tc_opts *o, ser_model_spec *spec, uint64_t init_seed, uint64_t init_step,
                     const ser_clip *tr, size_t ntr, const ser_clip *va, size_t nva, const tc_resplit *rs,
                     const char *pre, ser_train_result *res, const char *cmd);

/* Pick validation speakers among the given training speaker indices
 * (deterministic from seed). mark[s] = 1 for validation speakers. */
void tc_pick_val(const tc_opts *o, const uint32_t *spk, uint32_t n_spk, const tc_data *d,
                 uint64_t seed, unsigned char *mark);

/* Progress reporting for ser_train (bar on a terminal, lines otherwise). */
typedef struct tc_progress {
  int tty;
  int quiet;
  const char *prefix;
} tc_progress;
void tc_progress_fn(void *user, const ser_train_progress *p);

/* Cached decode (cli/corpus_cache.c). */
int tc_cache_decode(const char *cache_dir, const char *path, uint32_t rate, float **out, size_t *n,
                    char *err, size_t errlen);
const char *tc_default_cache_dir(char *buf, size_t len);

/* Split a comma list into a NULL-terminated malloc'd array of strings. */
char **tc_split(const char *s, int *n);
/* -1, after a message naming option `opt` and the name, if a name of the
 * comma-separated `list` is none of known[0..n_known) (speaker names,
 * corpus:id); it suggests corpus:id when the name is only the id. */
int tc_check_speakers(const char *list, char *const *known, size_t n_known, const char *opt, const char *cmd);
void tc_split_free(char **v);

#endif
