/* Reuse of convolutions across overlapping windows (temporal models).
 *
 * The network's local prefix (conv1d, batch norm, ReLU, pools, dropout:
 * layers whose output position depends on a bounded neighbourhood of the
 * input) is split into stages, each led by a layer with a geometry
 * (kernel k, stride s, padding p, dilation d) followed by element-wise layers.
 * Each stage's output is computed once over the stream, per "phase": with a
 * cumulative stride S, a window starting at frame f0 sees the stage's stream
 * of phase f0 mod S. A window then takes, at every stage, the positions whose
 * receptive field lies inside the window ("clean") from those streams, and
 * recomputes only the few positions near its edges (which see the window's
 * zero padding) from its own previous-stage tensor. So every position equals
 * whole-window inference up to float rounding. The layers from the first
 * window-global layer on (attention, global pool, dense) run per window.
 * Nothing here allocates after ser_reuse_new(). */
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "analyzer_reuse.h"
#include "conv_fast.h"

#define MAX_STAGES 32

typedef struct {
  uint32_t first, last; /* compiled layers [first, last) */
  uint32_t k, s, p, d;
  uint32_t cin, cout;
  int conv;      /* led by a conv1d: computes only the positions it needs */
  uint32_t S;    /* cumulative stride after this stage */
  uint32_t cap; /* ring positions per node */
  uint32_t tmax; /* longest output over a window of max_frames */
} stage;

typedef struct {
  uint64_t lo, done; /* valid stream positions [lo, done) */
  float *ring;       /* cout x cap, channel-major */
} node;

struct ser_reuse {
  ser_net *net;
  uint32_t n_layers, P, n_labels, dim, max_frames;
  int softmax_last;
  uint32_t nst;
  stage st[MAX_STAGES];
  node *nodes[MAX_STAGES]; /* S phases per stage */
  float *w[MAX_STAGES + 1]; /* window tensors: w[0] input (dim, T), w[i+1] stage i out */
  float *xin, *yout;
  size_t xin_cap, yout_cap;
  float *fin;
  uint32_t fin_cap;
  /* fring view for the current window */
  const float *fring;
  uint32_t fcap;
  uint64_t nfr;
};

static int is_local(uint32_t kind) {
  return kind == SER_L_CONV1D || kind == SER_L_BATCHNORM || kind == SER_L_RELU ||
         kind == SER_L_MAXPOOL || kind == SER_L_AVGPOOL || kind == SER_L_DROPOUT;
}
static int is_geometric(uint32_t kind) {
  return kind == SER_L_CONV1D || kind == SER_L_MAXPOOL || kind == SER_L_AVGPOOL;
}

static uint64_t out_len(const stage *g, uint64_t tin) {
  int64_t num = (int64_t)tin + 2 * (int64_t)g->p - (int64_t)g->d * (g->k - 1) - 1;
  if (num < 0) return 0;
  return (uint64_t)(num / g->s) + 1;
}

void ser_reuse_free(ser_reuse *r) {
  if (!r) return;
  for (uint32_t i = 0; i < r->nst; i++) {
    if (r->nodes[i]) {
      for (uint32_t ph = 0; ph < r->st[i].S; ph++) free(r->nodes[i][ph].ring);
      free(r->nodes[i]);
    }
  }
  for (uint32_t i = 0; i <= r->nst; i++) free(r->w[i]);
  free(r->xin);
  free(r->yout);
  free(r->fin);
  free(r);
}

void ser_reuse_reset(ser_reuse *r) {
  if (!r) return;
  for (uint32_t i = 0; i < r->nst; i++)
    for (uint32_t ph = 0; ph < r->st[i].S; ph++) r->nodes[i][ph].lo = r->nodes[i][ph].done = 0;
}

uint32_t ser_reuse_prefix_layers(const ser_reuse *r) { return r ? r->P : 0; }

