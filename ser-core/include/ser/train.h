/* ser-core: training (backpropagation, AdamW). Owned by the training work;
 * see docs/training.md. */
#ifndef SER_TRAIN_H
#define SER_TRAIN_H

#include "model.h"
#include "augment.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Architectures --------------------------------------------------- */

typedef struct ser_arch_config {
  uint32_t arch;          /* ser_arch */
  uint32_t n_channels;    /* temporal: conv blocks (<= 8) */
  uint32_t channels[8];   /* temporal: output channels per block; 32,64,128,128 */
  uint32_t kernel;        /* temporal: conv kernel (odd); 5 */
  uint32_t cbam_from;     /* temporal: CBAM after blocks with index >= this (0-based); 2 */
  uint32_t reduction;     /* channel attention reduction; 8 (paper: 16) */
  uint32_t sa_kernel;     /* spatial attention kernel (odd); 7 */
  float dropout;          /* before the classifier; 0.3 (paper: 0.2) */
  float window_s;         /* temporal: training window / default analysis window; 2.0 s */
} ser_arch_config;

void ser_arch_config_default(ser_arch_config *c, uint32_t arch);

/* Builds a spec with freshly initialised weights (Kaiming-uniform, as
 * PyTorch's defaults; batch norm gamma 1, beta 0, running stats 0/1).
 * feat: feature parameters (temporal: any; paper: the paper preset).
 * Labels are copied. Normalisation is left NULL (see ser_train_norm_stats). */
int ser_arch_build(const ser_arch_config *c, const ser_feature_params *feat,
                   const char *const *labels, uint32_t n_labels, uint64_t seed,
                   ser_model_spec *out, ser_error *err);

/* ---- Training network (layers with gradients) ------------------------- */

/* A spec's layers prepared for training on batches of `batch` inputs of
 * `frames` frames (temporal; for paper, frames = in_len). The spec is
 * borrowed: its params are read and updated in place, and batch norm running
 * statistics are updated by training-mode forward passes. Inputs are
 * time-major like ser_net_forward: frames rows of in_ch floats per sample. */
typedef struct ser_tnet ser_tnet;

ser_tnet *ser_tnet_new(ser_model_spec *spec, uint32_t batch, uint32_t frames,
                       ser_error *err);
void ser_tnet_free(ser_tnet *t);
/* Total parameter count (the length of gradient buffers). */
size_t ser_tnet_n_params(const ser_tnet *t);
/* Weight of the current batch in batch norm's running statistics at the next
 * training-mode forward: running = (1 - m) running + m batch (default 0.1, as
 * PyTorch). 1 / (k + 1) at the k-th batch (0-based) makes them the plain mean
 * over the batches seen, as PyTorch's momentum=None. Only the net with thread
 * id 0 writes the running statistics. */
void ser_tnet_set_bn_momentum(ser_tnet *t, double momentum);
/* Forward pass of b <= batch samples of `frames` frames (<= the frames given
 * at creation). training: batch norm uses batch statistics (and updates the
 * running ones), dropout is active with masks drawn from seeds[i] (one per
 * sample; NULL = seed 0). probs: b x n_labels. */
int ser_tnet_forward(ser_tnet *t, const float *x, uint32_t b, uint32_t frames,
                     int training, const uint64_t *seeds, float *probs,
                     ser_error *err);
/* Backward pass of the last forward (which must have been training mode or
 * eval mode; the gradient is that of the mode used). Loss =
 * sum_i weights[i] * -log(p_i[labels[i]]) / wsum. Gradients are ADDED to
 * grad (ser_tnet_n_params floats, parameters in spec layer order, each in the
 * layout of model.h). Returns the loss contribution of these samples. */
double ser_tnet_backward(ser_tnet *t, const uint32_t *labels,
                         const float *weights, double wsum, float *grad);
/* The same with soft targets (mixup, label smoothing): targets is b x
 * n_labels, each row the sample's weighted target distribution (a row
 * w * one-hot(label) gives exactly ser_tnet_backward). Loss =
 * sum_i sum_k T_ik * -log(p_ik) / wsum. */
double ser_tnet_backward_soft(ser_tnet *t, const float *targets, double wsum, float *grad);

