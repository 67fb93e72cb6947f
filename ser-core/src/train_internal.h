/* Internal to the training code (tnet.c, train.c, arch.c). Not installed. */
#ifndef SER_TRAIN_INTERNAL_H
#define SER_TRAIN_INTERNAL_H

#include <pthread.h>

#include "ser/features.h"
#include "ser/train.h"

/* Exact batch norm across worker threads: each thread holds part of the
 * mini-batch; at every batch-norm layer they exchange per-channel partial
 * sums through `slots` and a barrier, so statistics are those of the whole
 * mini-batch. */
typedef struct ser_tsync {
  pthread_barrier_t bar;
  uint32_t n;     /* threads */
  double *slots;  /* n * ser_tnet_sync_doubles() */
} ser_tsync;

size_t ser_tnet_sync_doubles(const ser_tnet *t);
void ser_tnet_set_sync(ser_tnet *t, ser_tsync *s, uint32_t tid);

/* Trainable mask per parameter (0 for batch-norm running statistics) and
 * decay mask (1 for conv/dense/attention weights, 0 for biases and batch
 * norm). Arrays of ser_tnet_n_params bytes. */
void ser_tnet_param_masks(const ser_tnet *t, unsigned char *trainable,
                          unsigned char *decay);
/* Copy all parameters to / from a flat vector. */
void ser_tnet_get_params(const ser_tnet *t, float *flat);
void ser_tnet_set_params(ser_tnet *t, const float *flat);
/* Pointer to parameter storage of layer i of the spec and its offset in the
 * flat vector. */
size_t ser_tnet_param_offset(const ser_tnet *t, uint32_t layer);

/* Output shape of a spec layer on (c, t); -1 with message if impossible. */
int ser_tlayer_shape(const ser_layer *l, uint32_t i, uint32_t c, uint32_t t,
                     uint32_t *oc, uint32_t *ot, ser_error *err);

uint64_t ser_mix64(uint64_t a, uint64_t b);

/* ser_train_clip_input / ser_train_group_input with a whole-clip extractor
 * (ser_mfcc_clip_new(&spec->feat)) reused from clip to clip, or NULL (a new
 * one per call). The same bits either way. */
int ser_train_clip_input_fx(const ser_model_spec *spec, ser_mfcc *fx, const float *audio, size_t n,
                            uint32_t min_frames, float **out, uint32_t *frames, ser_error *err);
int ser_train_group_input_fx(const ser_model_spec *spec, ser_mfcc *fx, const float *audio, size_t n,
                             const float *group_mean, const float *group_std, uint32_t min_frames,
                             float **out, uint32_t *frames, ser_error *err);

/* Perturbed copies of n training clips (train_copies.c): copy v of clip i
 * is audio[i * n_var + v], n[] samples (0: none), lp[] how far it moved log2
 * pitch (log2 of the speed factor, or semitones / 12); with virtual_speakers
 * norm[] holds every copy's running statistics (2 x feature dim floats: mean
 * then std), else NULL. None (n_var 0) without aug_variants or without speed
 * and pitch perturbation. threads: workers making them. 0 or -1 (nothing
 * kept). */
typedef struct ser_copies {
  uint32_t n_var;
  size_t n_total;
  float **audio;
  size_t *n;
  float *lp;
  float *norm;
} ser_copies;

int ser_train_copies(const ser_model_spec *spec, const ser_train_options *o, const ser_clip *train, size_t n,
                     uint32_t threads, ser_copies *cp, ser_error *err);
void ser_copies_free(ser_copies *cp);

#endif
