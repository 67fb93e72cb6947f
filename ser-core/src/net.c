/* Inference: runs a compiled ser_model. Tensors are (C, T) row-major.
 * A stride-1 conv1d runs the direct kernel of conv_fast.c (AVX-512) or
 * conv_avx2.c (AVX2 + FMA) on weights packed at load (with a following ReLU
 * fused in) when the CPU has one of them; otherwise, and for strided convs,
 * it is im2col + one OpenBLAS sgemm:
 * Y[out_ch][T_out] = W[out_ch][in_ch*k] x col[in_ch*k][T_out]. All memory is
 * allocated by ser_net_new(); ser_net_forward() allocates nothing. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "conv_fast.h"
#include "model_internal.h"
#include "ser/net.h"

struct ser_net {
  ser_model *m;
  uint32_t max_frames;
  float *a, *b;  /* ping-pong activations, max C*T each */
  float *col;    /* im2col */
  float *att;    /* attention scratch: channel part, then spatial part */
  uint64_t act_cap, col_cap, att_cap, sp_cap; /* floats in a/b, col, att (channel), att + att_cap (spatial) */
  /* an ensemble: one context per network, and their scores */
  uint32_t n_sub;
  struct ser_net **sub;
  float *sub_probs;
};

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_one(void) { openblas_set_num_threads(1); }
void ser_blas_single_thread(void) { pthread_once(&blas_once, blas_one); }

const char *ser_conv_backend(void) {
  static const char *const names[] = {"openblas", "avx2", "avx512"};
  return names[ser_conv_fast_ok()];
}

static int conv_direct(const ser_op *o) {
  return o->kernel == 1 && o->stride == 1 && o->padding == 0;
}

/* Scratch floats a conv needs for an input of t frames and output of ot:
 * the im2col matrix, or the zero-padded input of the fast kernel. */
static uint64_t conv_scratch(const ser_op *o, uint32_t t, uint32_t ot) {
  if (o->wp) return o->padding ? (uint64_t)o->in_ch * (t + 2ull * o->padding) : 0;
  /* (a padding override never exceeds the op's own padding on either side) */
  return conv_direct(o) ? 0 : (uint64_t)o->in_ch * o->kernel * ot;
}

static float *alloc_floats(size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float))) return NULL;
  memset(p, 0, (n ? n : 1) * sizeof(float));
  return p;
}

void ser_net_free(ser_net *n) {
  if (!n) return;
  free(n->a);
  free(n->b);
  free(n->col);
  free(n->att);
  for (uint32_t i = 0; i < n->n_sub; i++) ser_net_free(n->sub[i]);
  free(n->sub);
  free(n->sub_probs);
  ser_model_unref(n->m);
  free(n);
}

/* An ensemble's context: one per network (each checks its own sizes). */
static ser_net *ensemble_new(ser_model *m, uint32_t max_frames, ser_error *err) {
  ser_net *n = calloc(1, sizeof *n);
  if (!n || !(n->sub = calloc(m->n_nets, sizeof *n->sub)) ||
      !(n->sub_probs = calloc(m->spec.n_labels, sizeof *n->sub_probs))) {
    ser_net_free(n);
    ser_fail(err, "net: out of memory");
    return NULL;
  }
  n->m = ser_model_ref(m);
  n->max_frames = max_frames;
  for (; n->n_sub < m->n_nets; n->n_sub++)
    if (!(n->sub[n->n_sub] = ser_net_new(m->nets[n->n_sub], max_frames, err))) {
      ser_net_free(n);
      return NULL;
    }
  return n;
}