/* ---- Datasets and the training loop ---------------------------------- */

/* One decoded clip: mono float audio at the model's rate. */
typedef struct ser_clip {
  const float *audio; /* borrowed */
  size_t n;
  uint32_t label;     /* index into the label set */
  uint32_t speaker;   /* index into the caller's speaker list */
  /* Optional group normalisation (speaker or utterance statistics; NULL =
   * none, today's behaviour): ser_feature_dim floats each, borrowed. When
   * set, the clip's features are normalised x' = (x - norm_mean) / norm_std
   * first and then with the spec's statistics, in training (every augmented
   * crop and perturbed copy of the clip alike), validation and
   * ser_train_classify*. See ser_train_feature_stats and docs/training.md. */
  const float *norm_mean;
  const float *norm_std;
  /* Optional distillation target (NULL = none): a teacher's probabilities
   * for this clip, n_labels floats summing to 1, borrowed. A training clip
   * with one learns (1 - distill_alpha) x its label's target (smoothed as
   * label_smoothing says) + distill_alpha x soft. Ignored in validation. */
  const float *soft;
  /* Balance group (the clip's corpus), read only with balanced = 2: the
   * classes are weighted to the same total within each group. Groups are
   * numbered from 0, below SER_TRAIN_MAX_GROUPS (counts are kept per group
   * and class). */
  uint32_t group;
} ser_clip;

#define SER_TRAIN_MAX_GROUPS 4096u

/* The loss weight of each of n training clips, in w[0..n). balanced 0: 1.
 * 1: n / (K n_k) (K classes present, n_k clips of class k): every class
 * weighs the same in total. 2: the same within each clip's group (corpus),
 * n_g / (K_g n_gk): within every corpus its classes weigh the same, so a
 * class that only one corpus has is not favoured on that corpus's voices, and
 * each group keeps its total weight n_g. Returns 0, or -1 for a label >=
 * n_labels, a group >= SER_TRAIN_MAX_GROUPS or no memory. */
int ser_train_class_weights(const ser_clip *train, size_t n, uint32_t n_labels, int balanced, float *w);

typedef struct ser_train_progress {
  uint32_t epoch, epochs;   /* 1-based epoch just finished (or running) */
  uint32_t step, steps;     /* within the epoch */
  double loss;              /* mean training loss so far this epoch */
  double train_acc;         /* training accuracy so far this epoch (augmented crops) */
  double val_ua, val_wa;    /* -1 if no validation set */
  double best_val_ua;
  uint32_t best_epoch;
  double elapsed_s, eta_s;
  int epoch_done;           /* 1 at the end of an epoch */
} ser_train_progress;

typedef void (*ser_progress_fn)(void *user, const ser_train_progress *p);

