/* ser-core: network inference (CBAM 1D-CNN) on OpenBLAS. */
#ifndef SER_NET_H
#define SER_NET_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-thread working memory for running one model. Everything is allocated
 * here; ser_net_forward() allocates nothing. OpenBLAS runs single-threaded
 * inside the library's calls (see docs/threads.md). */
typedef struct ser_net ser_net;

/* max_frames: longest input (temporal) the context must handle. */
ser_net *ser_net_new(ser_model *m, uint32_t max_frames, ser_error *err);
void ser_net_free(ser_net *n);

/* x: network input, time-major: n_frames rows of in_ch floats (already
 * normalised) for temporal; for paper, in_len floats and n_frames == in_len.
 * probs: n_labels softmax outputs (an ensemble: the mean of its networks'). */
int ser_net_forward(ser_net *n, const float *x, uint32_t n_frames, float *probs,
                    ser_error *err);

/* Layer-range inference, for the streaming analyzer's reuse of convolutions
 * across overlapping windows (implemented in net.c, beside the layers; on a
 * context of one network: an ensemble's report 0 layers and fail, so give
 * each of its networks (ser_model_net) its own context):
 * runs compiled layers [first, last) (indices into the compiled layer list,
 * see ser_net_n_layers) on x, a channel-major (c, t) tensor, writing the
 * result to out (capacity out_cap floats) and its shape to *out_c, *out_t.
 * Uses the context's scratch; allocates nothing. */
uint32_t ser_net_n_layers(const ser_net *n);
/* kind (ser_layer_kind) of compiled layer i (BN folded away where it could be). */
uint32_t ser_net_layer_kind(const ser_net *n, uint32_t i);
int ser_net_forward_layers(ser_net *n, uint32_t first, uint32_t last,
                           const float *x, uint32_t c, uint32_t t, float *out,
                           size_t out_cap, uint32_t *out_c, uint32_t *out_t,
                           ser_error *err);
/* The same, but a conv1d at `first` is padded with pad_left zeros before and
 * pad_right zeros after the input instead of its own padding on both sides
 * (each at most its own; pad_left < 0: its own). The analyzer computes only
 * the positions it needs this way. */
int ser_net_forward_layers_padded(ser_net *n, uint32_t first, uint32_t last, const float *x, uint32_t c,
                                  uint32_t t, int32_t pad_left, int32_t pad_right, float *out, size_t out_cap,
                                  uint32_t *out_c, uint32_t *out_t, ser_error *err);

/* Make OpenBLAS single-threaded for the calling process (idempotent). */
void ser_blas_single_thread(void);

/* What runs stride-1 convolutions in this process: "avx512" or "avx2"
 * (ser-core's kernel for the CPU) or "openblas" (im2col + sgemm: a CPU with
 * neither, or SER_CONV=blas in the environment). Decided once per process. */
const char *ser_conv_backend(void);

#ifdef __cplusplus
}
#endif
#endif
