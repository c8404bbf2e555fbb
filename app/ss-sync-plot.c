/* ss-sync-plot.c: see ss-sync-plot.h. */
#define G_LOG_DOMAIN "ss-sync-plot"

#include "config.h"

#include <math.h>
#include <string.h>
#include <glib/gi18n.h>

#include "models/sync/ss-sync.h"
#include "ss-sync-plot.h"

struct _SsSyncPlot
{
  GtkWidget       parent_instance;

  SsSyncPlotKind  kind;
  gboolean        has_data;
  double          probs[SS_SYNC_N_CLASSES];
  int             chosen;
  GArray         *times, *offsets, *confidences;
  double          window;
};

G_DEFINE_FINAL_TYPE (SsSyncPlot, ss_sync_plot, GTK_TYPE_WIDGET)

#define PAD_LEFT   34.0
#define PAD_RIGHT  8.0
#define PAD_TOP    8.0
#define PAD_BOTTOM 18.0

static const GdkRGBA accent = { 0.208, 0.518, 0.894, 1.0 };   /* libadwaita blue */

static void
foreground (SsSyncPlot *self, GdkRGBA *color)
{
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (self)), color);
  G_GNUC_END_IGNORE_DEPRECATIONS
}

static void
draw_text (SsSyncPlot *self, GtkSnapshot *snapshot, const char *text, double x, double y,
           double align, const GdkRGBA *color)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), text);
  PangoAttrList *attrs = pango_attr_list_new ();
  int w, h;

  pango_attr_list_insert (attrs, pango_attr_scale_new (0.8));
  pango_layout_set_attributes (layout, attrs);
  pango_attr_list_unref (attrs);
  pango_layout_get_pixel_size (layout, &w, &h);
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT ((float) (x - align * w), (float) y));
  gtk_snapshot_append_layout (snapshot, layout, color);
  gtk_snapshot_restore (snapshot);
  g_object_unref (layout);
}

static void
snapshot_probabilities (SsSyncPlot *self, GtkSnapshot *snapshot, double w, double h)
{
  GdkRGBA fg, dim, grid;
  double pw = w - PAD_LEFT - PAD_RIGHT, ph = h - PAD_TOP - PAD_BOTTOM;
  double slot = pw / SS_SYNC_N_CLASSES, top = 0;

  foreground (self, &fg);
  dim = fg, dim.alpha = 0.35f;
  grid = fg, grid.alpha = 0.12f;
  for (int i = 0; i < SS_SYNC_N_CLASSES; i++)
    top = MAX (top, self->probs[i]);
  /* the scale: 0 .. the next tenth above the highest bar */
  top = CLAMP (ceil (top * 10.0 - 1e-9) / 10.0, 0.1, 1.0);

  for (int k = 0; k <= 2; k++)
    {
      double v = top * k / 2.0, y = PAD_TOP + ph * (1.0 - v / top);
      g_autofree char *label = g_strdup_printf ("%.0f%%", v * 100.0);
      gtk_snapshot_append_color (snapshot, &grid, &GRAPHENE_RECT_INIT ((float) PAD_LEFT, (float) y, (float) pw, 1));
      draw_text (self, snapshot, label, PAD_LEFT - 4, y - 7, 1.0, &dim);
    }
  /* zero offset: where "in sync" is */
  gtk_snapshot_append_color (snapshot, &grid,
                             &GRAPHENE_RECT_INIT ((float) (PAD_LEFT + slot * (SS_SYNC_N_CLASSES / 2) + slot / 2 - 0.5f),
                                                  (float) PAD_TOP, 1, (float) ph));
  for (int i = 0; i < SS_SYNC_N_CLASSES; i++)
    {
      double bh = ph * CLAMP (self->probs[i] / top, 0.0, 1.0);
      double x = PAD_LEFT + slot * i + slot * 0.15;
      const GdkRGBA *c = i == self->chosen ? &accent : &dim;
      if (bh < 1.0 && self->probs[i] > 0)
        bh = 1.0;
      gtk_snapshot_append_color (snapshot, c,
                                 &GRAPHENE_RECT_INIT ((float) x, (float) (PAD_TOP + ph - bh),
                                                      (float) (slot * 0.7), (float) bh));
    }
  for (int s = -2; s <= 2; s++)
    {
      int i = ss_sync_offset_class (s);
      g_autofree char *label = s == 0 ? g_strdup ("0") : g_strdup_printf ("%+d s", s);
      draw_text (self, snapshot, label, PAD_LEFT + slot * i + slot / 2, PAD_TOP + ph + 2, 0.5, &dim);
    }
}