typedef struct ser_train_options {
  uint32_t epochs;          /* 80 */
  uint32_t batch;           /* 16 */
  float lr;                 /* peak learning rate; 2e-3 */
  float weight_decay;       /* AdamW decoupled decay on conv/dense weights; 1e-3 */
  float warmup_epochs;      /* linear warm-up, then cosine to lr * min_lr_frac; 3 */
  float min_lr_frac;        /* 0.02 */
  uint32_t patience;        /* early stopping: epochs without val UA gain; 0 = off (default) */
  uint32_t min_epochs;      /* never stop early before this epoch; 0 = half of `epochs` */
  uint32_t threads;         /* worker threads; 0 = number of cores */
  uint64_t seed;            /* 1 */
  int balanced;             /* class-weighted loss. 0: off; 1 (default): weights n / (k n_c) over all
                             * training clips; 2: the same within each clip's group (corpus),
                             * n_g / (k_g n_gc): see ser_clip.group */
  int specaugment;          /* 1: SpecAugment on training features */
  ser_augment_config aug;   /* audio augmentation of training clips (defaults: ser_augment_config_default) */
  uint32_t aug_variants;    /* speed and pitch are costly: 0 = apply them on the fly; N > 0 (default
                             * 2) = make N speed- or pitch-perturbed copies of every training clip
                             * once (alternately speed and pitch, random amounts in the configured
                             * ranges) and draw one with probability min(1, p_speed + p_pitch)
                             * each time a clip is used; noise, gain, shift and SpecAugment stay
                             * on the fly */
  const char *checkpoint_dir; /* NULL: no checkpoints; else last.sermodel, last.state, best.sermodel */
  int resume;               /* resume from checkpoint_dir/last.* */
  uint32_t stop_after;      /* stop after this many epochs in total (0 = run all `epochs`); the
                             * schedule still spans `epochs`, so a later resume continues it */
  float label_smoothing;    /* 0 (off): targets (1 - e) one-hot + e / n_labels */
  float distill_alpha;      /* 0.5: weight of a clip's soft (teacher) target where it has one */
  float mixup_alpha;        /* 0 (off): mix each training input with another of the same
                             * mini-batch, lambda ~ Beta(a, a) folded to >= 0.5; targets mixed
                             * in the same proportion (each with its class weight) */
  uint32_t avg_epochs;      /* 0 (off): the kept weights are the average of the weights at the
                             * end of the last N epochs (batch-norm running statistics averaged
                             * too) instead of the best validation epoch's */
  int aug_pitch_norm;       /* 0 (off). With pitch features, group statistics (norm_mean of the
                             * clips: speaker or running normalisation) and precomputed speed/pitch
                             * copies (aug_variants): a copy whose pitch moved by log2 factor d is
                             * normalised with its group's log-pitch mean moved by d, so its pitch
                             * relative to its voice is the original clip's (the copy is treated
                             * as a voice of its own pitch, not as the speaker sounding higher) */
  int virtual_speakers;     /* 0 (off). With aug_variants and the running speaker normaliser
                             * (vs_prior_mean set, every training clip's norm_mean/norm_std set):
                             * Kaldi-style virtual speakers. Copy v of every clip of speaker g is
                             * perturbed by the same amount a(g, v) (one speed factor or pitch
                             * shift per speaker and copy), and the copies of (g, v) are
                             * normalised as a voice of their own: by a running normaliser from
                             * vs_prior_mean/vs_prior_std and vs_spk, fed the voice's earlier
                             * copies in a random order, as the clips' own statistics are. So a
                             * copy reaches the network as a new speaker's clip would at test
                             * time, not as its speaker sounding unlike itself */
  const float *vs_prior_mean; /* virtual_speakers: the normaliser's prior (feature dim floats each, */
  const float *vs_prior_std;  /* borrowed; the spec's spk_mean/spk_std as ser train stores them) */
  ser_spknorm_params vs_spk;  /* virtual_speakers: memory, prior weight and gate */
  float swa_lr_frac;        /* 0 (off). With avg_epochs: stochastic weight averaging. The cosine
                             * decay ends at lr * swa_lr_frac when the averaging window starts,
                             * and the rate stays there through the window, so the averaged
                             * weights come from a wider region; batch-norm running statistics
                             * are then recomputed for the averaged weights (the plain mean over
                             * one pass of training batches, augmented as in training) */
  ser_progress_fn progress; /* may be NULL */
  void *progress_user;
} ser_train_options;

void ser_train_options_default(ser_train_options *o);

/* Per-coefficient mean/std over all frames of the clips (no augmentation),
 * stored into spec->norm_mean / norm_std (temporal models; for paper models
 * per position of the flat vector's per-frame layout). Raw features: the
 * clips' norm_mean/norm_std are ignored (see ser_train_feature_stats). */
int ser_train_norm_stats(ser_model_spec *spec, const ser_clip *clips, size_t n,
                         ser_error *err);

/* Per-coefficient mean/std (population; std floored at 1e-6) over all frames
 * of the clips' features with the spec's feature parameters (no augmentation;
 * paper models: each clip padded or cut to clip_samples first, as
 * ser_train_norm_stats), each clip's frames first normalised with its own
 * norm_mean/norm_std when set. The spec's own statistics are not applied.
 * mean, std: ser_feature_dim floats. Used for speaker statistics (clips of
 * one speaker, no group normalisation) and for the global statistics of
 * group-normalised training clips. */
int ser_train_feature_stats(const ser_model_spec *spec, const ser_clip *clips, size_t n,
                            float *mean, float *std, ser_error *err);

