/* Corpus loaders on the real EMO-DB and RAVDESS folders, manifests, file-name
 * conventions of the other corpora, label mapping and speaker splits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ser.h"
#include "check.h"

static char tmpdir[256];

static void write_file(const char *name, const char *text) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", tmpdir, name);
  FILE *f = fopen(p, "wb");
  REQUIRE(f, "cannot write %s", p);
  fputs(text, f);
  fclose(f);
}

static size_t count_label(const ser_corpus *c, const char *label) {
  size_t k = 0;
  for (size_t i = 0; i < c->n; i++) k += strcmp(c->items[i].label, label) == 0;
  return k;
}

static size_t count_speakers(const ser_corpus *c) {
  uint32_t nf = 0;
  int *fold = malloc(c->n * sizeof *fold);
  REQUIRE(ser_split_loso(c, fold, &nf) == 0, "loso");
  free(fold);
  return nf;
}

/* scanning the folder and reading its labels.csv give the same items */
static void compare_scan_manifest(const char *dir, const char *corpus, size_t n_expect,
                                  size_t spk_expect) {
  ser_error err = {{0}};
  ser_corpus scan, man;
  REQUIRE(ser_corpus_scan_dir(dir, &scan, &err) == 0, "scan %s: %s", dir, err.msg);
  CHECK(scan.n == n_expect, "%s: %zu files, expected %zu", dir, scan.n, n_expect);
  CHECK(scan.n_skipped == 0, "%s: %zu skipped", dir, scan.n_skipped);
  CHECK(scan.n_ignored >= 1, "%s: labels.csv should be counted as ignored", dir);
  CHECK(count_speakers(&scan) == spk_expect, "%s: %zu speakers", dir, count_speakers(&scan));
  for (size_t i = 0; i < scan.n; i++) {
    CHECK(strcmp(scan.items[i].corpus, corpus) == 0, "%s", scan.items[i].corpus);
    CHECK(strncmp(scan.items[i].speaker, corpus, strlen(corpus)) == 0 &&
              scan.items[i].speaker[strlen(corpus)] == ':',
          "speaker %s", scan.items[i].speaker);
    if (i) CHECK(strcmp(scan.items[i - 1].path, scan.items[i].path) < 0, "not sorted at %zu", i);
  }
  char csv[1024];
  snprintf(csv, sizeof csv, "%s/labels.csv", dir);
  REQUIRE(ser_corpus_load_manifest(csv, &man, &err) == 0, "manifest %s: %s", csv, err.msg);
  CHECK(man.n == scan.n, "%s: manifest has %zu rows, scan %zu", csv, man.n, scan.n);
  size_t n = man.n < scan.n ? man.n : scan.n, bad = 0;
  for (size_t i = 0; i < n; i++) {
    const ser_corpus_item *a = &scan.items[i], *b = &man.items[i];
    /* paths: scan gives dir + "/" + rel, manifest gives dir + "/" + rel */
    if (strcmp(a->path, b->path) || strcmp(a->speaker, b->speaker) || strcmp(a->label, b->label) ||
        strcmp(a->corpus, b->corpus)) {
      if (bad++ < 5)
        fprintf(stderr, "row %zu: scan %s %s %s %s / manifest %s %s %s %s\n", i, a->path, a->speaker,
                a->label, a->corpus, b->path, b->speaker, b->label, b->corpus);
    }
  }
  CHECK(bad == 0, "%s: %zu rows differ between scan and labels.csv", dir, bad);
  /* ser_corpus_load dispatches on folder / file */
  ser_corpus l1, l2;
  REQUIRE(ser_corpus_load(dir, &l1, &err) == 0, "%s", err.msg);
  REQUIRE(ser_corpus_load(csv, &l2, &err) == 0, "%s", err.msg);
  CHECK(l1.n == scan.n && l2.n == man.n, "load");
  ser_corpus_free(&l1);
  ser_corpus_free(&l2);
  ser_corpus_free(&scan);
  ser_corpus_free(&man);
}

