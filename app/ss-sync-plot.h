/* ss-sync-plot.h: the sync panel's plots (custom snapshot drawing):
 * SS_SYNC_PLOT_PROBABILITIES, a bar per offset class (-2.0 .. +2.0 s) with the
 * chosen class highlighted; SS_SYNC_PLOT_OVER_TIME, the offset of each
 * analysis window along the clip as a line. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef enum {
  SS_SYNC_PLOT_PROBABILITIES,
  SS_SYNC_PLOT_OVER_TIME,
} SsSyncPlotKind;

#define SS_TYPE_SYNC_PLOT (ss_sync_plot_get_type ())
G_DECLARE_FINAL_TYPE (SsSyncPlot, ss_sync_plot, SS, SYNC_PLOT, GtkWidget)

GtkWidget *ss_sync_plot_new (SsSyncPlotKind kind);
/* @probs: SS_SYNC_N_CLASSES values; @chosen: the highlighted class (-1: none). NULL clears. */
void       ss_sync_plot_set_probabilities (SsSyncPlot *self, const double *probs, int chosen);
/* Window start times (s, from the clip's start), offsets (s) and confidences (0..1, may be NULL). */
void       ss_sync_plot_set_over_time     (SsSyncPlot *self, int n, const double *times,
                                           const double *offsets, const double *confidences,
                                           double window);
/* The highlighted class (-1 when none); for tests. */
int        ss_sync_plot_get_chosen        (SsSyncPlot *self);
int        ss_sync_plot_get_n_points      (SsSyncPlot *self);

G_END_DECLS