ser_net *ser_net_new(ser_model *m, uint32_t max_frames, ser_error *err) {
  if (!m) {
    ser_fail(err, "net: no model");
    return NULL;
  }
  ser_blas_single_thread();
  const ser_model_spec *s = &m->spec;
  if (s->arch == SER_ARCH_PAPER) max_frames = s->in_len;
  if (max_frames < m->min_frames) {
    ser_fail(err, "max_frames: %u is shorter than the model's minimum of %u frames", max_frames,
             m->min_frames);
    return NULL;
  }
  if (max_frames > SER_MAX_IN_LEN) {
    ser_fail(err, "max_frames: %u is more than the limit %u", max_frames, SER_MAX_IN_LEN);
    return NULL;
  }
  if (m->nets) return ensemble_new(m, max_frames, err);
  /* sizes at the longest input (all sizes grow with the input length) */
  uint64_t act = (uint64_t)s->in_ch * max_frames, col = 0, att = 0, sp = 0;
  uint32_t c = s->in_ch, t = max_frames;
  for (uint32_t i = 0; i < m->n_ops; i++) {
    const ser_op *o = &m->ops[i];
    uint32_t oc, ot;
    ser_op_out_shape(o, c, t, &oc, &ot);
    if (o->kind == SER_OP_CONV && conv_scratch(o, t, ot) > col) col = conv_scratch(o, t, ot);
    if (o->kind == SER_OP_CHANNEL_ATT && 3ull * c + 2ull * o->hidden > att) att = 3ull * c + 2ull * o->hidden;
    if (o->kind == SER_OP_SPATIAL_ATT && 3ull * t + 4ull * o->padding > sp) sp = 3ull * t + 4ull * o->padding;
    if ((uint64_t)oc * ot > act) act = (uint64_t)oc * ot;
    c = oc;
    t = ot;
  }
  if (act > SER_MAX_TENSOR || col > 4ull * SER_MAX_TENSOR) {
    ser_fail(err, "max_frames: %u frames needs too much working memory", max_frames);
    return NULL;
  }
  ser_net *n = calloc(1, sizeof *n);
  if (!n) {
    ser_fail(err, "net: out of memory");
    return NULL;
  }
  n->max_frames = max_frames;
  n->act_cap = act;
  n->col_cap = col;
  n->att_cap = att;
  n->sp_cap = sp;
  n->a = alloc_floats(act);
  n->b = alloc_floats(act);
  n->col = alloc_floats(col);
  n->att = alloc_floats(att + sp);
  if (!n->a || !n->b || !n->col || !n->att) {
    ser_net_free(n);
    ser_fail(err, "net: out of memory for %u frames", max_frames);
    return NULL;
  }
  n->m = ser_model_ref(m);
  return n;
}

/* The fast kernel (packed weights, stride 1): pads the input into col. */
static void conv1d_fast(const ser_op *o, const float *x, uint32_t T, float *y, uint32_t To, float *col,
                        uint32_t pl, uint32_t pr, int relu) {
  const uint32_t C = o->in_ch;
  const float *xp = x;
  size_t ld = T;
  if (pl || pr) {
    ld = (size_t)T + pl + pr;
    for (uint32_t c = 0; c < C; c++) {
      float *r = col + (size_t)c * ld;
      memset(r, 0, pl * sizeof *r);
      memcpy(r + pl, x + (size_t)c * T, (size_t)T * sizeof *r);
      memset(r + pl + T, 0, pr * sizeof *r);
    }
    xp = col;
  }
  ser_conv_fast(o->wp, o->b, o->out_ch, C, o->kernel, o->dilation, xp, ld, To, y, To, relu);
}

/* OpenBLAS (0.3.17 and later) sends products of M*N*K <= 100^3 on SkylakeX
 * to a "small matrix" kernel that allocates a scratch buffer on every call
 * when N's tail is short (seen with Debian 12's 0.3.21): nothing may allocate
 * on the audio path, so products of that size are done here (y += w B, row
 * major), where a plain loop is as fast as any. */
#define SMALL_GEMM (100.0 * 100.0 * 100.0)
static void gemm_small(uint32_t M, uint32_t N, uint32_t K, const float *w, const float *B, float *y) {
  for (uint32_t i = 0; i < M; i++) {
    float *yr = y + (size_t)i * N;
    const float *wr = w + (size_t)i * K;
    for (uint32_t k = 0; k < K; k++) {
      const float a = wr[k], *br = B + (size_t)k * N;
      for (uint32_t t = 0; t < N; t++) yr[t] += a * br[t];
    }
  }
}