static void test_emodb(const char *ds) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/emodb", ds);
  compare_scan_manifest(dir, "emodb", 535, 10);
  ser_error err;
  ser_corpus c;
  REQUIRE(ser_corpus_scan_dir(dir, &c, &err) == 0, "%s", err.msg);
  static const struct { const char *l; size_t n; } want[] = {
    {"angry", 127}, {"boredom", 81}, {"disgusted", 46}, {"fearful", 69},
    {"happy", 71}, {"neutral", 79}, {"sad", 62}};
  for (int i = 0; i < 7; i++)
    CHECK(count_label(&c, want[i].l) == want[i].n, "emodb %s: %zu, expected %zu", want[i].l,
          count_label(&c, want[i].l), want[i].n);
  /* a known file */
  int found = 0;
  for (size_t i = 0; i < c.n; i++)
    if (strstr(c.items[i].path, "/wav/03a01Fa.wav")) {
      found = 1;
      CHECK(strcmp(c.items[i].speaker, "emodb:03") == 0 && strcmp(c.items[i].label, "happy") == 0,
            "03a01Fa: %s %s", c.items[i].speaker, c.items[i].label);
    }
  CHECK(found, "03a01Fa.wav not found");
  /* LOSO: 10 folds, one speaker each, all items covered */
  int *fold = malloc(c.n * sizeof *fold);
  uint32_t nf = 0;
  REQUIRE(ser_split_loso(&c, fold, &nf) == 0, "loso");
  CHECK(nf == 10, "loso folds %u", nf);
  for (uint32_t f = 0; f < nf; f++) {
    const char *spk = NULL;
    size_t k = 0;
    for (size_t i = 0; i < c.n; i++) {
      if (fold[i] != (int)f) continue;
      k++;
      if (!spk) spk = c.items[i].speaker;
      CHECK(strcmp(spk, c.items[i].speaker) == 0, "fold %u has two speakers", f);
    }
    CHECK(k > 0, "fold %u empty", f);
  }
  for (size_t i = 0; i < c.n; i++) CHECK(fold[i] >= 0 && fold[i] < 10, "fold %d", fold[i]);
  /* folds follow sorted speakers: fold 0 is speaker 03 */
  for (size_t i = 0; i < c.n; i++)
    if (strcmp(c.items[i].speaker, "emodb:03") == 0) CHECK(fold[i] == 0, "speaker 03 in fold %d", fold[i]);
  CHECK(ser_split_kfold_speakers(&c, 11, fold) == -1, "11 folds of 10 speakers must fail");
  CHECK(ser_split_kfold_speakers(&c, 0, fold) == -1, "0 folds must fail");
  free(fold);
  ser_corpus_free(&c);
}

