/* Internal: the compiled (immutable) model shared by model.c, model_io.c
 * and net.c. Not installed. */
#ifndef SER_MODEL_INTERNAL_H
#define SER_MODEL_INTERNAL_H

#include <stdatomic.h>

#include "ser/model.h"

/* Limits every reader and checker enforces (docs/model-format.md). */
#define SER_MAX_LABELS 64u
#define SER_MAX_LABEL_LEN 64u
#define SER_MAX_LAYERS 256u
#define SER_MAX_CH 65536u
#define SER_MAX_KERNEL 4096u
#define SER_MAX_STRIDE 4096u
#define SER_MAX_PADDING 4096u
#define SER_MAX_DILATION 4096u
#define SER_MAX_PARAMS (256u * 1024u * 1024u)
#define SER_MAX_META 1024u
#define SER_MAX_META_KEY 256u
#define SER_MAX_META_BYTES (1024u * 1024u)
#define SER_MAX_IN_LEN (1u << 20)
#define SER_MAX_TENSOR (1u << 28) /* floats in any intermediate tensor */
#define SER_MAX_FEAT_DIM 4096u

/* Compiled operations (dropout removed, batch norm folded). */
typedef enum {
  SER_OP_CONV = 1,
  SER_OP_AFFINE, /* per-channel y = x * w[c] + b[c] (unfolded batch norm) */
  SER_OP_RELU,
  SER_OP_MAXPOOL,
  SER_OP_AVGPOOL,
  SER_OP_CHANNEL_ATT,
  SER_OP_SPATIAL_ATT,
  SER_OP_GLOBAL_POOL,
  SER_OP_FLATTEN,
  SER_OP_DENSE,
  SER_OP_SOFTMAX
} ser_op_kind;

typedef struct ser_op {
  uint32_t kind;
  uint32_t in_ch, out_ch, kernel, stride, padding, dilation, hidden, mode;
  const float *w, *b, *w2, *b2; /* into ser_model.weights */
  const float *wp; /* conv: weights packed for ser_conv_fast(), or NULL */
} ser_op;

struct ser_model {
  atomic_int refs;
  ser_model_spec spec; /* as loaded (unfolded) */
  uint32_t n_ops;
  ser_op *ops;
  float *weights; /* folded parameters for all ops */
  float *packed;  /* packed conv weights (conv_fast.h), or NULL */
  uint32_t min_frames; /* an ensemble: the largest of its networks' */
  uint64_t n_params;   /* an ensemble: all networks' */
  /* An ensemble (spec.n_extra > 0): its networks compiled one by one as
   * one-network models (ser_model_net); then n_ops is 0. Else 1 and NULL. */
  uint32_t n_nets;
  struct ser_model **nets;
};

/* Same for a compiled op (never fails for a checked model). */
void ser_op_out_shape(const ser_op *o, uint32_t c, uint32_t t, uint32_t *oc,
                      uint32_t *ot);
/* Values per frame the feature parameters give. */
uint32_t ser_spec_feature_dim(const ser_feature_params *p);
/* Reads a model from memory; `name` prefixes error messages. */
int ser_model_spec_read_named(const void *data, size_t size, const char *name,
                              ser_model_spec *out, ser_error *err);
/* Memory for weight arrays (release with free()): arrays of a megabyte or
 * more are advised onto transparent huge pages. NULL when out of memory. */
void *ser_alloc_weights(size_t bytes);

#endif
