/* ser-core: models. A model is data: feature parameters, labels,
 * normalisation, a list of layers with float32 weights, metadata.
 * The .sermodel file format is specified in docs/model-format.md. */
#ifndef SER_MODEL_H
#define SER_MODEL_H

#include "common.h"
#include "features.h"
#include "spknorm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SER_ARCH_TEMPORAL = 0, /* conv over time, feature coefficients as channels */
  SER_ARCH_PAPER = 1     /* single-channel conv over a fixed flat vector */
} ser_arch;

/* Tensors between layers are (channels, time), like PyTorch's Conv1d
 * without the batch dimension. Parameter layouts (PyTorch order):
 *  CONV1D      weight[out_ch][in_ch][kernel], bias[out_ch]
 *  BATCHNORM   gamma[c], beta[c], running_mean[c], running_var[c]  (c = in_ch)
 *  CHANNEL_ATT w1[h][c], b1[h], w2[c][h], b2[c]; c = in_ch,
 *              h = max(1, c / reduction); hidden layer ReLU
 *  SPATIAL_ATT w[2][kernel] (input 0 = channel mean, 1 = channel max), b[1];
 *              padding kernel/2 ("same")
 *  DENSE       weight[out_ch][in_ch], bias[out_ch]
 * Others have no parameters. */
typedef enum {
  SER_L_CONV1D = 1,
  SER_L_BATCHNORM = 2,
  SER_L_RELU = 3,
  SER_L_MAXPOOL = 4,     /* kernel, stride, padding */
  SER_L_AVGPOOL = 5,     /* kernel, stride, padding (count_include_pad) */
  SER_L_CHANNEL_ATT = 6, /* in_ch, reduction */
  SER_L_SPATIAL_ATT = 7, /* kernel */
  SER_L_GLOBAL_POOL = 8, /* mode 0 avg, 1 max, 2 avg then max concatenated -> (C or 2C, 1) */
  SER_L_FLATTEN = 9,     /* (C, T) -> (C*T, 1), channel-major as torch.flatten */
  SER_L_DENSE = 10,      /* in_ch -> out_ch on a (in_ch, 1) tensor */
  SER_L_DROPOUT = 11,    /* p; identity at inference */
  SER_L_SOFTMAX = 12
} ser_layer_kind;

typedef struct ser_layer {
  uint32_t kind;     /* ser_layer_kind */
  uint32_t in_ch;    /* conv1d, dense (in features), batchnorm, channel-att */
  uint32_t out_ch;   /* conv1d, dense (out features) */
  uint32_t kernel;   /* conv1d, pools, spatial-att */
  uint32_t stride;   /* conv1d, pools */
  uint32_t padding;  /* conv1d, pools (zeros; -inf for max pool) */
  uint32_t dilation; /* conv1d */
  uint32_t reduction;/* channel-att */
  uint32_t mode;     /* global-pool */
  float eps;         /* batchnorm */
  float p;           /* dropout */
  uint32_t n_params; /* float32 parameters, layout above */
  float *params;     /* owned by the spec */
} ser_layer;

/* One network: its layers in order. */
typedef struct ser_layer_list {
  uint32_t n_layers;
  ser_layer *layers; /* owned by the spec */
} ser_layer_list;

/* Networks in one model at most (an ensemble; see n_extra below). */
#define SER_MAX_NETS 16u

/* An editable, fully-described model (what the file holds). */
typedef struct ser_model_spec {
  uint32_t arch;            /* ser_arch */
  ser_feature_params feat;
  uint32_t n_labels;
  char **labels;
  uint32_t in_ch;           /* network input channels: ser_feature_dim (temporal) or 1 (paper) */
  uint32_t in_len;          /* temporal: default window in frames; paper: fixed input length */
  uint32_t clip_samples;    /* paper: clip length in samples at feat.sample_rate; temporal: 0 */
  float *norm_mean;         /* ser_feature_dim floats or NULL: x' = (x - mean) / std */
  float *norm_std;
  /* Running speaker normalisation (temporal models; NULL = none): the prior,
   * a typical training speaker's per-coefficient mean and std of the raw
   * features (ser_feature_dim floats each), and the normaliser's parameters.
   * Applied to every frame before norm_mean/norm_std (ser/spknorm.h). */
  float *spk_mean;
  float *spk_std;
  ser_spknorm_params spk;
  uint32_t n_layers;
  ser_layer *layers;
  uint32_t n_meta;          /* free-form metadata: name, corpora, protocol, metrics, date... */
  char **meta_keys;
  char **meta_values;
  /* An ensemble (the file's ENSM section): n_extra further networks
   * (0..SER_MAX_NETS-1) over the same normalised input, each built like
   * `layers` and ending in a softmax over the same labels. The model's
   * scores are the mean of the 1 + n_extra networks' outputs. */
  uint32_t n_extra;
  ser_layer_list *extra;
} ser_model_spec;