static void test_ravdess(const char *ds) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/ravdess16k", ds);
  compare_scan_manifest(dir, "ravdess", 1200, 20);
  ser_error err;
  ser_corpus c;
  REQUIRE(ser_corpus_scan_dir(dir, &c, &err) == 0, "%s", err.msg);
  CHECK(count_label(&c, "neutral") == 80, "neutral %zu", count_label(&c, "neutral"));
  const char *l160[] = {"calm", "happy", "sad", "angry", "fearful", "disgusted", "surprised"};
  for (int i = 0; i < 7; i++)
    CHECK(count_label(&c, l160[i]) == 160, "%s %zu", l160[i], count_label(&c, l160[i]));
  /* 5 folds of 4 actors, speaker-disjoint, covering everything */
  int *fold = malloc(c.n * sizeof *fold);
  REQUIRE(ser_split_kfold_speakers(&c, 5, fold) == 0, "kfold");
  for (size_t i = 0; i < c.n; i++) {
    CHECK(fold[i] >= 0 && fold[i] < 5, "fold %d", fold[i]);
    for (size_t j = i + 1; j < c.n && j < i + 200; j++)
      if (strcmp(c.items[i].speaker, c.items[j].speaker) == 0)
        CHECK(fold[i] == fold[j], "speaker %s in two folds", c.items[i].speaker);
  }
  for (int f = 0; f < 5; f++) {
    const char *seen[20];
    int ns = 0;
    size_t items = 0;
    for (size_t i = 0; i < c.n; i++) {
      if (fold[i] != f) continue;
      items++;
      int k;
      for (k = 0; k < ns; k++)
        if (strcmp(seen[k], c.items[i].speaker) == 0) break;
      if (k == ns && ns < 20) seen[ns++] = c.items[i].speaker;
    }
    CHECK(ns == 4 && items == 240, "fold %d: %d actors, %zu items", f, ns, items);
  }
  /* actor-disjointness across all pairs via a speaker -> fold table */
  int spk_fold[21];
  for (int i = 0; i < 21; i++) spk_fold[i] = -1;
  for (size_t i = 0; i < c.n; i++) {
    int a = atoi(c.items[i].speaker + strlen("ravdess:"));
    REQUIRE(a >= 1 && a <= 20, "actor %d", a);
    if (spk_fold[a] < 0) spk_fold[a] = fold[i];
    CHECK(spk_fold[a] == fold[i], "actor %d in folds %d and %d", a, spk_fold[a], fold[i]);
  }
  CHECK(spk_fold[1] == 0 && spk_fold[6] == 0 && spk_fold[2] == 1, "round-robin order");
  /* label mapping onto the default model's 7 labels: calm joins neutral */
  const char *labels7[] = {"neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"};
  int *li = malloc(c.n * sizeof *li);
  size_t kept = ser_corpus_map_labels(&c, labels7, 7, li);
  CHECK(kept == 1200, "kept %zu", kept);
  size_t neu = 0;
  for (size_t i = 0; i < c.n; i++) neu += li[i] == 0;
  CHECK(neu == 240, "neutral+calm = %zu", neu);
  free(li);
  /* merge with EMO-DB */
  ser_corpus e;
  char edir[1024];
  snprintf(edir, sizeof edir, "%s/emodb", ds);
  REQUIRE(ser_corpus_scan_dir(edir, &e, &err) == 0, "%s", err.msg);
  REQUIRE(ser_corpus_merge(&c, &e, &err) == 0, "%s", err.msg);
  CHECK(c.n == 1735 && e.n == 0, "merged %zu", c.n);
  CHECK(count_speakers(&c) == 30, "merged speakers %zu", count_speakers(&c));
  for (size_t i = 1; i < c.n; i++) CHECK(strcmp(c.items[i - 1].path, c.items[i].path) < 0, "merge order");
  /* EMO-DB again by another name ("emodb/." gives other path strings, the same files): nothing added */
  snprintf(edir, sizeof edir, "%s/emodb/.", ds);
  REQUIRE(ser_corpus_scan_dir(edir, &e, &err) == 0, "%s", err.msg);
  CHECK(e.n == 535 && strcmp(e.items[0].path, c.items[0].path) != 0, "emodb/. scan: %zu", e.n);
  REQUIRE(ser_corpus_merge(&c, &e, &err) == 0, "%s", err.msg);
  CHECK(c.n == 1735 && e.n == 0, "merged the same files again: %zu", c.n);
  /* ser_files_repeated: the earliest repeat, by any name; unreadable paths are not compared */
  {
    char a[1100], b[1100], a2[1100];
    snprintf(a, sizeof a, "%s/emodb/wav/03a01Wa.wav", ds);
    snprintf(b, sizeof b, "%s/emodb/wav/03a01Fa.wav", ds);
    snprintf(a2, sizeof a2, "%s/emodb/wav/../wav/03a01Wa.wav", ds);
    const char *none[] = {a, b, "/no/such.wav", "/no/such.wav"};
    size_t i0 = 99, i1 = 99;
    CHECK(ser_files_repeated(none, 4, &i0, &i1) == 0 && i0 == 99, "repeat found among distinct files");
    const char *two[] = {b, a, b, a2, a};
    CHECK(ser_files_repeated(two, 5, &i0, &i1) == 1 && i0 == 0 && i1 == 2, "repeat %zu %zu, wanted 0 2", i0, i1);
    CHECK(ser_files_repeated(two + 1, 4, &i0, &i1) == 1 && i0 == 0 && i1 == 2, "repeat %zu %zu, wanted 0 2", i0,
          i1);
    CHECK(ser_files_repeated(two, 1, &i0, &i1) == 0, "one path repeated");
  }
  free(fold);
  ser_corpus_free(&c);
  ser_corpus_free(&e);
}

