/* A process-wide cache of loaded models, so that every seremotion instance
 * using the same file (or the built-in model) shares one copy. */
#ifndef SEREMOTION_MODELCACHE_H
#define SEREMOTION_MODELCACHE_H

#include <glib.h>
#include <gmodule.h>

#include "ser.h"

G_BEGIN_DECLS

/* Returns a model reference for `path` (NULL or "" = the built-in model),
 * loading it only if no instance holds it yet. On failure returns NULL and
 * fills err. Pair every successful call with seremotion_model_cache_release. */
ser_model *seremotion_model_cache_acquire(const char *path, ser_error *err);
void seremotion_model_cache_release(ser_model *m);

/* Test/diagnostic accessor (exported, not part of any header users need):
 * how many times a model file was actually loaded, how many instances hold
 * a model now, and how many distinct models are held now. */
typedef struct {
  guint loads;
  guint users;
  guint models;
} SerEmotionModelCacheStats;

G_MODULE_EXPORT void seremotion_model_cache_stats(SerEmotionModelCacheStats *out);

G_END_DECLS

#endif
