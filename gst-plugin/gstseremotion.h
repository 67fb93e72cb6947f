/* seremotion: speech emotion recognition analyser (passthrough). */
#ifndef GST_SEREMOTION_H
#define GST_SEREMOTION_H

#include <gst/audio/audio.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_SEREMOTION (gst_seremotion_get_type())
G_DECLARE_FINAL_TYPE(GstSerEmotion, gst_seremotion, GST, SEREMOTION, GstBaseTransform)

G_END_DECLS

#endif