int ser_reuse_new(ser_net *net, const ser_model *m, uint32_t max_frames,
                  ser_reuse **out, ser_error *err) {
  *out = NULL;
  const ser_model_spec *sp = ser_model_get_spec(m);
  if (sp->arch != SER_ARCH_TEMPORAL) return 0;
  uint32_t nl = ser_net_n_layers(net);
  ser_reuse *r = calloc(1, sizeof *r);
  if (!r) return ser_fail(err, "analyzer: out of memory");
  r->net = net;
  r->n_layers = nl;
  r->n_labels = ser_model_n_labels(m);
  r->dim = sp->in_ch;
  r->max_frames = max_frames;
  r->softmax_last = nl > 0 && ser_net_layer_kind(net, nl - 1) == SER_L_SOFTMAX;

  /* Map compiled layers onto spec layers (BN folded away, maybe dropout too):
   * compiled layer i is the next spec layer of the same kind. */
  uint32_t j = 0, ch = sp->in_ch, P = 0, geo_seen = 0;
  uint64_t S = 1, T = max_frames;
  for (uint32_t i = 0; i < nl; i++) {
    uint32_t kind = ser_net_layer_kind(net, i);
    while (j < sp->n_layers && sp->layers[j].kind != kind) j++;
    if (j >= sp->n_layers || !is_local(kind)) break;
    const ser_layer *L = &sp->layers[j++];
    int geo = is_geometric(kind);
    if (geo || r->nst == 0) {
      uint32_t k = geo ? L->kernel : 1, s = geo ? (L->stride ? L->stride : 1) : 1;
      uint32_t p = geo ? L->padding : 0, d = kind == SER_L_CONV1D && L->dilation ? L->dilation : 1;
      if (p % s != 0 || r->nst == MAX_STAGES || S * s > 4096) break;
      stage *g = &r->st[r->nst++];
      g->first = i;
      g->conv = kind == SER_L_CONV1D;
      g->k = k;
      g->s = s;
      g->p = p;
      g->d = d;
      g->cin = ch;
      S *= s;
      g->S = (uint32_t)S;
      if (kind == SER_L_CONV1D) ch = L->out_ch;
      g->cout = ch;
      T = out_len(g, T);
      if (T == 0) break;
      g->tmax = (uint32_t)T;
      if (kind == SER_L_CONV1D) geo_seen = 1;
    }
    r->st[r->nst - 1].last = i + 1;
    P = i + 1;
  }
  /* drop stages cut short by a break (last == 0) */
  while (r->nst && r->st[r->nst - 1].last == 0) r->nst--;
  if (r->nst) P = r->st[r->nst - 1].last;
  r->P = P;
  if (!geo_seen || !r->nst || P >= nl) {
    free(r);
    return 0;
  }
  /* allocations; margins cover the neighbouring stages' padding and kernels */
  uint64_t mp = 0;
  for (uint32_t i = 0; i < r->nst; i++) {
    uint64_t v = (uint64_t)r->st[i].p + (uint64_t)r->st[i].k * r->st[i].d + r->st[i].s;
    if (v > mp) mp = v;
  }
  size_t xin = (size_t)r->dim * max_frames, yout = 0;
  uint64_t tin = max_frames;
  for (uint32_t i = 0; i < r->nst; i++) {
    stage *g = &r->st[i];
    /* a window's positions plus up to a window's worth computed ahead */
    g->cap = (uint32_t)(2 * g->tmax + 4 * mp + 16);
    size_t in_sz = (size_t)g->cin * (tin + 4 * mp + 16);
    size_t o_sz = (size_t)g->cout * (tin + 8 * mp + 16);
    if (in_sz > xin) xin = in_sz;
    if (o_sz > yout) yout = o_sz;
    tin = g->tmax;
    r->nodes[i] = calloc(g->S, sizeof(node));
    if (!r->nodes[i]) goto oom;
    for (uint32_t ph = 0; ph < g->S; ph++) {
      r->nodes[i][ph].ring = malloc((size_t)g->cout * g->cap * sizeof(float));
      if (!r->nodes[i][ph].ring) goto oom;
    }
    r->w[i + 1] = malloc((size_t)g->cout * g->tmax * sizeof(float));
    if (!r->w[i + 1]) goto oom;
  }
  if (yout < r->n_labels * 4) yout = r->n_labels * 4;
  r->w[0] = malloc((size_t)r->dim * max_frames * sizeof(float));
  r->xin = malloc(xin * sizeof(float));
  r->yout = malloc(yout * sizeof(float));
  if (!r->w[0] || !r->xin || !r->yout) goto oom;
  r->xin_cap = xin;
  r->yout_cap = yout;
  *out = r;
  return 0;
oom:
  ser_reuse_free(r);
  return ser_fail(err, "analyzer: out of memory");
}

