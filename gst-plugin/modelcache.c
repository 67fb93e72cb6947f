/* Process-wide model cache: a mutex-protected hash from path to a loaded,
 * reference-counted ser_model. Used only at state changes, never on the
 * audio path. */
#include "modelcache.h"

#include <gmodule.h>
#include <string.h>

typedef struct {
  char *key;
  ser_model *model;
  guint users;
} CacheEntry;

static GMutex cache_lock;
static GHashTable *cache_by_key;   /* key -> CacheEntry* */
static GHashTable *cache_by_model; /* ser_model* -> CacheEntry* */
static guint cache_loads;
static guint cache_users;

#define BUILTIN_KEY "\001built-in"

static void ensure_tables(void) {
  if (!cache_by_key) {
    cache_by_key = g_hash_table_new(g_str_hash, g_str_equal);
    cache_by_model = g_hash_table_new(g_direct_hash, g_direct_equal);
  }
}

ser_model *seremotion_model_cache_acquire(const char *path, ser_error *err) {
  const char *key = (path && *path) ? path : BUILTIN_KEY;
  ser_model *m = NULL;
  g_mutex_lock(&cache_lock);
  ensure_tables();
  CacheEntry *e = g_hash_table_lookup(cache_by_key, key);
  if (!e) {
    ser_model *loaded = (path && *path) ? ser_model_load(path, err) : ser_model_default(err);
    if (loaded) {
      cache_loads++;
      e = g_new0(CacheEntry, 1);
      e->key = g_strdup(key);
      e->model = loaded;
      g_hash_table_insert(cache_by_key, e->key, e);
      g_hash_table_insert(cache_by_model, loaded, e);
    }
  }
  if (e) {
    e->users++;
    cache_users++;
    m = ser_model_ref(e->model);
  }
  g_mutex_unlock(&cache_lock);
  return m;
}

void seremotion_model_cache_release(ser_model *m) {
  if (!m) return;
  g_mutex_lock(&cache_lock);
  ensure_tables();
  CacheEntry *e = g_hash_table_lookup(cache_by_model, m);
  if (e) {
    cache_users--;
    if (--e->users == 0) {
      g_hash_table_remove(cache_by_model, m);
      g_hash_table_remove(cache_by_key, e->key);
      ser_model_unref(e->model);
      g_free(e->key);
      g_free(e);
    }
  }
  g_mutex_unlock(&cache_lock);
  ser_model_unref(m);
}

void seremotion_model_cache_stats(SerEmotionModelCacheStats *out) {
  g_mutex_lock(&cache_lock);
  out->loads = cache_loads;
  out->users = cache_users;
  out->models = cache_by_key ? g_hash_table_size(cache_by_key) : 0;
  g_mutex_unlock(&cache_lock);
}
