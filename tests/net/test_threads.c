/* One model shared by many threads: 8 threads, each with its own ser_net,
 * run the same inputs and must get results identical to a single-threaded
 * run; the model's reference count brings it down exactly once (ASan/LSan
 * in the sanitizer run catch a double free or a leak). */
#include <pthread.h>

#include "net_test.h"
#include "ser.h"

#define NTHREADS 8
#define ROUNDS 20

typedef struct {
  ser_model *m;
  const float *x;
  uint32_t T;
  const float *want;
  int mismatches, errors;
} job;

static void *worker(void *arg) {
  job *j = arg;
  ser_error e;
  ser_net *n = ser_net_new(j->m, j->T, &e);
  ser_model_unref(j->m); /* the net holds its own reference */
  if (!n) {
    j->errors++;
    return NULL;
  }
  float p[64];
  for (int r = 0; r < ROUNDS; r++) {
    /* vary the length so scratch reuse is exercised, then the real input */
    if (ser_net_forward(n, j->x, j->T - (uint32_t)(r % 3), p, &e)) j->errors++;
    if (ser_net_forward(n, j->x, j->T, p, &e)) j->errors++;
    if (memcmp(p, j->want, 7 * sizeof *p)) j->mismatches++;
  }
  ser_net_free(n);
  return NULL;
}

int main(void) {
  char path[4400];
  snprintf(path, sizeof path, "%s/temporal.sermodel", fixture_dir());
  ser_error e;
  ser_model *m = ser_model_load(path, &e);
  CHECK(m != NULL, "%s", e.msg);
  if (!m) return 1;
  size_t nx;
  snprintf(path, sizeof path, "%s/temporal.300.in.f32", fixture_dir());
  float *x = read_all(path, &nx);
  CHECK(x && nx == 300 * 13 * 4, "input");
  float want[64];
  ser_net *n = ser_net_new(m, 300, &e);
  CHECK(n && ser_net_forward(n, x, 300, want, &e) == 0, "single: %s", e.msg);
  ser_net_free(n);
  job jobs[NTHREADS];
  pthread_t th[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    jobs[i] = (job){ser_model_ref(m), x, 300, want, 0, 0};
  }
  /* the creator drops its reference while the threads still run */
  for (int i = 0; i < NTHREADS; i++) pthread_create(&th[i], NULL, worker, &jobs[i]);
  ser_model_unref(m);
  for (int i = 0; i < NTHREADS; i++) {
    pthread_join(th[i], NULL);
    CHECK(jobs[i].errors == 0, "thread %d: %d errors", i, jobs[i].errors);
    CHECK(jobs[i].mismatches == 0, "thread %d: %d results differ from the single-threaded run", i,
          jobs[i].mismatches);
  }
  free(x);
  return finish("test_threads");
}