/* Number of parameters a layer of this kind/shape must carry (0 if none). */
uint32_t ser_layer_param_count(const ser_layer *l);
/* "conv1d", "batchnorm", ... ("unknown" for a bad kind). */
const char *ser_layer_kind_name(uint32_t kind);
/* Output shape (channels, frames) of layer number `idx` (for messages) given
 * its input shape; 0, or -1 with "layer IDX (kind): problem" in err. */
int ser_layer_out_shape(const ser_layer *l, uint32_t idx, uint32_t c, uint32_t t,
                        uint32_t *oc, uint32_t *ot, ser_error *err);
/* Validate a spec (shapes chain, counts match, labels non-empty...). */
int ser_model_spec_check(const ser_model_spec *s, ser_error *err);
int ser_model_spec_write(const ser_model_spec *s, const char *path, ser_error *err);
int ser_model_spec_read(const char *path, ser_model_spec *out, ser_error *err);
int ser_model_spec_read_mem(const void *data, size_t size, ser_model_spec *out,
                            ser_error *err);
/* Serialise to a malloc'd buffer (*data, *size); free() it. */
int ser_model_spec_write_mem(const ser_model_spec *s, void **data, size_t *size,
                             ser_error *err);
/* Deep copy / free everything a spec owns (leaves it zeroed). */
int ser_model_spec_copy(ser_model_spec *dst, const ser_model_spec *src, ser_error *err);
void ser_model_spec_clear(ser_model_spec *s);
/* Add or replace a metadata entry. */
int ser_model_spec_set_meta(ser_model_spec *s, const char *key, const char *value);
/* Networks in a spec: 1 + n_extra. */
uint32_t ser_model_spec_n_nets(const ser_model_spec *s);
/* A read-only view of network i (0 = `layers`) as a one-network spec: a
 * shallow copy of s with that network's layers and no others. Borrowed
 * from s: never clear it; valid while s is unchanged. */
void ser_model_spec_net_view(const ser_model_spec *s, uint32_t i, ser_model_spec *view);
/* Makes src's networks further members of dst's ensemble, moving them out
 * of src (src keeps everything else; clear it afterwards). The two must
 * have the same architecture, features, labels, input and normalisation
 * (the networks see the same input); otherwise -1 naming the difference. */
int ser_model_spec_add_nets(ser_model_spec *dst, ser_model_spec *src, ser_error *err);
/* 0 if networks of a and b read the same input (the conditions above), else
 * -1 naming the first difference. */
int ser_model_spec_same_input(const ser_model_spec *a, const ser_model_spec *b, ser_error *err);

/* A loaded model: immutable, reference-counted, shareable between threads.
 * Batch norm is folded into the preceding conv/dense at load time. */
typedef struct ser_model ser_model;

ser_model *ser_model_load(const char *path, ser_error *err);
ser_model *ser_model_load_mem(const void *data, size_t size, ser_error *err);
ser_model *ser_model_from_spec(const ser_model_spec *s, ser_error *err);
/* The built-in default model (models/default.sermodel compiled in). */
ser_model *ser_model_default(ser_error *err);
ser_model *ser_model_ref(ser_model *m);
void ser_model_unref(ser_model *m);

const ser_model_spec *ser_model_get_spec(const ser_model *m); /* read-only view */
const ser_feature_params *ser_model_features(const ser_model *m);
uint32_t ser_model_arch(const ser_model *m);
uint32_t ser_model_n_labels(const ser_model *m);
const char *ser_model_label(const ser_model *m, uint32_t i);
const char *ser_model_meta(const ser_model *m, const char *key); /* NULL if absent */
/* Temporal: smallest window (frames) the network accepts; paper: in_len. */
uint32_t ser_model_min_frames(const ser_model *m);
/* Default analysis window, in samples at the model's rate. */
uint64_t ser_model_window_samples(const ser_model *m);
uint64_t ser_model_n_params(const ser_model *m);
/* Networks the model averages (1, or the ensemble's size). */
uint32_t ser_model_n_nets(const ser_model *m);
/* Network i alone, as a model with the same features, labels and
 * normalisation (borrowed: valid while m is; ser_model_ref it to keep it),
 * or NULL when i is out of range. A one-network model returns itself. */
ser_model *ser_model_net(const ser_model *m, uint32_t i);
/* Multiply-adds of one forward pass over `frames` frames (all networks). */
double ser_model_flops(const ser_model *m, uint32_t frames);

#ifdef __cplusplus
}
#endif
#endif