typedef struct ser_train_result {
  uint32_t epochs_run;
  uint32_t best_epoch;      /* epoch whose weights were kept (last if no val) */
  double best_val_ua;       /* -1 without validation */
  double final_loss;
  double seconds;
  uint32_t avg_epochs;      /* weights averaged over this many last epochs (0: best/last epoch kept;
                             * then best_epoch is the last epoch and best_val_ua the average's) */
} ser_train_result;

/* Trains spec (built by ser_arch_build, normalisation set) on train; val
 * (may be empty) is used for early stopping and to keep the best weights.
 * Deterministic for a given seed and thread count. */
int ser_train(ser_model_spec *spec, const ser_clip *train, size_t n_train,
              const ser_clip *val, size_t n_val, const ser_train_options *o,
              ser_train_result *res, ser_error *err);

/* Network input of a clip: features with the spec's parameters, normalised.
 * Temporal: frames x in_ch (time-major); paper: in_len floats (clip padded or
 * cut to clip_samples first). *out malloc'd. A temporal clip shorter than
 * min_frames is repeated (tiled) up to min_frames. */
int ser_train_clip_input(const ser_model_spec *spec, const float *audio, size_t n,
                         uint32_t min_frames, float **out, uint32_t *frames,
                         ser_error *err);

/* ser_train_clip_input for a clip of a group (speaker or utterance) with
 * statistics group_mean/group_std (ser_feature_dim floats; see ser_clip):
 * features normalised (x - group_mean) / group_std, then with the spec's
 * statistics. NULL statistics: exactly ser_train_clip_input. The training
 * loop makes every training input (augmented or not) of a clip with its
 * ser_clip statistics through this function. */
int ser_train_group_input(const ser_model_spec *spec, const float *audio, size_t n,
                          const float *group_mean, const float *group_std, uint32_t min_frames,
                          float **out, uint32_t *frames, ser_error *err);

/* Whole-utterance posteriors (the semantics of `ser eval`): temporal models
 * average the posteriors of windows of in_len frames with a hop of in_len/4
 * frames over the clip (the last window aligned to the end; a clip shorter
 * than one window is tiled to one window); paper models classify the clip
 * padded or cut to clip_samples. t: an eval net from ser_tnet_new(spec, B,
 * in_len) (any batch B; windows are run B at a time). */
int ser_train_classify_clip(ser_tnet *t, const float *audio, size_t n,
                            float *probs, ser_error *err);
/* Whole-utterance posteriors from one pass of the whole clip through the
 * network (temporal models accept any length; what `ser classify
 * --utterance` does). Clips shorter than in_len frames are tiled to in_len;
 * paper models: as ser_train_classify_clip. */
int ser_train_classify_whole(ser_model_spec *spec, const float *audio, size_t n,
                             float *probs, ser_error *err);
/* The same two for a clip that may carry group statistics (ser_clip's
 * norm_mean/norm_std): its features are normalised with them, then with the
 * spec's. Without them, exactly ser_train_classify_clip / _whole.
 * ser_train_classify points the spec's normalisation at the composed
 * statistics for the duration of the call (restored before it returns): do
 * not run it concurrently with other users of the same spec. */
int ser_train_classify(ser_tnet *t, const ser_clip *c, float *probs, ser_error *err);
int ser_train_classify_whole_clip(ser_model_spec *spec, const ser_clip *c, float *probs,
                                  ser_error *err);
/* The spec a training net was made for. */
ser_model_spec *ser_tnet_spec(const ser_tnet *t);

/* Leading and trailing silence: the span [*start, *start + *len) of the clip
 * from the first to the last 25 ms frame (10 ms hop) whose level is within
 * top_db of the clip's loudest frame, widened by 100 ms each side. The whole
 * clip if nothing is found or top_db <= 0. */
void ser_train_trim(const float *x, size_t n, uint32_t sr, float top_db, size_t *start,
                    size_t *len);

/* Output length of conv/pool windows (PyTorch formula), 0 if none fit. */
uint32_t ser_train_out_len(uint32_t t, uint32_t kernel, uint32_t stride,
                           uint32_t padding, uint32_t dilation);

#ifdef __cplusplus
}
#endif
#endif