/* pl: zeros before the input (the right padding only shows in To). */
static void conv1d(const ser_op *o, const float *x, uint32_t T, float *y, uint32_t To, float *col, uint32_t pl) {
  const uint32_t C = o->in_ch, k = o->kernel, s = o->stride, d = o->dilation;
  const int64_t p = pl;
  const float *B = x;
  if (!conv_direct(o) || pl) {
    for (uint32_t c = 0; c < C; c++) {
      const float *xr = x + (size_t)c * T;
      for (uint32_t j = 0; j < k; j++) {
        float *row = col + ((size_t)c * k + j) * To;
        int64_t off = (int64_t)j * d - p; /* input index of output t: t*s + off */
        if (s == 1) {
          /* valid t: 0 <= t + off < T */
          int64_t t0 = off < 0 ? -off : 0, t1 = (int64_t)T - off;
          if (t1 > To) t1 = To;
          if (t0 > To) t0 = To;
          if (t1 < t0) t1 = t0;
          if (t0 > 0) memset(row, 0, (size_t)t0 * sizeof *row);
          if (t1 > t0) memcpy(row + t0, xr + t0 + off, (size_t)(t1 - t0) * sizeof *row);
          if (t1 < To) memset(row + t1, 0, (size_t)(To - t1) * sizeof *row);
        } else {
          for (uint32_t t = 0; t < To; t++) {
            int64_t idx = (int64_t)t * s + off;
            row[t] = idx >= 0 && idx < (int64_t)T ? xr[idx] : 0.0f;
          }
        }
      }
    }
    B = col;
  }
  const uint32_t M = o->out_ch, K = C * k;
  for (uint32_t i = 0; i < M; i++) {
    float *yr = y + (size_t)i * To, bi = o->b[i];
    for (uint32_t t = 0; t < To; t++) yr[t] = bi;
  }
  if ((double)M * To * K <= SMALL_GEMM) {
    gemm_small(M, To, K, o->w, B, y);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)To, (int)K, 1.0f, o->w, (int)K, B,
              (int)To, 1.0f, y, (int)To);
}

/* The element-wise layers are small; on AVX-512 machines an AVX-512 build of
 * each is picked at load time (GCC/clang target_clones, through ifunc). */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define SER_CLONES __attribute__((target_clones("avx512f", "default")))
#endif
#endif
#ifndef SER_CLONES
#define SER_CLONES
#endif

/* y rows at stride ldy (>= To) */
SER_CLONES static void pool(const ser_op *o, const float *x, uint32_t C, uint32_t T, float *y, uint32_t To,
                            size_t ldy) {
  const int64_t k = o->kernel, s = o->stride, p = o->padding;
  const int is_max = o->kind == SER_OP_MAXPOOL;
  const float inv = 1.0f / (float)k;
  /* outputs [t0, t1) have their whole pool inside the input; for the usual
   * max pool 2/2 those run in a loop that vectorises */
  int64_t t0 = (p + s - 1) / s, t1 = T >= k ? ((int64_t)T - k + p) / s + 1 : 0;
  if (t1 > To) t1 = To;
  if (t0 > t1) t0 = t1;
  const int pair = is_max && k == 2 && s == 2;
  for (uint32_t c = 0; c < C; c++) {
    const float *xr = x + (size_t)c * T;
    float *yr = y + (size_t)c * ldy;
    if (pair) {
      const float *xa = xr + 2 * t0 - p;
      for (int64_t u = 0; u < t1 - t0; u++) {
        float a = xa[2 * u], b = xa[2 * u + 1];
        yr[t0 + u] = a > b ? a : b;
      }
    }
    for (int64_t t = 0; t < To; t++) {
      if (pair && t == t0) t = t1; /* done above */
      if (t >= To) break;
      int64_t a = t * s - p, b = a + k;
      if (a < 0) a = 0;
      if (b > T) b = T;
      if (is_max) {
        float v = -INFINITY;
        for (int64_t i = a; i < b; i++) v = xr[i] > v ? xr[i] : v;
        yr[t] = v;
      } else {
        float v = 0.0f;
        for (int64_t i = a; i < b; i++) v += xr[i];
        yr[t] = v * inv;
      }
    }
  }
}

static inline float sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }

/* Channel attention; scales x by its per-channel weights when `apply`, and
 * returns them (in scr). */