/* Run stage g on x (cin, t), its conv padded with (pl, pr) zeros (pl < 0:
 * its own padding); output into r->yout. Returns output length or -1. */
static int64_t run_stage(ser_reuse *r, const stage *g, const float *x, uint32_t t, int32_t pl, int32_t pr) {
  uint32_t oc, ot;
  if (ser_net_forward_layers_padded(r->net, g->first, g->last, x, g->cin, t, pl, pr, r->yout, r->yout_cap,
                                    &oc, &ot, NULL) < 0 || oc != g->cout)
    return -1;
  return ot;
}

/* n consecutive stream positions from pos of `rows` channels' rings (cap
 * slots each, channel-major): copied out into buf (row stride ldb), or in
 * from buf when `in`. The wrap point is found once for all channels. */
static void ring_io(float *ring, uint32_t cap, uint32_t rows, uint64_t pos, float *buf, size_t ldb, uint32_t n,
                    int in) {
  while (n) {
    uint32_t off = (uint32_t)(pos % cap), m = cap - off < n ? cap - off : n;
    for (uint32_t c = 0; c < rows; c++) {
      float *rr = ring + (size_t)c * cap + off, *bb = buf + (size_t)c * ldb;
      if (in) memcpy(rr, bb, m * sizeof(float));
      else memcpy(bb, rr, m * sizeof(float));
    }
    buf += m;
    pos += m;
    n -= m;
  }
}

/* End (exclusive) of the stream positions of stage i, phase ph that the
 * frames delivered so far determine. */
static uint64_t avail(const ser_reuse *r, uint32_t i, uint32_t ph) {
  const stage *g = &r->st[i];
  uint64_t Sp = i ? r->st[i - 1].S : 1;
  uint32_t pph = (uint32_t)(ph % Sp);
  uint64_t q = (ph - pph) / Sp, in_end = i ? avail(r, i - 1, pph) : r->nfr;
  int64_t num = (int64_t)in_end - 1 - (int64_t)q + g->p - (int64_t)g->d * (g->k - 1);
  return num < 0 ? 0 : (uint64_t)(num / g->s) + 1;
}

/* Make stream positions [ma, mb) of stage i, phase ph available. When the
 * frames are there (an offline caller pushes large blocks), positions past
 * mb are computed in the same pass, up to a window's worth, so the stream
 * runs in fewer and larger convolutions. */
