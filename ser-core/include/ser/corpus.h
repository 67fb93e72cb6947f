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
  ser_corpus_item *items;  /* sorted by path (strcmp) after scan/load/merge */
  size_t n_skipped;        /* audio files whose names were not recognised (scan) */
  size_t n_ignored;        /* non-audio files seen by the scan */
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
/* Note: scan_dir, load_manifest and load overwrite *c (it need not be
 * initialised); on failure *c is left empty ({0}), nothing to free. */

/* Added: a folder is scanned, any other path is read as a CSV manifest. */
int ser_corpus_load(const char *path, ser_corpus *c, ser_error *err);
/* Added: moves all items of src into dst (src is emptied), keeps dst sorted
 * by path and drops src items whose file is already in dst or earlier in src
 * (the same file by any name: see ser_files_repeated). */
int ser_corpus_merge(ser_corpus *dst, ser_corpus *src, ser_error *err);
/* Added: a file named twice among paths[0..n): "a.wav", "./a.wav" and a
 * link to it are one file (same device and inode). Returns 1 and sets *first
 * < *again to the earliest repeat (the smallest *again, with its first
 * occurrence), 0 if every file is named once, -1 when out of memory. Paths
 * that cannot be stat'ed are not compared. */
int ser_files_repeated(const char *const *paths, size_t n, size_t *first, size_t *again);
/* Added: canonical label for a corpus/manifest label or synonym ("anger",
 * "happiness", "joy", "ps", "pleasant surprise", "fear", ...), compared
 * case-insensitively; NULL if not known. Returns a static string. */
const char *ser_label_canonical(const char *label);
/* Added: the 9 canonical labels, in the order neutral calm happy sad angry
 * fearful disgusted surprised boredom. */
extern const char *const ser_canonical_labels[9];

/* Map a canonical corpus label onto a label set: exact match, calm ->
 * neutral, pleasant surprise -> surprised, common synonyms (anger/angry,
 * happiness/happy/joy, sadness/sad, fear/fearful, disgust/disgusted). Returns
 * the index in labels or -1 (dropped). */
int ser_label_map(const char *label, const char *const *labels, uint32_t n_labels);
/* Added: ser_label_map for every item (index into labels, -1 = dropped);
 * returns the number of items kept. */
size_t ser_corpus_map_labels(const ser_corpus *c, const char *const *labels,
                             uint32_t n_labels, int *label_index);

/* Speaker-independent splits. fold[i] in [0, n_folds) for each item. */
/* leave-one-speaker-out: one fold per distinct speaker (sorted). */
int ser_split_loso(const ser_corpus *c, int *fold, uint32_t *n_folds);
/* k folds of whole speakers (sorted speakers dealt round-robin). */
int ser_split_kfold_speakers(const ser_corpus *c, uint32_t k, int *fold);
/* Both return 0, or -1 if the corpus is empty or k is 0 or larger than the
 * number of speakers (a fold would be empty). */

#ifdef __cplusplus
}
#endif
#endif
