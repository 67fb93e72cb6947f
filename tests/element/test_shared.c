/* 16 seremotion instances in one pipeline share one loaded model and all
 * analyse in parallel (one streaming thread each, behind queues).
 * The plugin exports seremotion_model_cache_stats() (diagnostic accessor);
 * we look it up in the loaded plugin module, linking nothing of ours. */
#include <gmodule.h>

#include "common.h"

typedef struct {
  guint loads, users, models;
} Stats;
typedef void (*StatsFn)(Stats *);

static StatsFn stats_fn(void) {
  GstPlugin *p = gst_registry_find_plugin(gst_registry_get(), "seremotion");
  fail_unless(p != NULL, "seremotion plugin not found");
  GstPlugin *loaded = gst_plugin_load(p);
  fail_unless(loaded != NULL);
  GModule *mod = g_module_open(gst_plugin_get_filename(loaded), G_MODULE_BIND_LAZY);
  fail_unless(mod != NULL);
  gpointer fn = NULL;
  fail_unless(g_module_symbol(mod, "seremotion_model_cache_stats", &fn));
  gst_object_unref(loaded);
  gst_object_unref(p);
  /* keep the module open: the plugin stays loaded for the process anyway */
  return (StatsFn)fn;
}

GST_START_TEST(test_sixteen_instances_share_one_model) {
  const int N = 16;
  StatsFn stats = stats_fn();
  Stats s0;
  stats(&s0);
  gchar *clip = speech_path("data/speech-emodb-03.wav");
  GString *d = g_string_new(NULL);
  g_string_append_printf(d, "filesrc location=\"%s\" ! wavparse ! audioconvert ! tee name=t", clip);
  for (int i = 0; i < N; i++)
    g_string_append_printf(d, " t. ! queue ! seremotion name=e%d ! fakesink sync=false", i);
  GError *err = NULL;
  GstElement *p = gst_parse_launch(d->str, &err);
  fail_unless(p != NULL, "%s", err ? err->message : "");
  fail_unless(gst_element_set_state(p, GST_STATE_READY) == GST_STATE_CHANGE_SUCCESS);
  Stats s1;
  stats(&s1);
  /* one model loaded (or already held), held by 16 instances */
  fail_unless_equals_int(s1.users - s0.users, N);
  fail_unless(s1.loads - s0.loads <= 1, "%u loads for %d instances", s1.loads - s0.loads, N);
  fail_unless_equals_int(s1.models, s0.models + (s0.users == 0 ? 1 : 0));
  gst_element_set_state(p, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(p);
  guint per[16] = {0}, summaries = 0;
  gboolean done = FALSE;
  while (!done) {
    GstMessage *m = gst_bus_timed_pop(bus, 30 * GST_SECOND);
    fail_unless(m != NULL, "timeout");
    switch (GST_MESSAGE_TYPE(m)) {
      case GST_MESSAGE_ERROR:
        fail("error from %s", GST_OBJECT_NAME(GST_MESSAGE_SRC(m)));
        break;
      case GST_MESSAGE_EOS:
        done = TRUE;
        break;
      case GST_MESSAGE_ELEMENT: {
        const GstStructure *st = gst_message_get_structure(m);
        int idx = atoi(GST_OBJECT_NAME(GST_MESSAGE_SRC(m)) + 1);
        if (gst_structure_has_name(st, "seremotion")) per[idx]++;
        if (gst_structure_has_name(st, "seremotion-summary")) summaries++;
        break;
      }
      default:
        break;
    }
    gst_message_unref(m);
  }
  fail_unless_equals_int(summaries, N);
  for (int i = 1; i < N; i++) fail_unless_equals_int(per[i], per[0]);
  fail_unless(per[0] >= 10);
  gst_element_set_state(p, GST_STATE_NULL);
  Stats s2;
  stats(&s2);
  fail_unless_equals_int(s2.users, s0.users);
  gst_object_unref(bus);
  gst_object_unref(p);
  g_string_free(d, TRUE);
  g_free(clip);
}
GST_END_TEST

static Suite *shared_suite(void) {
  Suite *s = suite_create("seremotion-shared");
  TCase *tc = tcase_create("shared");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_sixteen_instances_share_one_model);
  suite_add_tcase(s, tc);
  return s;
}

GST_CHECK_MAIN(shared);