SER_CLONES static const float *channel_att(const ser_op *o, float *x, uint32_t C, uint32_t T, float *scr, int apply) {
  const uint32_t h = o->hidden;
  float *avg = scr, *mx = scr + C, *out = scr + 2 * C, *h1 = scr + 3 * C, *h2 = h1 + h;
  const float invT = 1.0f / (float)T;
  ser_rows_sum_max(x, C, T, T, avg, mx);
  for (uint32_t c = 0; c < C; c++) avg[c] *= invT;
  /* the shared MLP on both descriptors at once: [h1; h2] = [avg; mx] W1^T
   * (dot products; OpenBLAS's sgemm costs more than the product here),
   * then out = sigmoid(W2 (relu(h1 + b1) + relu(h2 + b1)) + 2 b2) */
  for (uint32_t j = 0; j < h; j++) ser_dot2(o->w + (size_t)j * C, avg, mx, C, &h1[j], &h2[j]);
  for (uint32_t j = 0; j < h; j++) {
    float sa = h1[j] + o->b[j], sm = h2[j] + o->b[j];
    h1[j] = (sa > 0.0f ? sa : 0.0f) + (sm > 0.0f ? sm : 0.0f);
  }
  for (uint32_t c = 0; c < C; c++) out[c] = 2.0f * o->b2[c];
  cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)C, (int)h, 1.0f, o->w2, (int)h, h1, 1, 1.0f, out, 1);
  for (uint32_t c = 0; c < C; c++) out[c] = sigmoid(out[c]);
  for (uint32_t c = 0; apply && c < C; c++) {
    float *xr = x + (size_t)c * T, a = out[c];
    for (uint32_t t = 0; t < T; t++) xr[t] *= a;
  }
  return out;
}

/* Spatial attention, x (read only) -> y; cscale: channel weights of a
 * channel attention right before it, applied here in the same pass (or
 * NULL). y = (x * cscale[c]) * sigmoid(conv([mean_c; max_c])). */
static void spatial_att(const ser_op *o, const float *x, float *y, uint32_t C, uint32_t T, float *scr,
                        const float *cscale) {
  const uint32_t k = o->kernel, p = o->padding, L = T + 2 * p;
  float *mean = scr, *mx = scr + L, *sv = scr + 2 * L;
  memset(mean, 0, (size_t)p * sizeof *mean);
  memset(mean + p + T, 0, (size_t)p * sizeof *mean);
  memset(mx, 0, (size_t)p * sizeof *mx);
  memset(mx + p + T, 0, (size_t)p * sizeof *mx);
  ser_cols_mean_max(x, C, T, cscale, mean + p, mx + p);
  const float *w0 = o->w, *w1 = o->w + k, b = o->b[0];
  for (uint32_t t = 0; t < T; t++) {
    float v = b;
    for (uint32_t j = 0; j < k; j++) v += w0[j] * mean[t + j] + w1[j] * mx[t + j];
    sv[t] = sigmoid(v);
  }
  ser_scale_rows_cols(x, y, C, T, cscale, sv);
}

/* Output shape of op o, where a conv's padding may be overridden by
 * (pl, pr) (pl < 0: its own). */
static void op_shape(const ser_op *o, uint32_t c, uint32_t t, int64_t pl, int64_t pr, uint32_t *oc,
                     uint32_t *ot) {
  ser_op_out_shape(o, c, t, oc, ot);
  if (o->kind == SER_OP_CONV && pl >= 0) {
    int64_t num = (int64_t)t + pl + pr - (int64_t)o->dilation * (o->kernel - 1) - 1;
    *ot = num < 0 ? 0 : (uint32_t)(num / o->stride + 1);
  }
}

/* Ops that write a new tensor (reading their input only); the others
 * change their input in place. */
static int out_of_place(const ser_model *m, uint32_t i, uint32_t last) {
  switch (m->ops[i].kind) {
  case SER_OP_CONV: case SER_OP_MAXPOOL: case SER_OP_AVGPOOL: case SER_OP_SPATIAL_ATT:
  case SER_OP_GLOBAL_POOL: case SER_OP_DENSE:
    return 1;
  case SER_OP_CHANNEL_ATT: /* CBAM: applied by the spatial attention after it */
    return i + 1 < last && m->ops[i + 1].kind == SER_OP_SPATIAL_ATT;
  default:
    return 0;
  }
}

/* Runs compiled ops [first, last) on the (C, T) tensor x, which is only
 * read (it may be n->a). The last op that writes a new tensor writes into
 * out when out is not NULL; other results go to n->a / n->b, and x is
 * copied there first when an in-place op would touch it. Returns the
 * buffer holding the result and updates *pc, *pt. A conv at `first` is
 * padded with (pl, pr) zeros instead of its own padding when pl >= 0. */