static int ensure(ser_reuse *r, uint32_t i, uint32_t ph, uint64_t ma, uint64_t mb) {
  const stage *g = &r->st[i];
  node *nd = &r->nodes[i][ph];
  if (mb <= ma) return 0;
  if (nd->lo <= ma && nd->done >= mb) return 0;
  if (ma < nd->lo || ma > nd->done) nd->lo = nd->done = ma; /* restart there */
  uint64_t m0 = nd->done;
  uint64_t Sp = i ? r->st[i - 1].S : 1;
  uint32_t pph = (uint32_t)(ph % Sp);
  uint64_t q = (ph - pph) / Sp;
  if (ser_conv_fast_ok()) {
    /* (only with ser-core's kernel, AVX-512 or AVX2, whose every output is the same sum
     * however the positions are blocked, so results stay bit-identical for
     * any push sizes; OpenBLAS's rounding depends on the matrix width)
     * at most a window's worth (less the padding) per pass, and never so far
     * that the ring would drop [ma, mb) */
    uint64_t most = g->tmax > (2u * g->p + g->s - 1) / g->s + 1 ? g->tmax - (2u * g->p + g->s - 1) / g->s - 1 : 1;
    uint64_t end = avail(r, i, ph);
    if (end > m0 + most) end = m0 + most;
    if (end > ma + g->cap) end = ma + g->cap;
    if (end > mb) mb = end;
  }
  int64_t a = (int64_t)(q + m0 * g->s) - (int64_t)g->p;
  int64_t b = (int64_t)(q + (mb - 1) * g->s) - (int64_t)g->p + (int64_t)g->d * (g->k - 1) + 1;
  if (a < 0) return -1; /* would read before the stream: not a clean position */
  uint32_t t = (uint32_t)(b - a);
  if ((size_t)g->cin * t > r->xin_cap) return -1;
  if (i == 0) {
    if ((uint64_t)b > r->nfr || r->nfr - (uint64_t)a > r->fcap) return -1;
    for (uint32_t tt = 0; tt < t; tt++) {
      const float *f = r->fring + (size_t)(((uint64_t)a + tt) % r->fcap) * r->dim;
      for (uint32_t c = 0; c < g->cin; c++) r->xin[(size_t)c * t + tt] = f[c];
    }
  } else {
    if (ensure(r, i - 1, pph, (uint64_t)a, (uint64_t)b) < 0) return -1;
    const stage *pg = &r->st[i - 1];
    const node *pn = &r->nodes[i - 1][pph];
    ring_io(pn->ring, pg->cap, g->cin, (uint64_t)a, r->xin, t, t, 0);
  }
  /* a conv stage runs unpadded on exactly the receptive field of the new
   * positions; a pool stage runs padded and drops its first p/s outputs */
  int64_t ot = g->conv ? run_stage(r, g, r->xin, t, 0, 0) : run_stage(r, g, r->xin, t, -1, -1);
  uint32_t r0 = g->conv ? 0 : g->p / g->s, cnt = (uint32_t)(mb - m0);
  if (ot < (int64_t)(r0 + cnt)) return -1;
  ring_io(nd->ring, g->cap, g->cout, m0, r->yout + r0, ot, cnt, 1);
  nd->done = mb;
  if (nd->done - nd->lo > g->cap) nd->lo = nd->done - g->cap;
  return 0;
}

/* Copies positions [a, b) of stage i's stream (phase ring nd, window base)
 * into columns [a, b) of the window tensor wout. */
static void copy_clean(const ser_reuse *r, uint32_t i, const node *nd, uint64_t base, float *wout, uint32_t tout,
                       uint32_t a, uint32_t b) {
  const stage *g = &r->st[i];
  if (a < b) ring_io(nd->ring, g->cap, g->cout, base + a, wout + a, tout, b - a, 0);
}

/* Stage i of the window: win (cin, tin) -> wout (cout, tout); clean positions
 * [cl, cr) come from the stream, the rest is computed here. Of the clean
 * positions only those in [0, keep_l) and [keep_r, tout) are written (the
 * columns the next stage's edges read; all of them for the last stage). */
