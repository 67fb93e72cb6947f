/* Metrics on a hand-checked confusion matrix; text, JSON and SVG reports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ser.h"
#include "check.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

/* ---- a minimal JSON syntax checker ---- */
static const char *js;
static int json_value(void);
static void ws(void) {
  while (*js == ' ' || *js == '\n' || *js == '\t' || *js == '\r') js++;
}
static int json_string_tok(void) {
  if (*js != '"') return 0;
  js++;
  while (*js && *js != '"') {
    if ((unsigned char)*js < 0x20) return 0;
    if (*js == '\\') {
      js++;
      if (*js == 'u') {
        for (int i = 1; i <= 4; i++)
          if (!strchr("0123456789abcdefABCDEF", js[i]) || !js[i]) return 0;
        js += 4;
      } else if (!*js || !strchr("\"\\/bfnrt", *js)) {
        return 0;
      }
    }
    js++;
  }
  if (*js != '"') return 0;
  js++;
  return 1;
}
static int json_number(void) {
  const char *s = js;
  if (*js == '-') js++;
  if (!(*js >= '0' && *js <= '9')) return 0;
  while (*js >= '0' && *js <= '9') js++;
  if (*js == '.') {
    js++;
    if (!(*js >= '0' && *js <= '9')) return 0;
    while (*js >= '0' && *js <= '9') js++;
  }
  if (*js == 'e' || *js == 'E') {
    js++;
    if (*js == '+' || *js == '-') js++;
    if (!(*js >= '0' && *js <= '9')) return 0;
    while (*js >= '0' && *js <= '9') js++;
  }
  return js > s;
}
static int json_value(void) {
  ws();
  if (*js == '{') {
    js++;
    ws();
    if (*js == '}') {
      js++;
      return 1;
    }
    for (;;) {
      ws();
      if (!json_string_tok()) return 0;
      ws();
      if (*js++ != ':') return 0;
      if (!json_value()) return 0;
      ws();
      if (*js == ',') {
        js++;
        continue;
      }
      if (*js == '}') {
        js++;
        return 1;
      }
      return 0;
    }
  }
  if (*js == '[') {
    js++;
    ws();
    if (*js == ']') {
      js++;
      return 1;
    }
    for (;;) {
      if (!json_value()) return 0;
      ws();
      if (*js == ',') {
        js++;
        continue;
      }
      if (*js == ']') {
        js++;
        return 1;
      }
      return 0;
    }
  }
  if (*js == '"') return json_string_tok();
  if (!strncmp(js, "true", 4) || !strncmp(js, "null", 4)) {
    js += 4;
    return 1;
  }
  if (!strncmp(js, "false", 5)) {
    js += 5;
    return 1;
  }
  return json_number();
}
static int json_valid(const char *s) {
  js = s;
  if (!json_value()) return 0;
  ws();
  return *js == 0;
}

static char *capture(void (*fn)(FILE *, const ser_confusion *, const char *const *), const ser_confusion *c,
                     const char *const *labels) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  REQUIRE(f, "open_memstream");
  fn(f, c, labels);
  fclose(f);
  return buf;
}

static double json_number_after(const char *s, const char *key) {
  const char *p = strstr(s, key);
  if (!p) return NAN;
  return strtod(p + strlen(key), NULL);
}