static void expect_name(const char *base, const char *dir, const char *corpus, const char *speaker,
                        const char *label) {
  char *co = NULL, *sp = NULL, *la = NULL;
  int r = ser_corpus_parse_name(base, dir, &co, &sp, &la);
  if (!corpus) {
    CHECK(r == -1, "%s (dir %s) should not be recognised, got %s %s %s", base, dir ? dir : "-",
          r == 0 ? co : "", r == 0 ? sp : "", r == 0 ? la : "");
  } else {
    CHECK(r == 0, "%s (dir %s) not recognised", base, dir ? dir : "-");
    if (r == 0)
      CHECK(strcmp(co, corpus) == 0 && strcmp(sp, speaker) == 0 && strcmp(la, label) == 0,
            "%s: got %s %s %s, expected %s %s %s", base, co, sp, la, corpus, speaker, label);
  }
  if (r == 0) {
    free(co);
    free(sp);
    free(la);
  }
}

static void test_names(void) {
  /* EMO-DB and RAVDESS */
  expect_name("03a01Fa.wav", NULL, "emodb", "emodb:03", "happy");
  expect_name("16b10Lb.wav", "wav", "emodb", "emodb:16", "boredom");
  expect_name("11a05Ed.wav", NULL, "emodb", "emodb:11", "disgusted");
  expect_name("03a01Xa.wav", NULL, NULL, NULL, NULL);
  expect_name("03-01-05-01-02-01-12.flac", NULL, "ravdess", "ravdess:12", "angry");
  expect_name("03-01-02-02-01-01-07.wav", NULL, "ravdess", "ravdess:07", "calm");
  expect_name("03-01-08-02-01-01-24.wav", NULL, "ravdess", "ravdess:24", "surprised");
  expect_name("03-01-09-01-01-01-01.wav", NULL, NULL, NULL, NULL);
  expect_name("03-01-05-01-02-01.wav", NULL, NULL, NULL, NULL);
  /* CREMA-D */
  expect_name("1001_DFA_ANG_XX.wav", NULL, "cremad", "cremad:1001", "angry");
  expect_name("1091_IEO_DIS_HI.wav", NULL, "cremad", "cremad:1091", "disgusted");
  expect_name("1002_TIE_FEA_LO.wav", NULL, "cremad", "cremad:1002", "fearful");
  expect_name("1003_MTI_HAP_MD.wav", NULL, "cremad", "cremad:1003", "happy");
  expect_name("1004_WSI_NEU_XX.wav", NULL, "cremad", "cremad:1004", "neutral");
  expect_name("1005_ITS_SAD_XX.wav", NULL, "cremad", "cremad:1005", "sad");
  expect_name("1001_DFA_BOR_XX.wav", NULL, NULL, NULL, NULL);
  /* TESS: ps = pleasant surprise; folder hint */
  expect_name("OAF_back_angry.wav", "OAF_angry", "tess", "tess:OAF", "angry");
  expect_name("YAF_bite_ps.wav", "YAF_pleasant_surprised", "tess", "tess:YAF", "surprised");
  expect_name("OAF_bath_ps.wav", NULL, "tess", "tess:OAF", "surprised");
  expect_name("OAF_back_Fear.wav", "OAF_Fear", "tess", "tess:OAF", "fearful");
  expect_name("YAF_dog_disgust.wav", NULL, "tess", "tess:YAF", "disgusted");
  expect_name("OAF_youth_neutral.wav", NULL, "tess", "tess:OAF", "neutral");
  expect_name("YAF_back_happy.wav", NULL, "tess", "tess:YAF", "happy");
  expect_name("YAF_back_sad.wav", NULL, "tess", "tess:YAF", "sad");
  /* emotion only in the folder name */
  expect_name("OAF_back.wav", "OAF_Pleasant_surprise", "tess", "tess:OAF", "surprised");
  expect_name("OAF_back.wav", NULL, NULL, NULL, NULL);
  expect_name("XAF_back_angry.wav", NULL, NULL, NULL, NULL);
  /* SAVEE: speaker in the name, or in the folder */
  expect_name("DC_a01.wav", NULL, "savee", "savee:DC", "angry");
  expect_name("JE_sa15.wav", NULL, "savee", "savee:JE", "sad");
  expect_name("JK_su03.wav", NULL, "savee", "savee:JK", "surprised");
  expect_name("KL_n30.wav", NULL, "savee", "savee:KL", "neutral");
  expect_name("DC_d02.wav", NULL, "savee", "savee:DC", "disgusted");
  expect_name("DC_f02.wav", NULL, "savee", "savee:DC", "fearful");
  expect_name("DC_h02.wav", NULL, "savee", "savee:DC", "happy");
  expect_name("a01.wav", "DC", "savee", "savee:DC", "angry");
  expect_name("su12.wav", "KL", "savee", "savee:KL", "surprised");
  expect_name("a01.wav", NULL, NULL, NULL, NULL);
  expect_name("a01.wav", "audio", NULL, NULL, NULL);
  expect_name("DC_x01.wav", NULL, NULL, NULL, NULL);
  /* EMOVO */
  expect_name("dis-f1-b1.wav", NULL, "emovo", "emovo:f1", "disgusted");
  expect_name("gio-m2-l3.wav", NULL, "emovo", "emovo:m2", "happy");
  expect_name("neu-f3-n5.wav", NULL, "emovo", "emovo:f3", "neutral");
  expect_name("pau-m1-d2.wav", NULL, "emovo", "emovo:m1", "fearful");
  expect_name("rab-m3-t1.wav", NULL, "emovo", "emovo:m3", "angry");
  expect_name("sor-f2-b3.wav", NULL, "emovo", "emovo:f2", "surprised");
  expect_name("tri-f1-l1.wav", NULL, "emovo", "emovo:f1", "sad");
  expect_name("xyz-f1-b1.wav", NULL, NULL, NULL, NULL);
  /* noise */
  expect_name("recording.wav", NULL, NULL, NULL, NULL);
  expect_name("", NULL, NULL, NULL, NULL);
  expect_name(".wav", NULL, NULL, NULL, NULL);
  /* a path: only the base name counts */
  expect_name("some/dir/03a01Wa.wav", NULL, "emodb", "emodb:03", "angry");
}