static void
snapshot_over_time (SsSyncPlot *self, GtkSnapshot *snapshot, double w, double h)
{
  GdkRGBA fg, dim, grid;
  double pw = w - PAD_LEFT - PAD_RIGHT, ph = h - PAD_TOP - PAD_BOTTOM;
  guint n = self->times->len;
  double t0 = 0, t1 = 1;
  cairo_t *cr;

  foreground (self, &fg);
  dim = fg, dim.alpha = 0.35f;
  grid = fg, grid.alpha = 0.12f;
  if (n > 0)
    {
      /* each point sits at the centre of its window */
      t0 = g_array_index (self->times, double, 0) + self->window / 2;
      t1 = g_array_index (self->times, double, n - 1) + self->window / 2;
      if (t1 - t0 < 1e-6)
        t1 = t0 + 1;
    }
  for (int s = -2; s <= 2; s += 2)
    {
      double y = PAD_TOP + ph * (1.0 - (s + SS_SYNC_MAX_OFFSET) / (2 * SS_SYNC_MAX_OFFSET));
      g_autofree char *label = s == 0 ? g_strdup ("0") : g_strdup_printf ("%+d s", s);
      gtk_snapshot_append_color (snapshot, &grid, &GRAPHENE_RECT_INIT ((float) PAD_LEFT, (float) y, (float) pw, 1));
      draw_text (self, snapshot, label, PAD_LEFT - 4, y - 7, 1.0, &dim);
    }
  if (n > 0)
    {
      g_autofree char *a = g_strdup_printf (_("%.0f s"), t0);
      g_autofree char *b = g_strdup_printf (_("%.0f s"), t1);
      draw_text (self, snapshot, a, PAD_LEFT, PAD_TOP + ph + 2, 0.0, &dim);
      draw_text (self, snapshot, b, PAD_LEFT + pw, PAD_TOP + ph + 2, 1.0, &dim);
    }

  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, (float) w, (float) h));
  cairo_set_line_width (cr, 2.0);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  gdk_cairo_set_source_rgba (cr, &accent);
  for (guint i = 0; i < n; i++)
    {
      double t = g_array_index (self->times, double, i) + self->window / 2;
      double o = CLAMP (g_array_index (self->offsets, double, i), -SS_SYNC_MAX_OFFSET, SS_SYNC_MAX_OFFSET);
      double x = PAD_LEFT + pw * (n > 1 ? (t - t0) / (t1 - t0) : 0.5);
      double y = PAD_TOP + ph * (1.0 - (o + SS_SYNC_MAX_OFFSET) / (2 * SS_SYNC_MAX_OFFSET));
      if (i == 0)
        cairo_move_to (cr, x, y);
      else
        cairo_line_to (cr, x, y);
    }
  cairo_stroke (cr);
  /* points, fainter where the window was unsure */
  for (guint i = 0; i < n; i++)
    {
      double t = g_array_index (self->times, double, i) + self->window / 2;
      double o = CLAMP (g_array_index (self->offsets, double, i), -SS_SYNC_MAX_OFFSET, SS_SYNC_MAX_OFFSET);
      double c = self->confidences->len == n ? g_array_index (self->confidences, double, i) : 1.0;
      double x = PAD_LEFT + pw * (n > 1 ? (t - t0) / (t1 - t0) : 0.5);
      double y = PAD_TOP + ph * (1.0 - (o + SS_SYNC_MAX_OFFSET) / (2 * SS_SYNC_MAX_OFFSET));
      cairo_set_source_rgba (cr, accent.red, accent.green, accent.blue, 0.3 + 0.7 * CLAMP (c, 0.0, 1.0));
      cairo_arc (cr, x, y, 3.0, 0, 2 * G_PI);
      cairo_fill (cr);
    }
  cairo_destroy (cr);
}