int main(void) {
  /* truth \ pred:  A  B  C
   *          A     5  1  0   support 6
   *          B     2  3  1   support 6
   *          C     1  0  3   support 4
   * D: a fourth class with no examples and no predictions */
  const char *labels[] = {"angry", "happy", "sad", "bored"};
  ser_confusion c;
  REQUIRE(ser_confusion_init(&c, 4) == 0, "init");
  const int m[3][3] = {{5, 1, 0}, {2, 3, 1}, {1, 0, 3}};
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < m[i][j]; k++) ser_confusion_add(&c, (uint32_t)i, (uint32_t)j);
  ser_confusion_add(&c, 7, 0); /* out of range: ignored */
  ser_scores s;
  ser_confusion_scores(&c, &s);
  CHECK(s.total == 16, "total %llu", (unsigned long long)s.total);
  CHECK(NEAR(s.wa, 11.0 / 16.0), "wa %f", s.wa);
  double rA = 5.0 / 6, rB = 3.0 / 6, rC = 3.0 / 4;
  double pA = 5.0 / 8, pB = 3.0 / 4, pC = 3.0 / 4;
  double fA = 2 * pA * rA / (pA + rA), fB = 2 * pB * rB / (pB + rB), fC = 2 * pC * rC / (pC + rC);
  CHECK(NEAR(s.ua, (rA + rB + rC) / 3), "ua %f", s.ua);
  CHECK(NEAR(s.ua, 0.6944444444444444), "ua %f", s.ua);
  CHECK(NEAR(s.recall[0], rA) && NEAR(s.recall[1], rB) && NEAR(s.recall[2], rC) && s.recall[3] == 0, "recall");
  CHECK(NEAR(s.precision[0], pA) && NEAR(s.precision[1], pB) && NEAR(s.precision[2], pC), "precision");
  CHECK(NEAR(s.f1[0], 5.0 / 7) && NEAR(s.f1[1], 0.6) && NEAR(s.f1[2], 0.75), "f1 %f %f %f", s.f1[0], s.f1[1],
        s.f1[2]);
  CHECK(NEAR(s.macro_f1, (fA + fB + fC) / 3), "macro f1 %f", s.macro_f1);
  CHECK(s.support[0] == 6 && s.support[1] == 6 && s.support[2] == 4 && s.support[3] == 0, "support");
  CHECK(s.n_present == 3, "present %u", s.n_present);

  /* a predicted class without examples counts for macro F1 (F1 0) but not for UA */
  ser_confusion c2;
  REQUIRE(ser_confusion_init(&c2, 4) == 0, "init");
  REQUIRE(ser_confusion_merge(&c2, &c) == 0, "merge");
  ser_confusion_add(&c2, 0, 3);
  ser_scores s2;
  ser_confusion_scores(&c2, &s2);
  CHECK(NEAR(s2.wa, 11.0 / 17), "wa2 %f", s2.wa);
  CHECK(NEAR(s2.ua, (5.0 / 7 + rB + rC) / 3), "ua2 %f", s2.ua);
  double fA2 = 2 * pA * (5.0 / 7) / (pA + 5.0 / 7);
  CHECK(NEAR(s2.macro_f1, (fA2 + fB + fC + 0) / 4), "macro f1 2 %f", s2.macro_f1);
  ser_confusion c3;
  REQUIRE(ser_confusion_init(&c3, 3) == 0, "init");
  CHECK(ser_confusion_merge(&c2, &c3) == -1, "merge of different sizes");
  ser_confusion_scores(&c3, &s2); /* empty: all zero, no NaN */
  CHECK(s2.wa == 0 && s2.ua == 0 && s2.macro_f1 == 0, "empty");
  ser_confusion_free(&c3);
  CHECK(ser_confusion_init(&c3, 0) == -1 && ser_confusion_init(&c3, 65) == -1, "bad sizes");
  ser_confusion_free(&c2);

  /* speaker bootstrap. Two groups whose pooled UA (0.9) lies above both of their own (0.5):
   * class 0 is recalled 9/9 by A and 0/1 by B, class 1 0/1 by A and 9/9 by B. A resample is
   * AA, AB or BB (1/4, 1/2, 1/4), so the 95 % interval is exactly [0.5, 0.9]. */
  ser_confusion g[4];
  for (int k = 0; k < 3; k++) REQUIRE(ser_confusion_init(&g[k], 2) == 0, "init");
  for (int k = 0; k < 9; k++) ser_confusion_add(&g[0], 0, 0), ser_confusion_add(&g[1], 1, 1);
  ser_confusion_add(&g[0], 1, 0);
  ser_confusion_add(&g[1], 0, 1);
  /* g[2] stays empty: a speaker without test clips is not drawn */
  ser_bootstrap b, b2;
  REQUIRE(ser_confusion_bootstrap(g, 3, 2000, 0.95, 7, &b) == 0, "bootstrap");
  CHECK(b.groups == 2 && b.resamples == 2000 && b.level == 0.95, "bootstrap groups %u", b.groups);
  CHECK(NEAR(b.ua_lo, 0.5) && NEAR(b.ua_hi, 0.9), "ua interval %f %f", b.ua_lo, b.ua_hi);
  CHECK(NEAR(b.wa_lo, 0.9) && NEAR(b.wa_hi, 0.9), "wa interval %f %f", b.wa_lo, b.wa_hi);
  REQUIRE(ser_confusion_bootstrap(g, 3, 2000, 0.95, 7, &b2) == 0, "bootstrap again");
  CHECK(!memcmp(&b, &b2, sizeof b), "bootstrap not deterministic for a seed");
  /* identical groups: no spread */
  REQUIRE(ser_confusion_merge(&g[2], &g[0]) == 0, "merge");
  REQUIRE(ser_confusion_bootstrap((ser_confusion[]){g[0], g[2]}, 2, 500, 0.95, 3, &b2) == 0, "same groups");
  CHECK(NEAR(b2.ua_lo, 0.5) && NEAR(b2.ua_hi, 0.5) && NEAR(b2.wa_lo, 0.9) && NEAR(b2.wa_hi, 0.9),
        "identical groups %f %f", b2.ua_lo, b2.ua_hi);
  /* refused: one group with examples, sizes that differ, bad level or count */
  CHECK(ser_confusion_bootstrap(g, 1, 100, 0.95, 1, &b2) == -1, "one group");
  REQUIRE(ser_confusion_init(&g[3], 3) == 0, "init");
  ser_confusion_add(&g[3], 0, 0);
  CHECK(ser_confusion_bootstrap(&g[2], 2, 100, 0.95, 1, &b2) == -1, "sizes differ");
  CHECK(ser_confusion_bootstrap(g, 2, 0, 0.95, 1, &b2) == -1 && ser_confusion_bootstrap(g, 2, 100, 1.0, 1, &b2) == -1 &&
        ser_confusion_bootstrap(g, 2, 100, 0.0, 1, &b2) == -1, "bad count or level");
  /* JSON with the interval */
  {
    char *buf = NULL;
    size_t blen = 0;
    FILE *mf = open_memstream(&buf, &blen);
    REQUIRE(mf, "open_memstream");
    ser_report_json_bootstrap(mf, &c, labels, &b);
    fclose(mf);
    CHECK(json_valid(buf), "invalid JSON with bootstrap: %s", buf);
    CHECK(strstr(buf, "\"bootstrap\":{\"groups\":2,\"resamples\":2000,\"level\":0.9500,\"wa\":[0.900000,0.900000],"
                      "\"ua\":[0.500000,0.900000]"),
          "bootstrap JSON: %s", buf);
    free(buf);
  }
  for (int k = 0; k < 4; k++) ser_confusion_free(&g[k]);
  /* JSON with the folds' and speakers' scores: parts without examples left out, their mean */
  {
    ser_confusion p[3], all;
    for (int k = 0; k < 3; k++) REQUIRE(ser_confusion_init(&p[k], 2) == 0, "init part");
    REQUIRE(ser_confusion_init(&all, 2) == 0, "init all");
    const int cells[2][4] = {{2, 0, 1, 1}, {0, 2, 0, 2}}; /* rows: truth; UA 0.75 and 0.5, WA 0.75 and 0.5 */
    for (int k = 0; k < 2; k++)
      for (int cell = 0; cell < 4; cell++)
        for (int r = 0; r < cells[k][cell]; r++) {
          ser_confusion_add(&p[k], (uint32_t)cell / 2, (uint32_t)cell % 2);
          ser_confusion_add(&all, (uint32_t)cell / 2, (uint32_t)cell % 2);
        }
    const char *names[3] = {"fold \"a\"", NULL, "empty"};
    char *buf = NULL;
    size_t blen = 0;
    FILE *mf = open_memstream(&buf, &blen);
    REQUIRE(mf, "open_memstream");
    ser_report_json_groups(mf, &all, NULL, NULL, names, p, 3, NULL, p, 3);
    fclose(mf);
    CHECK(json_valid(buf), "invalid JSON with groups: %s", buf);
    CHECK(strstr(buf, ",\"folds\":[{\"name\":\"fold \\\"a\\\"\",\"n\":4,\"wa\":0.750000,\"ua\":0.750000,"),
          "first fold: %s", buf);
    CHECK(strstr(buf, "{\"name\":\"1\",\"n\":4,\"wa\":0.500000,\"ua\":0.500000,"), "unnamed fold: %s", buf);
    CHECK(!strstr(buf, "empty") && !strstr(buf, "\"name\":\"2\""), "a part without examples is listed: %s", buf);
    CHECK(strstr(buf, "\"folds_mean\":{\"n\":2,\"wa\":0.625000,\"ua\":0.625000,"), "folds mean: %s", buf);
    CHECK(strstr(buf, ",\"speakers\":[{\"name\":\"0\",\"n\":4,") && !strstr(buf, "speakers_mean"),
          "speakers: %s", buf);
    CHECK(!strstr(buf, "bootstrap"), "a bootstrap without one: %s", buf);
    free(buf);
    for (int k = 0; k < 3; k++) ser_confusion_free(&p[k]);
    ser_confusion_free(&all);
  }

  /* text */
  char *txt = capture(ser_report_text, &c, labels);
  CHECK(strstr(txt, "WA 0.6875  UA 0.6944  macro-F1 0.6881"), "text summary:\n%s", txt);
  CHECK(strstr(txt, "angry          0.833      0.625      0.714        6"), "text row:\n%s", txt);
  CHECK(strstr(txt, "true\\pred  angry  happy    sad  bored"), "text header:\n%s", txt);
  CHECK(strstr(txt, "happy          2      3      1      0"), "text matrix row:\n%s", txt);
  printf("%s\n", txt);
  free(txt);

  /* JSON: valid syntax, values */
  char *json = capture(ser_report_json, &c, labels);
  CHECK(json_valid(json), "invalid JSON: %s", json);
  CHECK(strstr(json, "\"labels\":[\"angry\",\"happy\",\"sad\",\"bored\"]"), "labels: %s", json);
  CHECK(strstr(json, "\"confusion\":[[5,1,0,0],[2,3,1,0],[1,0,3,0],[0,0,0,0]]"), "confusion: %s", json);
  CHECK(fabs(json_number_after(json, "\"wa\":") - 0.6875) < 1e-6, "wa in %s", json);
  CHECK(fabs(json_number_after(json, "\"ua\":") - 0.694444) < 1e-6, "ua in %s", json);
  CHECK(fabs(json_number_after(json, "\"macro_f1\":") - (fA + fB + fC) / 3) < 1e-6, "f1 in %s", json);
  CHECK(strstr(json, "\"happy\":{\"recall\":0.500000,\"precision\":0.750000,\"f1\":0.600000,\"support\":6}"),
        "per class: %s", json);
  printf("%s\n", json);
  free(json);
  /* labels that need escaping; NULL labels */
  const char *odd[] = {"a\"b\\c", "x<&>y", "tab\there", "z"};
  json = capture(ser_report_json, &c, odd);
  CHECK(json_valid(json), "invalid JSON with odd labels: %s", json);
  free(json);
  json = capture(ser_report_json, &c, NULL);
  CHECK(json_valid(json) && strstr(json, "\"labels\":[\"0\",\"1\",\"2\",\"3\"]"), "NULL labels: %s", json);
  free(json);
  CHECK(!json_valid("{\"a\":1,}") && !json_valid("[1 2]") && json_valid("{\"a\":[1,-2.5e3,\"x\"]}"),
        "the checker itself");

  /* SVG */
  char dir[256], path[512], cmd[1200];
  snprintf(dir, sizeof dir, "%s/ser-metrics-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  REQUIRE(mkdtemp(dir), "mkdtemp");
  snprintf(path, sizeof path, "%s/cm.svg", dir);
  ser_error err;
  REQUIRE(ser_report_svg(path, &c, odd, "Fold <1> & \"all\"", &err) == 0, "%s", err.msg);
  FILE *f = fopen(path, "r");
  REQUIRE(f, "open svg");
  static char svg[1 << 16];
  size_t len = fread(svg, 1, sizeof svg - 1, f);
  svg[len] = 0;
  fclose(f);
  CHECK(strncmp(svg, "<?xml", 5) == 0, "xml declaration");
  CHECK(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""), "svg root");
  CHECK(strstr(svg, "</svg>\n") && strstr(svg, "</svg>\n") + 7 == svg + len, "ends with </svg>");
  /* 16 cells + 4 diagonal outlines + background, 16 counts x 2 lines + 4 + 4 labels + title, axes, footer */
  size_t rects = 0, texts = 0, ctexts = 0;
  for (const char *p = svg; (p = strstr(p, "<rect")); p++) rects++;
  for (const char *p = svg; (p = strstr(p, "<text")); p++) texts++;
  for (const char *p = svg; (p = strstr(p, "</text>")); p++) ctexts++;
  CHECK(rects == 21, "rects %zu", rects);
  CHECK(texts == 16 * 2 + 8 + 4 && texts == ctexts, "texts %zu / %zu", texts, ctexts);
  CHECK(strstr(svg, "Fold &lt;1&gt; &amp; &quot;all&quot;"), "escaped title");
  CHECK(strstr(svg, "x&lt;&amp;&gt;y") && !strstr(svg, "x<&>y"), "escaped label");
  CHECK(strstr(svg, ">5</text>") && strstr(svg, ">83%</text>"), "count and row percentage");
  CHECK(strstr(svg, "fill=\"#08306b\"") == NULL, "no cell is 100%% of its row here");
  CHECK(strstr(svg, "WA 68.8 %"), "footer");
  if (system("command -v xmllint >/dev/null 2>&1") == 0) {
    snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
    CHECK(system(cmd) == 0, "xmllint rejects %s", path);
  } else {
    printf("xmllint not installed: structural checks only\n");
  }
  snprintf(path, sizeof path, "%s/no/such/dir/cm.svg", dir);
  CHECK(ser_report_svg(path, &c, labels, "t", &err) == -1 && strstr(err.msg, "no/such/dir/cm.svg"), "%s",
        err.msg);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  ser_confusion_free(&c);
  CHECK_DONE();
}