static float *run_ops(ser_net *n, uint32_t first, uint32_t last, const float *x, float *out, uint32_t *pc,
                      uint32_t *pt, int64_t pl, int64_t pr) {
  const ser_model *m = n->m;
  uint32_t C = *pc, T = *pt;
  uint32_t lw = last; /* the last op writing a new tensor */
  for (uint32_t i = first; i < last; i++)
    if (out_of_place(m, i, last)) lw = i;
  const float *cur = x;
  uint32_t padded = 0; /* cur is in n->col with this many zeros each side (row stride T + 2 padded) */
  for (uint32_t i = first; i < last; i++) {
    const ser_op *o = &m->ops[i];
    uint32_t oc, ot;
    int64_t l = i == first ? pl : -1, r = i == first ? pr : -1;
    op_shape(o, C, T, l, r, &oc, &ot);
    if (l < 0) l = r = o->padding;
    float *dst = NULL; /* where a new tensor goes; or the tensor changed in place */
    if (out_of_place(m, i, last)) {
      dst = out && i == lw ? out : cur == n->a ? n->b : n->a;
    } else if (o->kind != SER_OP_FLATTEN && cur != n->a && cur != n->b && cur != out) {
      memcpy(n->a, cur, (size_t)C * T * sizeof *cur);
      cur = n->a;
    }
    float *w = (float *)cur; /* in-place ops: cur is n->a, n->b or out here */
    switch (o->kind) {
    case SER_OP_CONV:
      if (o->wp) {
        /* a ReLU right after the conv runs inside the kernel */
        int relu = i + 1 < last && m->ops[i + 1].kind == SER_OP_RELU;
        if (padded) /* the pool before wrote the padded input */
          ser_conv_fast(o->wp, o->b, o->out_ch, C, o->kernel, o->dilation, cur, (size_t)T + 2 * padded, ot, dst,
                        ot, relu);
        else
          conv1d_fast(o, cur, T, dst, ot, n->col, (uint32_t)l, (uint32_t)r, relu);
        padded = 0;
        i += relu;
      } else {
        conv1d(o, cur, T, dst, ot, n->col, (uint32_t)l);
      }
      cur = dst;
      break;
    case SER_OP_AFFINE:
      for (uint32_t c = 0; c < C; c++) {
        float *r = w + (size_t)c * T, a = o->w[c], b = o->b[c];
        for (uint32_t t = 0; t < T; t++) r[t] = r[t] * a + b;
      }
      break;
    case SER_OP_RELU: {
      size_t nn = (size_t)C * T;
      for (size_t j = 0; j < nn; j++) w[j] = w[j] > 0.0f ? w[j] : 0.0f;
      break;
    }
    case SER_OP_MAXPOOL:
    case SER_OP_AVGPOOL:
      if (i + 1 < last && i != lw && m->ops[i + 1].kind == SER_OP_CONV && m->ops[i + 1].wp &&
          m->ops[i + 1].padding) {
        /* a padded conv of the fast kernel follows: write straight into its
         * zero-padded input instead of it copying ours there */
        const uint32_t q = m->ops[i + 1].padding;
        const size_t ld = (size_t)ot + 2 * q;
        pool(o, cur, C, T, n->col + q, ot, ld);
        for (uint32_t c = 0; c < C; c++) {
          float *row = n->col + (size_t)c * ld;
          for (uint32_t j = 0; j < q; j++) row[j] = row[q + ot + j] = 0.0f;
        }
        cur = n->col;
        padded = q;
      } else {
        pool(o, cur, C, T, dst, ot, ot);
        cur = dst;
      }
      break;
    case SER_OP_CHANNEL_ATT:
      if (dst) {
        /* CBAM: the channel weights are applied in the spatial pass */
        const float *cs = channel_att(o, w, C, T, n->att, 0);
        spatial_att(&m->ops[++i], cur, dst, C, T, n->att + n->att_cap, cs);
        cur = dst;
      } else {
        channel_att(o, w, C, T, n->att, 1);
      }
      break;
    case SER_OP_SPATIAL_ATT:
      spatial_att(o, cur, dst, C, T, n->att + n->att_cap, NULL);
      cur = dst;
      break;
    case SER_OP_GLOBAL_POOL:
      for (uint32_t c0 = 0; c0 < C; c0 += 64) {
        float sum[64], mx[64];
        uint32_t nc = C - c0 < 64 ? C - c0 : 64;
        ser_rows_sum_max(cur + (size_t)c0 * T, nc, T, T, sum, mx);
        for (uint32_t c = 0; c < nc; c++) {
          if (o->mode == 0) dst[c0 + c] = sum[c] / (float)T;
          else if (o->mode == 1) dst[c0 + c] = mx[c];
          else {
            dst[c0 + c] = sum[c] / (float)T;
            dst[C + c0 + c] = mx[c];
          }
        }
      }
      cur = dst;
      break;
    case SER_OP_FLATTEN:
      break; /* (C, T) row-major is already channel-major flat */
    case SER_OP_DENSE:
      memcpy(dst, o->b, (size_t)o->out_ch * sizeof *dst);
      cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)o->out_ch, (int)o->in_ch, 1.0f, o->w, (int)o->in_ch, cur, 1,
                  1.0f, dst, 1);
      cur = dst;
      break;
    case SER_OP_SOFTMAX: {
      float mx = -INFINITY, sum = 0.0f;
      for (uint32_t c = 0; c < C; c++) mx = w[c] > mx ? w[c] : mx;
      for (uint32_t c = 0; c < C; c++) sum += w[c] = expf(w[c] - mx);
      for (uint32_t c = 0; c < C; c++) w[c] /= sum;
      break;
    }
    default:
      break;
    }
    C = oc;
    T = ot;
  }
  *pc = C;
  *pt = T;
  return (float *)cur;
}

