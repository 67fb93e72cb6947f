/* ser-core: emotional speech corpora: labels from file names or manifests,
 * label mapping, speaker-independent splits. No audio decoding here (the
 * CLI decodes through GStreamer). */
#ifndef SER_CORPUS_H
#define SER_CORPUS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ser_corpus_item {
  char *path;     /* absolute or relative to the working directory */
  char *speaker;  /* corpus-prefixed, e.g. "emodb:03", "ravdess:01" */
  char *label;    /* canonical label: neutral calm happy sad angry fearful disgusted surprised boredom */
  char *corpus;   /* emodb ravdess cremad tess savee emovo manifest */
} ser_corpus_item;

typedef struct ser_corpus {
  size_t n;
  ser_corpus_item *items;
} ser_corpus;

/* Parse one file name (basename) of a known corpus; returns 0 and fills
 * speaker/label/corpus (malloc'd) or -1 if not recognised. dir_hint is the
 * parent folder name (TESS keeps the emotion there), may be NULL. */
int ser_corpus_parse_name(const char *basename, const char *dir_hint,
                          char **corpus, char **speaker, char **label);
/* Walk a folder recursively (.wav .flac .ogg .mp3), recognising file names. */
int ser_corpus_scan_dir(const char *dir, ser_corpus *c, ser_error *err);
/* CSV manifest with header containing path,speaker,label (extra columns ok);
 * relative paths are relative to the manifest's folder. */
int ser_corpus_load_manifest(const char *csv, ser_corpus *c, ser_error *err);
void ser_corpus_free(ser_corpus *c);

/* Map a canonical corpus label onto a label set: exact match, calm ->
 * neutral, pleasant surprise -> surprised, common synonyms (anger/angry,
 * happiness/happy/joy, sadness/sad, fear/fearful, disgust/disgusted). Returns
 * the index in labels or -1 (dropped). */
int ser_label_map(const char *label, const char *const *labels, uint32_t n_labels);

/* Speaker-independent splits. fold[i] in [0, n_folds) for each item. */
/* leave-one-speaker-out: one fold per distinct speaker (sorted). */
int ser_split_loso(const ser_corpus *c, int *fold, uint32_t *n_folds);
/* k folds of whole speakers (sorted speakers dealt round-robin). */
int ser_split_kfold_speakers(const ser_corpus *c, uint32_t k, int *fold);

#ifdef __cplusplus
}
#endif
#endif