static int window_stage(ser_reuse *r, uint32_t i, uint64_t fa, const float *win, uint32_t tin,
                        float *wout, uint32_t tout, uint32_t cl, uint32_t cr, uint32_t keep_l, uint32_t keep_r) {
  const stage *g = &r->st[i];
  if (cr <= cl) { /* nothing shared: the whole stage */
    int64_t ot = run_stage(r, g, win, tin, -1, -1);
    if (ot != tout) return -1;
    memcpy(wout, r->yout, (size_t)g->cout * tout * sizeof(float));
    return 0;
  }
  uint32_t ph = (uint32_t)(fa % g->S);
  uint64_t base = (fa - ph) / g->S;
  if (ensure(r, i, ph, base + cl, base + cr) < 0) return -1;
  const node *nd = &r->nodes[i][ph];
  if (keep_l >= keep_r || keep_l >= cr || keep_r <= cl) {
    copy_clean(r, i, nd, base, wout, tout, cl, cr);
  } else {
    copy_clean(r, i, nd, base, wout, tout, cl, keep_l > cl ? keep_l : cl);
    copy_clean(r, i, nd, base, wout, tout, keep_r < cr ? keep_r : cr, cr);
  }
  /* left edge [0, cl): input slice [0, x) */
  if (cl > 0) {
    int64_t x = (int64_t)(cl - 1) * g->s - g->p + (int64_t)g->d * (g->k - 1) + 1;
    if (x < 1) x = 1;
    if (x > tin) x = tin;
    /* a conv needs the window's padding on the left only (and on the right
     * too when the slice reaches the window's end): written here with the
     * slice, so the conv runs unpadded on it */
    uint32_t pl = g->conv ? g->p : 0, pr = g->conv && x == tin ? g->p : 0, t = (uint32_t)x + pl + pr;
    if ((size_t)g->cin * t > r->xin_cap) return -1;
    for (uint32_t c = 0; c < g->cin; c++) {
      float *row = r->xin + (size_t)c * t;
      memset(row, 0, pl * sizeof(float));
      memcpy(row + pl, win + (size_t)c * tin, (size_t)x * sizeof(float));
      memset(row + pl + x, 0, pr * sizeof(float));
    }
    int64_t ot = g->conv ? run_stage(r, g, r->xin, t, 0, 0) : run_stage(r, g, r->xin, t, -1, -1);
    if (ot < cl) return -1;
    for (uint32_t c = 0; c < g->cout; c++)
      memcpy(wout + (size_t)c * tout, r->yout + (size_t)c * ot, cl * sizeof(float));
  }
  /* right edge [cr, tout) */
  if (cr < tout && g->conv) {
    /* the receptive field of cr onwards, with the window's right padding:
     * output j is window position m0 + j */
    int64_t y = (int64_t)cr * g->s - g->p;
    uint32_t m0 = cr;
    int32_t pl = 0;
    if (y < 0) y = 0, m0 = 0, pl = (int32_t)g->p;
    if ((uint64_t)y >= tin) return -1;
    uint32_t n = (uint32_t)(tin - (uint64_t)y), t = (uint32_t)pl + n + g->p;
    if ((size_t)g->cin * t > r->xin_cap) return -1;
    for (uint32_t c = 0; c < g->cin; c++) { /* with the padding, as on the left */
      float *row = r->xin + (size_t)c * t;
      memset(row, 0, (size_t)pl * sizeof(float));
      memcpy(row + pl, win + (size_t)c * tin + y, (size_t)n * sizeof(float));
      memset(row + pl + n, 0, g->p * sizeof(float));
    }
    int64_t ot = run_stage(r, g, r->xin, t, 0, 0);
    if (ot != (int64_t)tout - m0) return -1;
    for (uint32_t c = 0; c < g->cout; c++)
      memcpy(wout + (size_t)c * tout + cr, r->yout + (size_t)c * ot + (cr - m0), (tout - cr) * sizeof(float));
  } else if (cr < tout) {
    /* input slice [y, tin), y = cc * s, with the stage's own padding */
    int64_t cc = (int64_t)cr - (g->p + g->s - 1) / g->s;
    if (cc < 0) cc = 0;
    uint64_t y = (uint64_t)cc * g->s;
    if (y >= tin) return -1;
    uint32_t t = (uint32_t)(tin - y);
    for (uint32_t c = 0; c < g->cin; c++)
      memcpy(r->xin + (size_t)c * t, win + (size_t)c * tin + y, (size_t)t * sizeof(float));
    int64_t ot = run_stage(r, g, r->xin, t, -1, -1);
    if (ot != (int64_t)tout - cc) return -1;
    uint32_t n = tout - cr;
    for (uint32_t c = 0; c < g->cout; c++)
      memcpy(wout + (size_t)c * tout + cr, r->yout + (size_t)c * ot + (cr - cc),
             n * sizeof(float));
  }
  return 0;
}

