/* Internal to the analyzer: reuse of the local convolution layers across
 * overlapping windows (docs/analyzer.md, "What is reused"). */
#ifndef SER_ANALYZER_REUSE_H
#define SER_ANALYZER_REUSE_H

#include "ser/net.h"

typedef struct ser_reuse ser_reuse;

/* *out = NULL (and 0 returned) when the network has no local convolution
 * prefix worth reusing. max_frames: longest window. Allocates everything. */
int ser_reuse_new(ser_net *net, const ser_model *m, uint32_t max_frames,
                  ser_reuse **out, ser_error *err);
void ser_reuse_free(ser_reuse *r);
/* Forget the stream (reset); keeps the allocations. */
void ser_reuse_reset(ser_reuse *r);
/* Classify the window of frames [fa, fa + nf) of the stream; frames live in
 * a ring of fcap rows of dim floats (time-major, normalised), nfr frames
 * delivered so far. Writes n_labels probabilities. Returns 1 on success,
 * 0 if this window cannot use the shared computation (caller runs the whole
 * network), never allocates. */
int ser_reuse_window(ser_reuse *r, const float *fring, uint32_t fcap, uint64_t nfr,
                     uint32_t dim, uint64_t fa, uint32_t nf, float *probs);
/* Number of compiled layers [0, n) computed once over the stream. */
uint32_t ser_reuse_prefix_layers(const ser_reuse *r);

#endif
