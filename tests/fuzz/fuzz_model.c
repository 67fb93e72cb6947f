/* libFuzzer target: the .sermodel reader (ser_model_spec_read_mem,
 * ser_model_load_mem) and, for inputs that load, the writer and a forward
 * pass. Each input is tried as is and with its END checksum recomputed, so
 * mutations reach the section parsers instead of stopping at the checksum.
 * Built and run by tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ser.h"

static uint32_t crc32_ref(const uint8_t *p, size_t n) {
  static uint32_t t[256];
  if (!t[1])
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) c = t[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return ~c;
}

static void exercise(const uint8_t *d, size_t n) {
  ser_error e;
  ser_model_spec s;
  if (ser_model_spec_read_mem(d, n, &s, &e) == 0) {
    void *out = NULL;
    size_t on = 0;
    /* a spec that was read must write, read back, and write the same bytes
     * again (the input itself may differ: unknown sections, longer ARCH/FEAT) */
    if (ser_model_spec_write_mem(&s, &out, &on, &e) != 0) abort();
    ser_model_spec s2;
    if (ser_model_spec_read_mem(out, on, &s2, &e) != 0) abort();
    void *out2 = NULL;
    size_t on2 = 0;
    if (ser_model_spec_write_mem(&s2, &out2, &on2, &e) != 0) abort();
    if (on2 != on || memcmp(out, out2, on)) abort();
    free(out2);
    ser_model_spec_clear(&s2);
    free(out);
    ser_model_spec_clear(&s);
  }
  ser_model *m = ser_model_load_mem(d, n, &e);
  if (!m) return;
  uint32_t T = ser_model_min_frames(m) + 3;
  const ser_model_spec *sp = ser_model_get_spec(m);
  if (sp->arch == SER_ARCH_PAPER) T = sp->in_len;
  if (ser_model_flops(m, T) < 2e6 && (uint64_t)T * sp->in_ch < 100000) {
    ser_net *net = ser_net_new(m, T, &e);
    if (net) {
      float *x = calloc((size_t)T * sp->in_ch, sizeof *x), p[64];
      for (size_t i = 0; i < (size_t)T * sp->in_ch; i++) x[i] = (float)(i % 7) - 3.0f;
      if (ser_net_forward(net, x, T, p, &e) != 0) abort(); /* a valid model must run */
      free(x);
      ser_net_free(net);
    }
  }
  ser_model_unref(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  exercise(data, size);
  if (size >= 28 && !memcmp(data + size - 16, "END ", 4)) {
    uint8_t *c = malloc(size);
    memcpy(c, data, size);
    uint32_t crc = crc32_ref(c, size - 16);
    for (int i = 0; i < 4; i++) c[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    exercise(c, size);
    free(c);
  }
  return 0;
}
