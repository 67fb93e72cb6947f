/* The built-in default model: models/default.sermodel, embedded at build
 * time (see default_model.S). */
#include "ser/model.h"

#ifdef SER_HAVE_DEFAULT_MODEL
extern const unsigned char ser_default_model_start[];
extern const unsigned char ser_default_model_end[];

ser_model *ser_model_default(ser_error *err) {
  return ser_model_load_mem(ser_default_model_start,
                            (size_t)(ser_default_model_end - ser_default_model_start), err);
}
#else
ser_model *ser_model_default(ser_error *err) {
  ser_fail(err, "built-in model: this build has no models/default.sermodel");
  return NULL;
}
#endif