int ser_reuse_window(ser_reuse *r, const float *fring, uint32_t fcap, uint64_t nfr,
                     uint32_t dim, uint64_t fa, uint32_t nf, float *probs) {
  if (!r || nf > r->max_frames || dim != r->dim || nfr < fa + nf || nfr - fa > fcap) return 0;
  r->fring = fring;
  r->fcap = fcap;
  r->nfr = nfr;
  /* clean ranges of every stage: reads j*s - p + q*d all inside [cl, cr) */
  uint64_t tl[MAX_STAGES + 1], cl[MAX_STAGES + 1], cr[MAX_STAGES + 1];
  tl[0] = nf, cl[0] = 0, cr[0] = nf;
  for (uint32_t i = 0; i < r->nst; i++) {
    const stage *g = &r->st[i];
    tl[i + 1] = out_len(g, tl[i]);
    if (tl[i + 1] == 0) return 0;
    cl[i + 1] = (cl[i] + g->p + g->s - 1) / g->s;
    int64_t num = (int64_t)cr[i] - 1 + g->p - (int64_t)g->d * (g->k - 1);
    cr[i + 1] = num < 0 ? 0 : (uint64_t)(num / g->s) + 1;
    if (cr[i + 1] > tl[i + 1]) cr[i + 1] = tl[i + 1];
    if (cr[i + 1] < cl[i + 1]) cr[i + 1] = cl[i + 1];
  }
  /* columns [0, L) and [R, tl) of stage i's input tensor that its edges read
   * (all of them when it has no shared middle); the last tensor is whole */
  uint64_t L[MAX_STAGES + 1], R[MAX_STAGES + 1];
  for (uint32_t i = 0; i <= r->nst; i++) {
    L[i] = R[i] = tl[i];
    if (i == r->nst) continue;
    const stage *g = &r->st[i];
    if (cr[i + 1] > cl[i + 1]) {
      uint64_t l = cl[i + 1] * g->s + (uint64_t)g->d * (g->k - 1) + 1;
      int64_t rr = (int64_t)cr[i + 1] * g->s - g->p - g->s;
      uint64_t rv = rr < 0 ? 0 : (uint64_t)rr;
      if (l < rv) L[i] = l, R[i] = rv;
    }
  }
  /* window input, channel-major: only the frames stage 0 reads itself */
  float *w0 = r->w[0];
  for (uint32_t t = 0; t < nf; t++) {
    if (t == L[0]) t = (uint32_t)R[0];
    if (t >= nf) break;
    const float *f = fring + (size_t)((fa + t) % fcap) * dim;
    for (uint32_t c = 0; c < dim; c++) w0[(size_t)c * nf + t] = f[c];
  }
  for (uint32_t i = 0; i < r->nst; i++)
    if (window_stage(r, i, fa, r->w[i], (uint32_t)tl[i], r->w[i + 1], (uint32_t)tl[i + 1], (uint32_t)cl[i + 1],
                     (uint32_t)cr[i + 1], (uint32_t)L[i + 1], (uint32_t)R[i + 1]) < 0)
      return 0;
  uint64_t tin = tl[r->nst];
  uint32_t oc, ot;
  const stage *g = &r->st[r->nst - 1];
  if (ser_net_forward_layers(r->net, r->P, r->n_layers, r->w[r->nst], g->cout, (uint32_t)tin,
                             r->yout, r->yout_cap, &oc, &ot, NULL) < 0 ||
      (size_t)oc * ot != r->n_labels)
    return 0;
  memcpy(probs, r->yout, r->n_labels * sizeof(float));
  if (!r->softmax_last) {
    float mx = probs[0];
    for (uint32_t i = 1; i < r->n_labels; i++)
      if (probs[i] > mx) mx = probs[i];
    double s = 0;
    for (uint32_t i = 0; i < r->n_labels; i++) s += (probs[i] = expf(probs[i] - mx));
    for (uint32_t i = 0; i < r->n_labels; i++) probs[i] = (float)(probs[i] / s);
  }
  return 1;
}