int ser_net_forward(ser_net *n, const float *x, uint32_t nf, float *probs, ser_error *err) {
  if (!n || !x || !probs) return ser_fail(err, "net: missing argument");
  const ser_model *m = n->m;
  const ser_model_spec *s = &m->spec;
  if (s->arch == SER_ARCH_PAPER) {
    if (nf != s->in_len)
      return ser_fail(err, "input: the paper model takes exactly %u values, not %u", s->in_len, nf);
  } else {
    if (nf < m->min_frames)
      return ser_fail(err, "input: %u frames is shorter than the model's minimum of %u", nf, m->min_frames);
    if (nf > n->max_frames)
      return ser_fail(err, "input: %u frames is more than this context's maximum of %u", nf, n->max_frames);
  }
  if (n->n_sub) { /* an ensemble: the mean of its networks' scores */
    for (uint32_t i = 0; i < n->n_sub; i++) {
      if (ser_net_forward(n->sub[i], x, nf, i ? n->sub_probs : probs, err) < 0) return -1;
      if (i)
        for (uint32_t k = 0; k < s->n_labels; k++) probs[k] += n->sub_probs[k];
    }
    for (uint32_t k = 0; k < s->n_labels; k++) probs[k] /= (float)n->n_sub;
    return 0;
  }
  float *cur = n->a;
  uint32_t C = s->in_ch, T = nf;
  if (s->arch == SER_ARCH_TEMPORAL && C > 1) {
    for (uint32_t t = 0; t < T; t++)
      for (uint32_t c = 0; c < C; c++) cur[(size_t)c * T + t] = x[(size_t)t * C + c];
  } else {
    memcpy(cur, x, (size_t)C * T * sizeof *cur);
  }
  const float *r = run_ops(n, 0, m->n_ops, cur, NULL, &C, &T, -1, -1);
  memcpy(probs, r, (size_t)s->n_labels * sizeof *probs);
  return 0;
}

/* ---- layer ranges (the analyzer's reuse of convolutions across windows) ---- */

uint32_t ser_net_n_layers(const ser_net *n) { return n ? n->m->n_ops : 0; }

uint32_t ser_net_layer_kind(const ser_net *n, uint32_t i) {
  static const uint32_t map[] = {0,
                                 SER_L_CONV1D,      /* SER_OP_CONV */
                                 SER_L_BATCHNORM,   /* SER_OP_AFFINE */
                                 SER_L_RELU,        SER_L_MAXPOOL,     SER_L_AVGPOOL,
                                 SER_L_CHANNEL_ATT, SER_L_SPATIAL_ATT, SER_L_GLOBAL_POOL,
                                 SER_L_FLATTEN,     SER_L_DENSE,       SER_L_SOFTMAX};
  if (!n || i >= n->m->n_ops) return 0;
  uint32_t k = n->m->ops[i].kind;
  return k < sizeof map / sizeof map[0] ? map[k] : 0;
}

