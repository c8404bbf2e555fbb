/* ss-viewer.h: shows the transport's current video frame, letterboxed. */
#pragma once

#include <gtk/gtk.h>
#include "audio/ss-transport.h"

G_BEGIN_DECLS

#define SS_TYPE_VIEWER (ss_viewer_get_type ())
G_DECLARE_FINAL_TYPE (SsViewer, ss_viewer, SS, VIEWER, GtkWidget)

GtkWidget   *ss_viewer_new           (void);
void         ss_viewer_set_transport (SsViewer *self, SsTransport *transport);
SsTransport *ss_viewer_get_transport (SsViewer *self);

G_END_DECLS
