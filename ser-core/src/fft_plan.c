/* Shared, refcounted FFTW3f r2c and c2r plans behind one global mutex. */
#include "fft_plan.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct plan_entry {
  int n;
  int inverse; /* 0 r2c, 1 c2r */
  int refs;
  fftwf_plan plan;
  struct plan_entry *next;
} plan_entry;

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;
static plan_entry *plans;

void ser_fft_lock(void) { pthread_mutex_lock(&plan_lock); }
void ser_fft_unlock(void) { pthread_mutex_unlock(&plan_lock); }

static fftwf_plan plan_get(int n, int inverse) {
  fftwf_plan p = NULL;
  pthread_mutex_lock(&plan_lock);
  for (plan_entry *e = plans; e; e = e->next)
    if (e->n == n && e->inverse == inverse) {
      e->refs++;
      p = e->plan;
      break;
    }
  if (!p) {
    plan_entry *e = malloc(sizeof *e);
    float *in = fftwf_malloc(sizeof(float) * (size_t)n);
    fftwf_complex *out = fftwf_malloc(sizeof(fftwf_complex) * (size_t)(n / 2 + 1));
    /* FFTW_ESTIMATE: no timing runs, so planning is fast and the chosen
     * algorithm (hence every output bit) is the same in every process. */
    if (e && in && out)
      p = inverse ? fftwf_plan_dft_c2r_1d(n, out, in, FFTW_ESTIMATE)
                  : fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
    fftwf_free(in);
    fftwf_free(out);
    if (p) {
      e->n = n;
      e->inverse = inverse;
      e->refs = 1;
      e->plan = p;
      e->next = plans;
      plans = e;
    } else {
      free(e);
    }
  }
  pthread_mutex_unlock(&plan_lock);
  return p;
}

fftwf_plan ser_fft_plan_r2c_get(int n) { return plan_get(n, 0); }
fftwf_plan ser_fft_plan_c2r_get(int n) { return plan_get(n, 1); }

void ser_fft_plan_release(fftwf_plan p) {
  if (!p) return;
  pthread_mutex_lock(&plan_lock);
  for (plan_entry **pe = &plans; *pe; pe = &(*pe)->next) {
    plan_entry *e = *pe;
    if (e->plan == p) {
      if (--e->refs == 0) {
        fftwf_destroy_plan(e->plan);
        *pe = e->next;
        free(e);
      }
      break;
    }
  }
  pthread_mutex_unlock(&plan_lock);
}