int ser_net_forward_layers(ser_net *n, uint32_t first, uint32_t last, const float *x, uint32_t c, uint32_t t,
                           float *out, size_t out_cap, uint32_t *out_c, uint32_t *out_t, ser_error *err) {
  return ser_net_forward_layers_padded(n, first, last, x, c, t, -1, -1, out, out_cap, out_c, out_t, err);
}

int ser_net_forward_layers_padded(ser_net *n, uint32_t first, uint32_t last, const float *x, uint32_t c,
                                  uint32_t t, int32_t pad_left, int32_t pad_right, float *out, size_t out_cap,
                                  uint32_t *out_c, uint32_t *out_t, ser_error *err) {
  if (!n || !x || !out || !out_c || !out_t) return ser_fail(err, "net: missing argument");
  if (n->n_sub)
    return ser_fail(err, "net: an ensemble of %u networks runs layers one network at a time (ser_model_net)",
                    n->n_sub);
  const ser_model *m = n->m;
  if (first > last || last > m->n_ops)
    return ser_fail(err, "layers: range [%u, %u) outside the %u compiled layers", first, last, m->n_ops);
  /* check every shape against the op and the context's buffers first */
  uint32_t C = c, T = t;
  if (T < 1 || C < 1) return ser_fail(err, "input: empty tensor (%u x %u)", C, T);
  if ((uint64_t)C * T > n->act_cap)
    return ser_fail(err, "input: %u x %u is more than this context holds", C, T);
  if (pad_left >= 0 && (first == last || m->ops[first].kind != SER_OP_CONV || pad_right < 0 ||
                        (uint32_t)pad_left > m->ops[first].padding ||
                        (uint32_t)pad_right > m->ops[first].padding))
    return ser_fail(err, "padding: (%d, %d) is not a padding of a first conv1d layer", pad_left, pad_right);
  if (pad_left < 0) pad_right = -1;
  for (uint32_t i = first; i < last; i++) {
    const ser_op *o = &m->ops[i];
    const char *kn = ser_layer_kind_name(ser_net_layer_kind(n, i));
    uint32_t oc, ot;
    if ((o->kind == SER_OP_CONV || o->kind == SER_OP_AFFINE || o->kind == SER_OP_CHANNEL_ATT) && o->in_ch != C)
      return ser_fail(err, "layer %u (%s): needs %u channels, gets %u", i, kn, o->in_ch, C);
    if (o->kind == SER_OP_DENSE && (T != 1 || o->in_ch != C))
      return ser_fail(err, "layer %u (%s): needs %u x 1, gets %u x %u", i, kn, o->in_ch, C, T);
    if (o->kind == SER_OP_SOFTMAX && T != 1) return ser_fail(err, "layer %u (%s): needs one frame", i, kn);
    op_shape(o, C, T, i == first ? pad_left : -1, i == first ? pad_right : -1, &oc, &ot);
    if (ot < 1) return ser_fail(err, "layer %u (%s): %u frames are too few", i, kn, T);
    if (o->kind == SER_OP_CONV && conv_scratch(o, T, ot) > n->col_cap)
      return ser_fail(err, "layer %u (%s): %u frames is more than this context holds", i, kn, T);
    if ((o->kind == SER_OP_CHANNEL_ATT && 3ull * C + 2ull * o->hidden > n->att_cap) ||
        (o->kind == SER_OP_SPATIAL_ATT && 3ull * T + 4ull * o->padding > n->sp_cap) ||
        (uint64_t)oc * ot > n->act_cap)
      return ser_fail(err, "layer %u (%s): %u frames is more than this context holds", i, kn, T);
    C = oc;
    T = ot;
  }
  if ((uint64_t)C * T > out_cap)
    return ser_fail(err, "output: %u x %u values, the buffer holds %zu", C, T, out_cap);
  /* x is read in place and the result written straight into out, unless
   * the two overlap */
  const float *in = x;
  float *dst = out;
  if ((const char *)x < (const char *)(out + out_cap) && (const char *)out < (const char *)(x + (size_t)c * t)) {
    memmove(n->a, x, (size_t)c * t * sizeof *x);
    in = n->a;
    dst = NULL;
  }
  C = c;
  T = t;
  const float *r = run_ops(n, first, last, in, dst, &C, &T, pad_left, pad_right);
  if (r != out) memmove(out, r, (size_t)C * T * sizeof *out);
  *out_c = C;
  *out_t = T;
  return 0;
}
