/* seremotion element: skeleton (the element issue builds it out). */
#include "gstseremotion.h"

#include "ser.h"

struct _GstSerEmotion {
  GstBaseTransform parent;
};

G_DEFINE_TYPE(GstSerEmotion, gst_seremotion, GST_TYPE_BASE_TRANSFORM)

#define CAPS_STR                                                             \
  "audio/x-raw, format = (string) { S16LE, S32LE, F32LE, F64LE }, "          \
  "layout = (string) interleaved, rate = (int) [ 8000, 192000 ], "           \
  "channels = (int) [ 1, 8 ]"

static GstStaticPadTemplate sink_tmpl =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS_STR));
static GstStaticPadTemplate src_tmpl =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS_STR));

static void gst_seremotion_class_init(GstSerEmotionClass *klass) {
  GstElementClass *ec = GST_ELEMENT_CLASS(klass);
  gst_element_class_add_static_pad_template(ec, &sink_tmpl);
  gst_element_class_add_static_pad_template(ec, &src_tmpl);
  gst_element_class_set_static_metadata(ec, "Speech emotion recognition", "Filter/Analyzer/Audio",
                                        "Recognises the emotion in speech (MFCC + CBAM 1D-CNN)",
                                        "seremotion developers");
  GST_BASE_TRANSFORM_CLASS(klass)->passthrough_on_same_caps = TRUE;
}

static void gst_seremotion_init(GstSerEmotion *self) {
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
}
