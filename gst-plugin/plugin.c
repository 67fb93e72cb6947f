/* Registers the seremotion element. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <gst/gst.h>

#include "gstseremotion.h"

static gboolean plugin_init(GstPlugin *plugin) {
  gst_seremotion_register_tags_and_meta();
  return gst_element_register(plugin, "seremotion", GST_RANK_NONE, GST_TYPE_SEREMOTION);
}

#define PACKAGE "seremotion"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, seremotion,
                  "Speech emotion recognition (MFCC + CBAM 1D-CNN)", plugin_init, SER_VERSION,
                  "LGPL", "seremotion", "https://github.com/seremotion/seremotion")