static void test_label_map(void) {
  const char *l7[] = {"neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"};
  CHECK(ser_label_map("neutral", l7, 7) == 0, "neutral");
  CHECK(ser_label_map("calm", l7, 7) == 0, "calm -> neutral");
  CHECK(ser_label_map("happiness", l7, 7) == 1, "happiness");
  CHECK(ser_label_map("joy", l7, 7) == 1, "joy");
  CHECK(ser_label_map("sadness", l7, 7) == 2, "sadness");
  CHECK(ser_label_map("anger", l7, 7) == 3, "anger");
  CHECK(ser_label_map("ANGRY", l7, 7) == 3, "ANGRY");
  CHECK(ser_label_map("fear", l7, 7) == 4, "fear");
  CHECK(ser_label_map("disgust", l7, 7) == 5, "disgust");
  CHECK(ser_label_map("ps", l7, 7) == 6, "ps");
  CHECK(ser_label_map("pleasant surprise", l7, 7) == 6, "pleasant surprise");
  CHECK(ser_label_map("surprise", l7, 7) == 6, "surprise");
  CHECK(ser_label_map("boredom", l7, 7) == -1, "boredom dropped");
  CHECK(ser_label_map("contempt", l7, 7) == -1, "unknown dropped");
  /* calm stays calm when the set has it */
  const char *l8[] = {"neutral", "calm", "happy"};
  CHECK(ser_label_map("calm", l8, 3) == 1, "calm kept");
  /* label sets written with synonyms */
  const char *ls[] = {"anger", "happiness", "neutral"};
  CHECK(ser_label_map("angry", ls, 3) == 0, "angry -> anger");
  CHECK(ser_label_map("calm", ls, 3) == 2, "calm -> neutral in synonym set");
  const char *l2[] = {"happy", "sad"};
  CHECK(ser_label_map("calm", l2, 2) == -1, "calm without neutral dropped");
  CHECK(ser_label_map(NULL, l2, 2) == -1, "NULL");
  CHECK(strcmp(ser_label_canonical("Happiness"), "happy") == 0, "canonical");
  CHECK(ser_label_canonical("xyz") == NULL, "canonical unknown");
  for (int i = 0; i < 9; i++)
    CHECK(strcmp(ser_label_canonical(ser_canonical_labels[i]), ser_canonical_labels[i]) == 0,
          "canonical %s", ser_canonical_labels[i]);
}

