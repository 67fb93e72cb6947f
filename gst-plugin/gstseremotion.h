/* seremotion: speech emotion recognition analyser (passthrough).
 * A thin adapter: GStreamer audio in, ser-core's streaming analyzer,
 * results out as bus messages, buffer meta and tags. */
#ifndef GST_SEREMOTION_H
#define GST_SEREMOTION_H

#include <gst/audio/audio.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_SEREMOTION (gst_seremotion_get_type())
G_DECLARE_FINAL_TYPE(GstSerEmotion, gst_seremotion, GST, SEREMOTION, GstBaseTransform)

/* Names users see (SPEC section 5). */
#define SEREMOTION_META_NAME "SerEmotionMeta"
#define SEREMOTION_TAG_EMOTION "emotion"
#define SEREMOTION_TAG_CONFIDENCE "emotion-confidence"

/* Registers the tags and the custom meta (once per process). */
void gst_seremotion_register_tags_and_meta(void);

G_END_DECLS

#endif
