/* ss-viewer.c: draws the current frame as a texture, letterboxed; a status page when
 * the project has no video. */
#define G_LOG_DOMAIN "ss-viewer"

#include "ss-viewer.h"

#include <adwaita.h>
#include <glib/gi18n.h>

struct _SsViewer {
  GtkWidget    parent_instance;

  SsTransport *transport;
  gulong       frame_id;
  gulong       project_id;
  GtkWidget   *placeholder;

  /* Texture cache: the last frame uploaded. */
  SsFrame     *tex_frame;
  GdkTexture  *texture;
};

G_DEFINE_FINAL_TYPE (SsViewer, ss_viewer, GTK_TYPE_WIDGET)

static void
update_placeholder (SsViewer *self)
{
  gboolean has = self->transport != NULL && ss_transport_has_video (self->transport);
  gtk_widget_set_visible (self->placeholder, !has);
}

static void
frame_changed_cb (SsTransport *transport, SsViewer *self)
{
  update_placeholder (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static GdkTexture *
texture_for_frame (SsViewer *self, SsFrame *frame)
{
  if (frame == self->tex_frame && self->texture != NULL)
    return self->texture;

  g_clear_object (&self->texture);
  g_clear_pointer (&self->tex_frame, ss_frame_unref);

  /* The frame is immutable once decoded: the texture borrows its pixels. */
  g_autoptr(GBytes) bytes = g_bytes_new_with_free_func (frame->data,
                                                        (gsize) frame->stride * frame->height,
                                                        (GDestroyNotify) ss_frame_unref,
                                                        ss_frame_ref (frame));
  self->texture = gdk_memory_texture_new (frame->width, frame->height,
                                          GDK_MEMORY_R8G8B8A8, bytes, frame->stride);
  self->tex_frame = ss_frame_ref (frame);
  return self->texture;
}

static void
ss_viewer_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  SsViewer *self = SS_VIEWER (widget);
  int w = gtk_widget_get_width (widget);
  int h = gtk_widget_get_height (widget);

  if (self->transport != NULL && ss_transport_has_video (self->transport))
    {
      gtk_snapshot_append_color (snapshot, &(GdkRGBA) { 0, 0, 0, 1 },
                                 &GRAPHENE_RECT_INIT (0, 0, w, h));
      g_autoptr(SsFrame) frame = ss_transport_dup_frame (self->transport);
      if (frame != NULL && frame->width > 0 && frame->height > 0)
        {
          GdkTexture *tex = texture_for_frame (self, frame);
          double scale = MIN ((double) w / frame->width, (double) h / frame->height);
          double dw = frame->width * scale, dh = frame->height * scale;
          gtk_snapshot_append_texture (snapshot, tex,
                                       &GRAPHENE_RECT_INIT ((w - dw) / 2, (h - dh) / 2, dw, dh));
        }
    }
  gtk_widget_snapshot_child (widget, self->placeholder, snapshot);
}

void
ss_viewer_set_transport (SsViewer *self, SsTransport *transport)
{
  g_return_if_fail (SS_IS_VIEWER (self));
  g_return_if_fail (transport == NULL || SS_IS_TRANSPORT (transport));

  if (self->transport == transport)
    return;
  if (self->transport != NULL)
    {
      g_clear_signal_handler (&self->frame_id, self->transport);
      g_clear_object (&self->transport);
    }
  if (transport != NULL)
    {
      self->transport = g_object_ref (transport);
      self->frame_id = g_signal_connect (transport, "frame-changed", G_CALLBACK (frame_changed_cb), self);
    }
  update_placeholder (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

SsTransport *
ss_viewer_get_transport (SsViewer *self)
{
  g_return_val_if_fail (SS_IS_VIEWER (self), NULL);
  return self->transport;
}

static void
ss_viewer_dispose (GObject *object)
{
  SsViewer *self = SS_VIEWER (object);
  ss_viewer_set_transport (self, NULL);
  g_clear_pointer (&self->placeholder, gtk_widget_unparent);
  g_clear_object (&self->texture);
  g_clear_pointer (&self->tex_frame, ss_frame_unref);
  G_OBJECT_CLASS (ss_viewer_parent_class)->dispose (object);
}

static void
ss_viewer_class_init (SsViewerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ss_viewer_dispose;
  widget_class->snapshot = ss_viewer_snapshot;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "ssviewer");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
ss_viewer_init (SsViewer *self)
{
  self->placeholder = adw_status_page_new ();
  adw_status_page_set_icon_name (ADW_STATUS_PAGE (self->placeholder), "video-x-generic-symbolic");
  adw_status_page_set_title (ADW_STATUS_PAGE (self->placeholder), _("No Video"));
  adw_status_page_set_description (ADW_STATUS_PAGE (self->placeholder),
                                   _("Open a video or drop one here to start"));
  gtk_widget_set_parent (self->placeholder, GTK_WIDGET (self));
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_overflow (GTK_WIDGET (self), GTK_OVERFLOW_HIDDEN);
}

GtkWidget *
ss_viewer_new (void)
{
  return g_object_new (SS_TYPE_VIEWER, NULL);
}