static void
ss_sync_plot_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  SsSyncPlot *self = SS_SYNC_PLOT (widget);
  double w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);

  if (!self->has_data || w <= PAD_LEFT + PAD_RIGHT + 10 || h <= PAD_TOP + PAD_BOTTOM + 10)
    return;
  if (self->kind == SS_SYNC_PLOT_PROBABILITIES)
    snapshot_probabilities (self, snapshot, w, h);
  else
    snapshot_over_time (self, snapshot, w, h);
}

static void
ss_sync_plot_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                      int *minimum, int *natural, int *minimum_baseline, int *natural_baseline)
{
  SsSyncPlot *self = SS_SYNC_PLOT (widget);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    *minimum = 200, *natural = 270;
  else
    *minimum = *natural = self->kind == SS_SYNC_PLOT_PROBABILITIES ? 110 : 80;
}

static void
ss_sync_plot_finalize (GObject *object)
{
  SsSyncPlot *self = SS_SYNC_PLOT (object);

  g_array_unref (self->times);
  g_array_unref (self->offsets);
  g_array_unref (self->confidences);
  G_OBJECT_CLASS (ss_sync_plot_parent_class)->finalize (object);
}

static void
ss_sync_plot_class_init (SsSyncPlotClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = ss_sync_plot_finalize;
  widget_class->snapshot = ss_sync_plot_snapshot;
  widget_class->measure = ss_sync_plot_measure;
  gtk_widget_class_set_css_name (widget_class, "sync-plot");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
ss_sync_plot_init (SsSyncPlot *self)
{
  self->chosen = -1;
  self->times = g_array_new (FALSE, FALSE, sizeof (double));
  self->offsets = g_array_new (FALSE, FALSE, sizeof (double));
  self->confidences = g_array_new (FALSE, FALSE, sizeof (double));
}

GtkWidget *
ss_sync_plot_new (SsSyncPlotKind kind)
{
  SsSyncPlot *self = g_object_new (SS_TYPE_SYNC_PLOT, NULL);

  self->kind = kind;
  return GTK_WIDGET (self);
}

void
ss_sync_plot_set_probabilities (SsSyncPlot *self, const double *probs, int chosen)
{
  g_return_if_fail (SS_IS_SYNC_PLOT (self));

  self->has_data = probs != NULL;
  if (probs != NULL)
    memcpy (self->probs, probs, sizeof self->probs);
  self->chosen = probs != NULL ? chosen : -1;
  if (probs != NULL && chosen >= 0)
    {
      g_autofree char *desc = g_strdup_printf (_("Probability over the offsets; the most probable is %+.1f s at %.0f%%"),
                                               ss_sync_class_offset (chosen), 100.0 * probs[chosen]);
      gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, desc, -1);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
ss_sync_plot_set_over_time (SsSyncPlot *self, int n, const double *times, const double *offsets,
                            const double *confidences, double window)
{
  g_return_if_fail (SS_IS_SYNC_PLOT (self));

  g_array_set_size (self->times, 0);
  g_array_set_size (self->offsets, 0);
  g_array_set_size (self->confidences, 0);
  if (n > 0 && times != NULL && offsets != NULL)
    {
      g_array_append_vals (self->times, times, n);
      g_array_append_vals (self->offsets, offsets, n);
      if (confidences != NULL)
        g_array_append_vals (self->confidences, confidences, n);
    }
  self->window = window;
  self->has_data = self->times->len > 0;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

int
ss_sync_plot_get_chosen (SsSyncPlot *self)
{
  g_return_val_if_fail (SS_IS_SYNC_PLOT (self), -1);
  return self->has_data ? self->chosen : -1;
}

int
ss_sync_plot_get_n_points (SsSyncPlot *self)
{
  g_return_val_if_fail (SS_IS_SYNC_PLOT (self), 0);
  return (int) self->times->len;
}