static void test_manifest(const char *ds) {
  ser_error err;
  ser_corpus c;
  char p[1024], line[2048];
  /* a manifest with absolute, relative and quoted paths, extra columns, CRLF */
  snprintf(line, sizeof line,
           "\xEF\xBB\xBFid,Path,speaker,label,notes\r\n"
           "1,%s/emodb/wav/03a01Fa.wav,03,happiness,\"a, note\"\r\n"
           "2,\"%s/ravdess16k/Actor_01/03-01-02-01-01-01-01.flac\",01,calm,\"say \"\"hi\"\"\"\r\n"
           "\r\n"
           "3,sub/my clip.wav,bob,Contempt,x\r\n",
           ds, ds);
  snprintf(p, sizeof p, "%s/sub", tmpdir);
  mkdir(p, 0755);
  write_file("sub/my clip.wav", "not really audio");
  write_file("sub/other.wav", "not really audio either");
  write_file("good.csv", line);
  snprintf(p, sizeof p, "%s/good.csv", tmpdir);
  REQUIRE(ser_corpus_load_manifest(p, &c, &err) == 0, "good.csv: %s", err.msg);
  REQUIRE(c.n == 3, "%zu rows", c.n);
  /* sorted by path: the absolute dataset paths vs tmpdir */
  for (size_t i = 0; i < c.n; i++) {
    const ser_corpus_item *it = &c.items[i];
    if (strstr(it->path, "03a01Fa")) {
      CHECK(strcmp(it->speaker, "emodb:03") == 0 && strcmp(it->label, "happy") == 0 &&
                strcmp(it->corpus, "emodb") == 0,
            "row 1: %s %s %s", it->speaker, it->label, it->corpus);
    } else if (strstr(it->path, "03-01-02")) {
      CHECK(strcmp(it->speaker, "ravdess:01") == 0 && strcmp(it->label, "calm") == 0, "row 2: %s %s",
            it->speaker, it->label);
    } else {
      char want[1024];
      snprintf(want, sizeof want, "%s/sub/my clip.wav", tmpdir);
      CHECK(strcmp(it->path, want) == 0, "relative path -> %s", it->path);
      CHECK(strcmp(it->speaker, "manifest:bob") == 0 && strcmp(it->label, "contempt") == 0 &&
                strcmp(it->corpus, "manifest") == 0,
            "row 3: %s %s %s", it->speaker, it->label, it->corpus);
    }
  }
  ser_corpus_free(&c);

  /* mangled manifests: each either loads or fails with a message, never crashes
   * (memory errors show under the ASan run) */
  {
    ser_rng rng;
    ser_rng_seed(&rng, 42);
    const char specials[] = "\",\r\n\0 x";
    size_t base_len = strlen(line);
    char *mut = malloc(base_len + 64);
    int ok = 0, failed = 0;
    for (int t = 0; t < 300; t++) {
      size_t len = base_len;
      memcpy(mut, line, len);
      int edits = 1 + (int)ser_rng_below(&rng, 4);
      for (int e = 0; e < edits && len > 0; e++) {
        size_t at = ser_rng_below(&rng, (uint32_t)len);
        uint32_t op = ser_rng_below(&rng, 3);
        if (op == 0) {
          mut[at] = specials[ser_rng_below(&rng, sizeof specials - 1)];
        } else if (op == 1 && len < base_len + 60) {
          memmove(mut + at + 1, mut + at, len - at);
          mut[at] = specials[ser_rng_below(&rng, sizeof specials - 1)];
          len++;
        } else {
          len = at;
        }
      }
      char mp[512];
      snprintf(mp, sizeof mp, "%s/mangled.csv", tmpdir);
      FILE *mf = fopen(mp, "wb");
      REQUIRE(mf, "write %s", mp);
      fwrite(mut, 1, len, mf);
      fclose(mf);
      memset(&err, 0, sizeof err);
      if (ser_corpus_load_manifest(mp, &c, &err) == 0) {
        ok++;
        for (size_t i = 0; i < c.n; i++)
          CHECK(c.items[i].path && c.items[i].speaker && c.items[i].label && c.items[i].corpus, "null field");
        ser_corpus_free(&c);
      } else {
        failed++;
        CHECK(err.msg[0] && strstr(err.msg, "mangled.csv"), "error without file name: '%s'", err.msg);
        CHECK(c.n == 0 && !c.items, "items left after an error");
      }
    }
    CHECK(ok > 0 && failed > 0, "mangled: %d loaded, %d failed", ok, failed);
    free(mut);
  }

  /* errors name the file and line */
  struct { const char *name, *text, *want; } bad[] = {
    {"nolabel.csv", "path,speaker\nsub/my clip.wav,bob\n", "nolabel.csv:1: header has no 'label' column"},
    {"nospk.csv", "path,emotion\nsub/my clip.wav,angry\n", "nospk.csv:1: header has no 'speaker' column"},
    {"missing.csv", "path,speaker,label\nsub/my clip.wav,bob,angry\n\nsub/nope.wav,bob,sad\n",
     "missing.csv:4: sub/nope.wav: No such file or directory"},
    {"fields.csv", "path,speaker,label\nsub/my clip.wav,bob\n", "fields.csv:2: 2 fields, the header has 3"},
    {"quote.csv", "path,speaker,label\n\"sub/my clip.wav,bob,sad\n", "quote.csv:2: unterminated quoted field"},
    {"empty.csv", "", "empty.csv: empty file"},
    {"nolines.csv", "path,speaker,label\n", "nolines.csv: no rows after the header"},
    {"emptylabel.csv", "path,speaker,label\nsub/my clip.wav,bob,\n", "emptylabel.csv:2: empty label"},
    {"twice.csv", "path,speaker,label\nsub/my clip.wav,bob,sad\nsub/other.wav,bob,sad\n./sub/my clip.wav,bob,sad\n",
     "twice.csv:4: file listed again (first on line 2): "},
    {"twice2.csv", "path,speaker,label\nsub/../sub/my clip.wav,ann,sad\nsub/my clip.wav,bob,sad\n",
     "twice2.csv:3: file listed again (first on line 2, there with another speaker or label): "},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    write_file(bad[i].name, bad[i].text);
    snprintf(p, sizeof p, "%s/%s", tmpdir, bad[i].name);
    memset(&err, 0, sizeof err);
    int r = ser_corpus_load_manifest(p, &c, &err);
    CHECK(r == -1, "%s accepted", bad[i].name);
    CHECK(c.n == 0 && c.items == NULL, "%s: corpus not empty after error", bad[i].name);
    CHECK(strstr(err.msg, bad[i].want) != NULL, "%s: message '%s' lacks '%s'", bad[i].name, err.msg,
          bad[i].want);
    if (r == 0) ser_corpus_free(&c);
  }
  snprintf(p, sizeof p, "%s/absent.csv", tmpdir);
  CHECK(ser_corpus_load_manifest(p, &c, &err) == -1 && strstr(err.msg, "absent.csv: No such file"),
        "absent: %s", err.msg);

  /* scans: missing folder, folder without recognised names */
  snprintf(p, sizeof p, "%s/nothing-here", tmpdir);
  CHECK(ser_corpus_scan_dir(p, &c, &err) == -1 && strstr(err.msg, "nothing-here"), "%s", err.msg);
  snprintf(p, sizeof p, "%s/sub", tmpdir);
  CHECK(ser_corpus_scan_dir(p, &c, &err) == -1 && strstr(err.msg, "2 audio files not recognised"), "%s",
        err.msg);
  /* a mixed folder: recognised, unrecognised audio, non-audio; TESS folder hint */
  snprintf(p, sizeof p, "%s/mix", tmpdir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/mix/OAF_Pleasant_surprise", tmpdir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/mix/DC", tmpdir);
  mkdir(p, 0755);
  write_file("mix/OAF_Pleasant_surprise/OAF_back_ps.wav", "x");
  write_file("mix/OAF_Pleasant_surprise/OAF_bath.wav", "x");
  write_file("mix/DC/a01.wav", "x");
  write_file("mix/DC/readme.txt", "x");
  write_file("mix/1001_DFA_ANG_XX.WAV", "x");
  write_file("mix/dis-f1-b1.ogg", "x");
  write_file("mix/JE_sa15.mp3", "x");
  write_file("mix/interview.wav", "x");
  write_file("mix/.hidden.wav", "x");
  snprintf(p, sizeof p, "%s/mix", tmpdir);
  REQUIRE(ser_corpus_scan_dir(p, &c, &err) == 0, "%s", err.msg);
  CHECK(c.n == 6, "mix: %zu items", c.n);
  CHECK(c.n_skipped == 1 && c.n_ignored == 1, "mix: skipped %zu ignored %zu", c.n_skipped, c.n_ignored);
  const char *want_spk[] = {"cremad:1001", "savee:DC", "savee:JE", "tess:OAF", "tess:OAF", "emovo:f1"};
  const char *want_lab[] = {"angry", "angry", "sad", "surprised", "surprised", "disgusted"};
  /* sorted by path: 1001..., DC/a01, JE_..., OAF_Pleasant_surprise/OAF_back_ps, .../OAF_bath, dis-... */
  for (size_t i = 0; i < c.n && i < 6; i++)
    CHECK(strcmp(c.items[i].speaker, want_spk[i]) == 0 && strcmp(c.items[i].label, want_lab[i]) == 0,
          "mix %zu: %s %s %s", i, c.items[i].path, c.items[i].speaker, c.items[i].label);
  ser_corpus_free(&c);
}

int main(void) {
  const char *ds = env_or_die("SER_DATASETS");
  snprintf(tmpdir, sizeof tmpdir, "%s/ser-corpus-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  REQUIRE(mkdtemp(tmpdir), "mkdtemp");
  test_names();
  test_label_map();
  test_manifest(ds);
  test_emodb(ds);
  test_ravdess(ds);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  CHECK_DONE();
}
