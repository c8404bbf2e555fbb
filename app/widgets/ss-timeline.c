/* ss-timeline.c: custom-drawn timeline editor. */
#define G_LOG_DOMAIN "ss-timeline"

#include "ss-timeline.h"
#include "ss-timeline-private.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "jobs/ss-job.h"
#include "media/ss-media.h"

#define SNAP_PX          8.0
#define EDGE_PX          6.0
#define DRAG_THRESHOLD   3.0
#define THUMB_HEIGHT_DEFAULT 48
#define THUMB_HEIGHT_MIN     16
#define THUMB_HEIGHT_MAX     256
/* Room around the thumbnails in a video row: clip margins and the title strip. */
#define VIDEO_ROW_EXTRA  (SS_TIMELINE_VIDEO_TRACK_H - THUMB_HEIGHT_DEFAULT)
#define WAVE_BPS         200.0
#define BTN_W            22
#define BTN_H            18

/* ---- per-media visuals (thumbnails, waveform pyramid) ---- */

typedef struct {
  int    n;
  float *min, *max;
} WaveLevel;

typedef struct {
  char       *path;
  /* thumbnails */
  gboolean    thumbs_requested, thumbs_failed;
  SsTime      thumb_interval;
  GPtrArray  *thumbs;          /* of GdkTexture */
  int         thumb_w, thumb_h;
  /* waveform: level k has buckets of 2^k base buckets */
  gboolean    wave_requested, wave_failed;
  double      wave_bps;
  GArray     *wave;            /* of WaveLevel */
} MediaVisual;

static void
media_visual_free (MediaVisual *v)
{
  g_free (v->path);
  g_clear_pointer (&v->thumbs, g_ptr_array_unref);
  if (v->wave != NULL)
    {
      for (guint i = 0; i < v->wave->len; i++)
        {
          WaveLevel *l = &g_array_index (v->wave, WaveLevel, i);
          g_free (l->min);
          g_free (l->max);
        }
      g_array_unref (v->wave);
    }
  g_free (v);
}

typedef enum { VISUAL_THUMBS, VISUAL_WAVE } VisualKind;

typedef struct {
  char      *path;
  VisualKind kind;
  SsTime     interval;
  int        height;           /* thumbnails */
} VisualJobData;

static void
visual_job_data_free (gpointer p)
{
  VisualJobData *d = p;
  g_free (d->path);
  g_free (d);
}

typedef struct {
  SsJob     *job;
  char      *media_id;
  VisualKind kind;
  gulong     handler;
  gboolean   started;
  int        height;           /* thumbnail height the job computes */
} PendingJob;

/* ---- drag ---- */

typedef enum {
  DRAG_NONE,
  DRAG_SCRUB,
  DRAG_MOVE,
  DRAG_TRIM_LEFT,
  DRAG_TRIM_RIGHT,
  DRAG_GAIN,
} DragMode;

typedef enum {
  HIT_NONE,
  HIT_RULER,
  HIT_HEADER,
  HIT_MUTE,
  HIT_SOLO,
  HIT_GAIN,
  HIT_ADD_TRACK,
  HIT_CLIP,
  HIT_CLIP_LEFT,
  HIT_CLIP_RIGHT,
  HIT_LANE,
} HitKind;

typedef struct {
  HitKind        kind;
  int            track;   /* index or -1 */
  const SsClip  *clip;
} Hit;

struct _SsTimeline {
  GtkWidget parent_instance;

  SsProject   *project;
  gulong       changed_id;
  SsTransport *transport;
  gulong       position_id;
  gulong       playing_id;

  SsTime   playhead;
  double   pps;              /* zoom: pixels per second */
  double   scroll_x;         /* content pixels scrolled off to the left */
  double   scroll_y;
  gboolean zoom_set;         /* fit on first allocation otherwise */

  GtkAdjustment *hadj, *vadj;
  GtkWidget     *hscroll, *vscroll;
  int            hscroll_h, vscroll_w;

  char *selected;

  /* drag */
  DragMode drag_mode;
  char    *drag_clip;
  int      drag_track;       /* original track index */
  int      drag_to_track;    /* target track index */
  SsTime   drag_orig_start, drag_orig_dur, drag_min_start, drag_max_dur;
  SsTime   drag_new_start, drag_new_dur;
  double   drag_x0, drag_y0;
  gboolean drag_moved;
  double   drag_gain;
  GArray  *snap_points;      /* of SsTime */
  double   pointer_x, pointer_y;

  GHashTable  *visuals;       /* media id -> MediaVisual */
  GPtrArray   *pending;       /* of PendingJob* */
  guint        start_jobs_id;
  guint        tick_id;
  SsTime       last_duration;

  GtkWidget   *menu;          /* context menu (GtkPopoverMenu), lazily */
  GtkWidget   *rename;        /* rename popover, lazily */
  GtkWidget   *rename_entry;
  char        *rename_track;
  PangoLayout *layout;
  PangoLayout *small_layout;
  guint        last_drawn;
  guint        thumb_height;  /* property "thumbnail-height" */
};

G_DEFINE_FINAL_TYPE (SsTimeline, ss_timeline, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_PROJECT, PROP_TRANSPORT, PROP_SELECTED_CLIP, PROP_ZOOM, PROP_THUMBNAIL_HEIGHT, N_PROPS };
static GParamSpec *props[N_PROPS];
enum { SIGNAL_ERROR, N_SIGNALS };
static guint signals[N_SIGNALS];

/* ---- small helpers ---- */

static inline GdkRGBA
rgb (guint32 hex, float alpha)
{
  return (GdkRGBA) { ((hex >> 16) & 0xff) / 255.f, ((hex >> 8) & 0xff) / 255.f,
                     (hex & 0xff) / 255.f, alpha };
}

static inline void
fill (GtkSnapshot *s, guint32 hex, float alpha, double x, double y, double w, double h)
{
  GdkRGBA c = rgb (hex, alpha);
  gtk_snapshot_append_color (s, &c, &GRAPHENE_RECT_INIT (x, y, w, h));
}

static void
emit_error (SsTimeline *self, const char *message)
{
  g_debug ("refused: %s", message);
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, message);
}

static void
emit_gerror (SsTimeline *self, GError *error, const char *fallback)
{
  emit_error (self, error != NULL && error->message != NULL ? error->message : fallback);
}

static int
video_row_height (SsTimeline *self)
{
  return MAX (SS_TIMELINE_VIDEO_TRACK_H, (int) self->thumb_height + VIDEO_ROW_EXTRA);
}

static int
track_height (SsTimeline *self, const SsTrack *t)
{
  return t->kind == SS_TRACK_VIDEO ? video_row_height (self) : SS_TIMELINE_AUDIO_TRACK_H;
}

static double
area_width (SsTimeline *self)
{
  int vw = gtk_widget_get_child_visible (self->vscroll) ? self->vscroll_w : 0;
  return MAX (1, gtk_widget_get_width (GTK_WIDGET (self)) - SS_TIMELINE_HEADER_W - vw);
}

static double
area_bottom (SsTimeline *self)
{
  int hh = self->hscroll_h;
  return gtk_widget_get_height (GTK_WIDGET (self)) - hh;
}

static double
content_height (SsTimeline *self)
{
  double h = 0;
  guint n = self->project ? ss_project_get_n_tracks (self->project) : 0;
  for (guint i = 0; i < n; i++)
    h += track_height (self, ss_project_get_track (self->project, i));
  return h + SS_TIMELINE_ADD_ROW_H;
}

static inline double
time_to_x (SsTimeline *self, SsTime t)
{
  return SS_TIMELINE_HEADER_W + ss_time_to_seconds (t) * self->pps - self->scroll_x;
}

static inline SsTime
x_to_time (SsTimeline *self, double x)
{
  return ss_time_from_seconds ((x - SS_TIMELINE_HEADER_W + self->scroll_x) / self->pps);
}

static void
project_fps (SsTimeline *self, int *num, int *den)
{
  *num = 25;
  *den = 1;
  if (self->project != NULL)
    ss_project_get_fps (self->project, num, den);
  if (*num <= 0 || *den <= 0)
    { *num = 25; *den = 1; }
}

static SsTime
snap_to_frame (SsTimeline *self, SsTime t)
{
  int num, den;
  project_fps (self, &num, &den);
  double f = floor (ss_time_to_seconds (t) * num / den + 0.5);
  gint64 n = (gint64) f;
  gint64 v = n * den * SS_TIME_SECOND;
  return v >= 0 ? (v + num - 1) / num : -((-v) / num);
}

static SsTime
frame_duration (SsTimeline *self)
{
  int num, den;
  project_fps (self, &num, &den);
  return (SsTime) den * SS_TIME_SECOND / num;
}

static SsTime
current_playhead (SsTimeline *self)
{
  return self->transport ? ss_transport_get_position (self->transport) : self->playhead;
}

double
ss_timeline_get_track_y (SsTimeline *self, guint index)
{
  g_return_val_if_fail (SS_IS_TIMELINE (self), 0);
  double y = SS_TIMELINE_RULER_H - self->scroll_y;
  for (guint i = 0; self->project && i < index && i < ss_project_get_n_tracks (self->project); i++)
    y += track_height (self, ss_project_get_track (self->project, i));
  return y;
}

static int
track_at_y (SsTimeline *self, double y, double *top_out)
{
  if (self->project == NULL || y < SS_TIMELINE_RULER_H)
    return -1;
  double top = SS_TIMELINE_RULER_H - self->scroll_y;
  guint n = ss_project_get_n_tracks (self->project);
  for (guint i = 0; i < n; i++)
    {
      int h = track_height (self, ss_project_get_track (self->project, i));
      if (y >= top && y < top + h)
        {
          if (top_out)
            *top_out = top;
          return (int) i;
        }
      top += h;
    }
  if (top_out)
    *top_out = top;
  return -1 - (int) n;   /* below the last track: -1 - n encodes the add row */
}

/* First clip of @track whose end is after @t. */
static guint
first_clip_ending_after (const SsTrack *track, SsTime t)
{
  guint lo = 0, hi = track->clips->len;
  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      const SsClip *c = g_ptr_array_index (track->clips, mid);
      if (c->start + c->duration <= t)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

static const SsClip *
clip_at_time (const SsTrack *track, SsTime t)
{
  guint i = first_clip_ending_after (track, t);
  if (i >= track->clips->len)
    return NULL;
  const SsClip *c = g_ptr_array_index (track->clips, i);
  return c->start <= t ? c : NULL;
}

/* ---- scrolling ---- */

static void
update_adjustments (SsTimeline *self)
{
  double page_w = area_width (self);
  double dur = self->project ? ss_time_to_seconds (ss_project_get_duration (self->project)) : 0;
  double upper_w = MAX (dur * self->pps + page_w * 0.75, page_w);
  self->scroll_x = CLAMP (self->scroll_x, 0, MAX (0, upper_w - page_w));
  gtk_adjustment_configure (self->hadj, self->scroll_x, 0, upper_w, 40, page_w * 0.9, page_w);

  double page_h = MAX (1, area_bottom (self) - SS_TIMELINE_RULER_H);
  double upper_h = MAX (content_height (self), page_h);
  self->scroll_y = CLAMP (self->scroll_y, 0, MAX (0, upper_h - page_h));
  gtk_adjustment_configure (self->vadj, self->scroll_y, 0, upper_h, 30, page_h * 0.9, page_h);
}

static void
hadj_changed_cb (GtkAdjustment *adj, SsTimeline *self)
{
  self->scroll_x = gtk_adjustment_get_value (adj);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
vadj_changed_cb (GtkAdjustment *adj, SsTimeline *self)
{
  self->scroll_y = gtk_adjustment_get_value (adj);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
set_scroll_x (SsTimeline *self, double x)
{
  self->scroll_x = MAX (0, x);
  update_adjustments (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
zoom_around (SsTimeline *self, double new_pps, double anchor_x)
{
  new_pps = CLAMP (new_pps, SS_TIMELINE_MIN_ZOOM, SS_TIMELINE_MAX_ZOOM);
  double t = (anchor_x - SS_TIMELINE_HEADER_W + self->scroll_x) / self->pps;
  self->pps = new_pps;
  self->zoom_set = TRUE;
  self->scroll_x = MAX (0, SS_TIMELINE_HEADER_W + t * new_pps - anchor_x);
  update_adjustments (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ZOOM]);
}

static double
zoom_anchor (SsTimeline *self)
{
  double x = time_to_x (self, current_playhead (self));
  if (x >= SS_TIMELINE_HEADER_W && x <= SS_TIMELINE_HEADER_W + area_width (self))
    return x;
  return SS_TIMELINE_HEADER_W + area_width (self) / 2;
}

static void
zoom_fit (SsTimeline *self)
{
  double dur = self->project ? ss_time_to_seconds (ss_project_get_duration (self->project)) : 0;
  if (dur <= 0)
    dur = 30;
  self->pps = CLAMP (area_width (self) * 0.95 / dur, SS_TIMELINE_MIN_ZOOM, SS_TIMELINE_MAX_ZOOM);
  self->scroll_x = 0;
  update_adjustments (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ZOOM]);
}

/* ---- visuals: background jobs ---- */

static gboolean
visual_job_func (SsJob *job, gpointer user_data, GError **error)
{
  VisualJobData *d = user_data;
  GCancellable *cancellable = ss_job_get_cancellable (job);
  if (d->kind == VISUAL_THUMBS)
    {
      SsThumbnails *t = ss_thumbnails_compute (d->path, d->interval, d->height, cancellable, error);
      if (t == NULL)
        return FALSE;
      ss_job_set_result (job, t, (GDestroyNotify) ss_thumbnails_free);
    }
  else
    {
      SsWaveform *w = ss_waveform_compute (d->path, WAVE_BPS, cancellable, error);
      if (w == NULL)
        return FALSE;
      ss_job_set_result (job, w, (GDestroyNotify) ss_waveform_free);
    }
  return TRUE;
}

static GdkTexture *
texture_from_frame (SsFrame *frame)
{
  g_autoptr(GBytes) bytes = g_bytes_new_with_free_func (frame->data,
                                                        (gsize) frame->stride * frame->height,
                                                        (GDestroyNotify) ss_frame_unref,
                                                        ss_frame_ref (frame));
  return gdk_memory_texture_new (frame->width, frame->height, GDK_MEMORY_R8G8B8A8,
                                 bytes, frame->stride);
}

static void
build_wave_levels (MediaVisual *v, const SsWaveform *w)
{
  v->wave = g_array_new (FALSE, TRUE, sizeof (WaveLevel));
  v->wave_bps = w->buckets_per_second;
  WaveLevel base = { (int) w->n_buckets, g_memdup2 (w->min, w->n_buckets * sizeof (float)),
                     g_memdup2 (w->max, w->n_buckets * sizeof (float)) };
  g_array_append_val (v->wave, base);
  while (TRUE)
    {
      WaveLevel *prev = &g_array_index (v->wave, WaveLevel, v->wave->len - 1);
      if (prev->n <= 1)
        break;
      WaveLevel next;
      next.n = (prev->n + 1) / 2;
      next.min = g_new (float, next.n);
      next.max = g_new (float, next.n);
      for (int i = 0; i < next.n; i++)
        {
          int a = 2 * i, b = MIN (2 * i + 1, prev->n - 1);
          next.min[i] = MIN (prev->min[a], prev->min[b]);
          next.max[i] = MAX (prev->max[a], prev->max[b]);
        }
      g_array_append_val (v->wave, next);
    }
}

static void
visual_job_finished_cb (SsJob *job, SsTimeline *self)
{
  PendingJob *pj = NULL;
  for (guint i = 0; i < self->pending->len; i++)
    {
      PendingJob *p = g_ptr_array_index (self->pending, i);
      if (p->job == job)
        { pj = p; break; }
    }
  if (pj == NULL)
    return;

  MediaVisual *v = g_hash_table_lookup (self->visuals, pj->media_id);
  gboolean ok = ss_job_get_state (job) == SS_JOB_SUCCEEDED && ss_job_get_result (job) != NULL;
  if (v != NULL)
    {
      if (pj->kind == VISUAL_THUMBS && pj->height != (int) self->thumb_height)
        {
          /* Computed for a previous height; a job at the current one is requested
           * separately. */
        }
      else if (pj->kind == VISUAL_THUMBS)
        {
          g_clear_pointer (&v->thumbs, g_ptr_array_unref);
          if (ok)
            {
              SsThumbnails *t = ss_job_get_result (job);
              v->thumbs = g_ptr_array_new_with_free_func (g_object_unref);
              v->thumb_interval = t->interval;
              for (guint i = 0; i < t->frames->len; i++)
                {
                  SsFrame *f = g_ptr_array_index (t->frames, i);
                  g_ptr_array_add (v->thumbs, texture_from_frame (f));
                  v->thumb_w = f->width;
                  v->thumb_h = f->height;
                }
              if (v->thumbs->len == 0 || v->thumb_interval <= 0)
                g_clear_pointer (&v->thumbs, g_ptr_array_unref);
            }
          v->thumbs_failed = !ok;
        }
      else
        {
          if (ok)
            {
              SsWaveform *w = ss_job_get_result (job);
              if (w->n_buckets > 0 && w->buckets_per_second > 0)
                build_wave_levels (v, w);
            }
          v->wave_failed = !ok;
        }
      if (!ok && ss_job_get_state (job) == SS_JOB_FAILED && ss_job_get_error (job) != NULL)
        g_debug ("Timeline visuals for %s: %s", v->path, ss_job_get_error (job)->message);
    }

  g_signal_handler_disconnect (job, pj->handler);
  g_ptr_array_remove (self->pending, pj);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
pending_job_free (gpointer p)
{
  PendingJob *pj = p;
  g_clear_object (&pj->job);
  g_free (pj->media_id);
  g_free (pj);
}

static gboolean
start_jobs_idle (gpointer data)
{
  SsTimeline *self = data;
  self->start_jobs_id = 0;
  for (guint i = 0; i < self->pending->len; i++)
    {
      PendingJob *pj = g_ptr_array_index (self->pending, i);
      if (!pj->started)
        {
          pj->started = TRUE;
          ss_job_manager_add (ss_job_manager_get_default (), pj->job);
        }
    }
  return G_SOURCE_REMOVE;
}

static void
start_visual_job (SsTimeline *self, const SsMedia *media, VisualKind kind)
{
  VisualJobData *d = g_new0 (VisualJobData, 1);
  d->path = g_strdup (media->path);
  d->kind = kind;
  d->height = (int) self->thumb_height;
  /* One thumbnail a second, fewer for long media. */
  d->interval = MAX (SS_TIME_SECOND, media->duration / 400);
  g_autofree char *base = g_path_get_basename (media->path);
  g_autofree char *title = kind == VISUAL_THUMBS ? g_strdup_printf (_("Thumbnails for “%s”"), base)
                                                 : g_strdup_printf (_("Waveform for “%s”"), base);
  SsJob *job = ss_job_new (title, visual_job_func, d, visual_job_data_free);

  PendingJob *pj = g_new0 (PendingJob, 1);
  pj->job = job;
  pj->media_id = g_strdup (media->id);
  pj->kind = kind;
  pj->height = d->height;
  pj->handler = g_signal_connect (job, "finished", G_CALLBACK (visual_job_finished_cb), self);
  g_ptr_array_add (self->pending, pj);
  /* Jobs are found while drawing; start them outside the snapshot. */
  if (self->start_jobs_id == 0)
    self->start_jobs_id = g_idle_add (start_jobs_idle, self);
}

/* Returns the visuals of @media, starting their jobs on first use. */
static MediaVisual *
visual_for (SsTimeline *self, const SsMedia *media, gboolean want_thumbs, gboolean want_wave)
{
  if (media == NULL || media->id == NULL)
    return NULL;
  MediaVisual *v = g_hash_table_lookup (self->visuals, media->id);
  if (v != NULL && g_strcmp0 (v->path, media->path) != 0)
    {
      g_hash_table_remove (self->visuals, media->id);   /* relinked */
      v = NULL;
    }
  if (v == NULL)
    {
      v = g_new0 (MediaVisual, 1);
      v->path = g_strdup (media->path);
      g_hash_table_insert (self->visuals, g_strdup (media->id), v);
    }
  if (media->missing || media->path == NULL)
    return v;
  if (want_thumbs && media->has_video && !v->thumbs_requested)
    {
      v->thumbs_requested = TRUE;
      start_visual_job (self, media, VISUAL_THUMBS);
    }
  if (want_wave && media->has_audio && !v->wave_requested)
    {
      v->wave_requested = TRUE;
      start_visual_job (self, media, VISUAL_WAVE);
    }
  return v;
}

void
ss_timeline_set_thumbnail_height (SsTimeline *self, guint height)
{
  g_return_if_fail (SS_IS_TIMELINE (self));
  height = CLAMP (height, THUMB_HEIGHT_MIN, THUMB_HEIGHT_MAX);
  if (height == self->thumb_height)
    return;
  self->thumb_height = height;

  /* Drop the thumbnail jobs under way at the old height... */
  for (guint i = self->pending->len; i > 0; i--)
    {
      PendingJob *pj = g_ptr_array_index (self->pending, i - 1);
      if (pj->kind != VISUAL_THUMBS)
        continue;
      g_clear_signal_handler (&pj->handler, pj->job);
      if (pj->started)
        ss_job_cancel (pj->job);
      g_ptr_array_remove_index (self->pending, i - 1);
    }
  /* ...and the strips made at it; drawing requests them again at the new one. */
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, self->visuals);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      MediaVisual *v = value;
      g_clear_pointer (&v->thumbs, g_ptr_array_unref);
      v->thumbs_requested = FALSE;
      v->thumbs_failed = FALSE;
      v->thumb_w = v->thumb_h = 0;
    }
  update_adjustments (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_THUMBNAIL_HEIGHT]);
}

guint
ss_timeline_get_thumbnail_height (SsTimeline *self)
{
  g_return_val_if_fail (SS_IS_TIMELINE (self), THUMB_HEIGHT_DEFAULT);
  return self->thumb_height;
}

int
ss_timeline_get_cached_thumbnail_height (SsTimeline *self, const char *media_id)
{
  g_return_val_if_fail (SS_IS_TIMELINE (self), 0);
  g_return_val_if_fail (media_id != NULL, 0);
  MediaVisual *v = g_hash_table_lookup (self->visuals, media_id);
  if (v == NULL || v->thumbs == NULL)
    return 0;
  return v->thumb_h;
}

/* ---- drawing ---- */

static void
draw_text (GtkSnapshot *s, PangoLayout *layout, const char *text, double x, double y,
           guint32 color, float alpha, int max_width)
{
  pango_layout_set_text (layout, text, -1);
  pango_layout_set_width (layout, max_width > 0 ? max_width * PANGO_SCALE : -1);
  GdkRGBA c = rgb (color, alpha);
  gtk_snapshot_save (s);
  gtk_snapshot_translate (s, &GRAPHENE_POINT_INIT (x, y));
  gtk_snapshot_append_layout (s, layout, &c);
  gtk_snapshot_restore (s);
}

/* Ruler labels: "M:SS" at coarse zoom, "M:SS:FF" (frames) at frame zoom; the
 * corner shows the full "HH:MM:SS:FF" like the transport bar. */
static void
format_timecode (SsTimeline *self, SsTime t, int style, char *buf, gsize len)
{
  int num, den;
  project_fps (self, &num, &den);
  t = MAX (t, 0);
  gint64 total_s = t / SS_TIME_SECOND;
  int h = (int) (total_s / 3600), m = (int) ((total_s / 60) % 60), sec = (int) (total_s % 60);
  int f = (int) ((t % SS_TIME_SECOND) * num / ((gint64) den * SS_TIME_SECOND));
  if (style == 2)
    g_snprintf (buf, len, "%02d:%02d:%02d:%02d", h, m, sec, f);
  else if (style == 1)
    {
      if (h > 0)
        g_snprintf (buf, len, "%d:%02d:%02d:%02d", h, m, sec, f);
      else
        g_snprintf (buf, len, "%d:%02d:%02d", m, sec, f);
    }
  else if (h > 0)
    g_snprintf (buf, len, "%d:%02d:%02d", h, m, sec);
  else
    g_snprintf (buf, len, "%d:%02d", m, sec);
}

static void
draw_ruler (SsTimeline *self, GtkSnapshot *s, double width)
{
  fill (s, 0x2a2a2e, 1, SS_TIMELINE_HEADER_W, 0, width - SS_TIMELINE_HEADER_W, SS_TIMELINE_RULER_H);
  fill (s, 0x3a3a3f, 1, SS_TIMELINE_HEADER_W, SS_TIMELINE_RULER_H - 1, width - SS_TIMELINE_HEADER_W, 1);

  int num, den;
  project_fps (self, &num, &den);
  double frame_s = (double) den / num;
  static const double secs[] = { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200 };
  static const int frame_steps[] = { 1, 2, 5, 10 };
  double major = 0;
  gboolean frames = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (frame_steps) && major == 0; i++)
    if (frame_steps[i] * frame_s < 1.0 && frame_steps[i] * frame_s * self->pps >= 90)
      { major = frame_steps[i] * frame_s; frames = TRUE; }
  for (guint i = 0; i < G_N_ELEMENTS (secs) && major == 0; i++)
    if (secs[i] * self->pps >= 90)
      major = secs[i];
  if (major == 0)
    major = 7200;
  double minor = major / 5;
  if (minor * self->pps < 8)
    minor = major / 2;

  gtk_snapshot_push_clip (s, &GRAPHENE_RECT_INIT (SS_TIMELINE_HEADER_W, 0,
                                                  width - SS_TIMELINE_HEADER_W, SS_TIMELINE_RULER_H));
  double t_left = MAX (0, (self->scroll_x) / self->pps);
  double t_right = (self->scroll_x + width) / self->pps;
  double t = floor (t_left / minor) * minor;
  char buf[32];
  for (int i = 0; t <= t_right && i < 4000; i++, t = (floor (t_left / minor) + i) * minor)
    {
      double x = floor (SS_TIMELINE_HEADER_W + t * self->pps - self->scroll_x) + 0.0;
      double r = t / major;
      gboolean is_major = fabs (r - floor (r + 0.5)) < 1e-6;
      if (is_major)
        {
          fill (s, 0x8a8a90, 1, x, 4, 1, SS_TIMELINE_RULER_H - 4);
          format_timecode (self, ss_time_from_seconds (t), frames ? 1 : 0, buf, sizeof buf);
          draw_text (s, self->small_layout, buf, x + 4, 3, 0xc8c8cc, 1, -1);
        }
      else
        fill (s, 0x5a5a60, 1, x, SS_TIMELINE_RULER_H - 7, 1, 6);
    }
  gtk_snapshot_pop (s);
}

static void
draw_thumbnails (SsTimeline *self, GtkSnapshot *s, const SsClip *clip, const SsTake *take,
                 MediaVisual *v, double cx, double y, double cw, double h,
                 double vis_l, double vis_r)
{
  if (v == NULL || v->thumbs == NULL || v->thumb_h <= 0)
    return;
  double tw = v->thumb_w * (h / v->thumb_h);
  if (tw < 4)
    return;
  gtk_snapshot_push_clip (s, &GRAPHENE_RECT_INIT (cx, y, cw, h));
  int k0 = (int) MAX (0, floor ((vis_l - cx) / tw));
  for (int k = k0;; k++)
    {
      double x = cx + k * tw;
      if (x > vis_r || x > cx + cw)
        break;
      SsTime mt = take->source_in + ss_time_from_seconds (k * tw / self->pps);
      gint64 idx = mt / v->thumb_interval;
      idx = CLAMP (idx, 0, (gint64) v->thumbs->len - 1);
      gtk_snapshot_append_texture (s, g_ptr_array_index (v->thumbs, idx),
                                   &GRAPHENE_RECT_INIT (x, y, tw, h));
    }
  gtk_snapshot_pop (s);
}

static void
draw_waveform (SsTimeline *self, GtkSnapshot *s, const SsClip *clip, const SsTake *take,
               MediaVisual *v, double cx, double y, double cw, double h,
               double vis_l, double vis_r, float alpha)
{
  if (v == NULL || v->wave == NULL || v->wave->len == 0)
    return;
  /* Pyramid level whose bucket is at most one pixel wide. */
  double base_per_px = v->wave_bps / self->pps;
  guint level = 0;
  while (level + 1 < v->wave->len && (double) (1u << (level + 1)) <= base_per_px)
    level++;
  const WaveLevel *l = &g_array_index (v->wave, WaveLevel, level);
  double bps = v->wave_bps / (double) (1u << level);
  double mid = y + h / 2, half = h / 2 - 1;
  double gain = pow (10.0, clip->gain_db / 20.0);
  GdkRGBA c = rgb (0x8fe0a8, alpha);

  double x0 = MAX (floor (vis_l), floor (cx));
  double x1 = MIN (ceil (vis_r), cx + cw);
  double src0 = ss_time_to_seconds (take->source_in);
  for (double x = x0; x < x1; x += 1)
    {
      double ts = src0 + (x - cx) / self->pps;
      double te = ts + 1.0 / self->pps;
      gint64 b0 = (gint64) floor (ts * bps), b1 = (gint64) ceil (te * bps);
      if (b1 <= b0)
        b1 = b0 + 1;
      if (b0 >= l->n || b1 <= 0)
        continue;
      b0 = MAX (b0, 0);
      b1 = MIN (b1, l->n);
      float mn = 1, mx = -1;
      for (gint64 b = b0; b < b1; b++)
        {
          mn = MIN (mn, l->min[b]);
          mx = MAX (mx, l->max[b]);
        }
      if (mx < mn)
        continue;
      double top = mid - CLAMP (mx * gain, -1, 1) * half;
      double bot = mid - CLAMP (mn * gain, -1, 1) * half;
      gtk_snapshot_append_color (s, &c, &GRAPHENE_RECT_INIT (x, top, 1, MAX (1, bot - top)));
    }
}

static void
draw_clip (SsTimeline *self, GtkSnapshot *s, const SsTrack *track, const SsClip *clip,
           SsTime start, SsTime dur, double y, int h, double vis_l, double vis_r,
           gboolean audible, gboolean ghost)
{
  double x = floor (time_to_x (self, start));
  double xe = floor (time_to_x (self, start + dur));
  double w = MAX (1, xe - x - 1);
  double top = y + 2, ch = h - 4;
  gboolean video = track->kind == SS_TRACK_VIDEO;
  const SsTake *take = ss_clip_get_active_take (clip);
  const SsMedia *media = take ? ss_project_find_media (self->project, take->media_id) : NULL;
  gboolean missing = media == NULL || media->missing;
  gboolean selected = g_strcmp0 (self->selected, clip->id) == 0;
  float alpha = ghost ? 0.6f : 1.0f;

  if (!audible && !ghost)
    gtk_snapshot_push_opacity (s, 0.45);

  /* body and title strip */
  fill (s, video ? SS_TIMELINE_COLOR_VIDEO_BODY : SS_TIMELINE_COLOR_AUDIO_BODY, alpha,
        x, top, w, ch);
  fill (s, missing ? 0x8c2a2a : (video ? SS_TIMELINE_COLOR_VIDEO_TITLE : SS_TIMELINE_COLOR_AUDIO_TITLE),
        alpha, x, top, w, SS_TIMELINE_CLIP_TITLE_H);

  double body_y = top + SS_TIMELINE_CLIP_TITLE_H;
  double body_h = ch - SS_TIMELINE_CLIP_TITLE_H;
  double cl = MAX (vis_l, x), cr = MIN (vis_r, x + w);
  if (!missing && take != NULL && cr > cl)
    {
      MediaVisual *v = visual_for (self, media, video, !video);
      if (video)
        draw_thumbnails (self, s, clip, take, v, x, body_y, w, body_h, cl, cr);
      else
        draw_waveform (self, s, clip, take, v, x, body_y, w, body_h, cl, cr, alpha);
    }

  /* label: take label or file name; badge with the take number */
  if (w > 24)
    {
      char badge[32] = "";
      int badge_w = 0;
      if (clip->takes->len > 1)
        {
          g_snprintf (badge, sizeof badge, "%u/%u", clip->active_take + 1, clip->takes->len);
          badge_w = 8 + 7 * (int) strlen (badge);
        }
      const char *label = take && take->label && *take->label ? take->label : NULL;
      if (label == NULL && media != NULL && media->path != NULL)
        {
          const char *slash = strrchr (media->path, '/');
          label = slash ? slash + 1 : media->path;
        }
      if (label == NULL)
        label = _("Clip");
      int text_w = (int) w - 10 - (badge_w && w > badge_w + 40 ? badge_w + 4 : 0);
      if (text_w > 8)
        {
          gtk_snapshot_push_clip (s, &GRAPHENE_RECT_INIT (x, top, w, SS_TIMELINE_CLIP_TITLE_H));
          draw_text (s, self->small_layout, label, x + 6, top + 1, 0xffffff, 0.92f * alpha, text_w);
          if (missing)
            draw_text (s, self->small_layout, _("Media missing"), x + 6, body_y + 2, 0xffd0d0, alpha, text_w);
          gtk_snapshot_pop (s);
        }
      if (badge_w && w > badge_w + 40)
        {
          double bx = x + w - badge_w - 3;
          fill (s, 0x000000, 0.35f, bx, top + 2, badge_w, SS_TIMELINE_CLIP_TITLE_H - 4);
          draw_text (s, self->small_layout, badge, bx + 4, top + 1, 0xffe9a0, alpha, -1);
        }
    }

  if (selected)
    {
      GskRoundedRect rr;
      gsk_rounded_rect_init_from_rect (&rr, &GRAPHENE_RECT_INIT (x, top, w, ch), 0);
      GdkRGBA c = rgb (SS_TIMELINE_COLOR_SELECTED, 1);
      gtk_snapshot_append_border (s, &rr, (float[4]) { 2, 2, 2, 2 }, (GdkRGBA[4]) { c, c, c, c });
    }
  if (!audible && !ghost)
    gtk_snapshot_pop (s);
}

static void
draw_button (SsTimeline *self, GtkSnapshot *s, double x, double y, const char *label,
             gboolean on, guint32 on_color)
{
  fill (s, on ? on_color : 0x3a3a40, 1, x, y, BTN_W, BTN_H);
  draw_text (s, self->small_layout, label, x + 6, y + 1, on ? 0x101010 : 0xd0d0d4, 1, -1);
}

static double
gain_to_frac (double db)
{
  return CLAMP ((db + 48.0) / 60.0, 0, 1);
}

static double
frac_to_gain (double f)
{
  double db = CLAMP (f, 0, 1) * 60.0 - 48.0;
  if (fabs (db) < 0.75)
    db = 0;   /* snap to unity */
  return floor (db * 2 + 0.5) / 2;
}

static void
gain_bar_rect (double y, int h, graphene_rect_t *r)
{
  *r = GRAPHENE_RECT_INIT (8, y + h - 14, SS_TIMELINE_HEADER_W - 70, 6);
}

static void
draw_header (SsTimeline *self, GtkSnapshot *s, guint index, const SsTrack *track, double y, int h)
{
  fill (s, 0x26262b, 1, 0, y, SS_TIMELINE_HEADER_W, h);
  fill (s, 0x34343a, 1, 0, y + h - 1, SS_TIMELINE_HEADER_W, 1);
  draw_text (s, self->layout, track->name ? track->name : "", 8, y + 6, 0xe8e8ec, 1,
             SS_TIMELINE_HEADER_W - 2 * BTN_W - 24);
  if (track->kind != SS_TRACK_AUDIO)
    return;
  double bx = SS_TIMELINE_HEADER_W - 2 * BTN_W - 10;
  draw_button (self, s, bx, y + 6, "M", track->muted, 0xf6d32d);
  draw_button (self, s, bx + BTN_W + 4, y + 6, "S", track->solo, 0x57e389);

  double db = track->gain_db;
  if (self->drag_mode == DRAG_GAIN && self->drag_track == (int) index)
    db = self->drag_gain;
  graphene_rect_t r;
  gain_bar_rect (y, h, &r);
  fill (s, 0x3a3a40, 1, r.origin.x, r.origin.y, r.size.width, r.size.height);
  fill (s, 0x78aeed, 1, r.origin.x, r.origin.y, r.size.width * gain_to_frac (db), r.size.height);
  fill (s, 0xffffff, 0.5f, r.origin.x + r.size.width * gain_to_frac (0), r.origin.y - 2, 1, r.size.height + 4);
  char buf[32];
  g_snprintf (buf, sizeof buf, "%+.1f dB", db);
  draw_text (s, self->small_layout, buf, r.origin.x + r.size.width + 6, r.origin.y - 6, 0xb0b0b8, 1, -1);
}

static void
ss_timeline_snapshot (GtkWidget *widget, GtkSnapshot *s)
{
  SsTimeline *self = SS_TIMELINE (widget);
  double width = gtk_widget_get_width (widget);
  double height = gtk_widget_get_height (widget);
  double aw = area_width (self);
  double bottom = area_bottom (self);
  double right = SS_TIMELINE_HEADER_W + aw;
  self->last_drawn = 0;

  fill (s, 0x18181b, 1, 0, 0, width, height);

  guint n_tracks = self->project ? ss_project_get_n_tracks (self->project) : 0;
  SsTime t_left = x_to_time (self, SS_TIMELINE_HEADER_W);
  SsTime t_right = x_to_time (self, right);

  /* lanes and clips */
  gtk_snapshot_push_clip (s, &GRAPHENE_RECT_INIT (SS_TIMELINE_HEADER_W, SS_TIMELINE_RULER_H,
                                                  aw, MAX (0, bottom - SS_TIMELINE_RULER_H)));
  double y = SS_TIMELINE_RULER_H - self->scroll_y;
  double ghost_y = -1;
  int ghost_h = 0;
  const SsTrack *ghost_track = NULL;
  const SsClip *ghost_clip = NULL;
  for (guint i = 0; i < n_tracks; i++)
    {
      const SsTrack *track = ss_project_get_track (self->project, i);
      int h = track_height (self, track);
      if (y + h > SS_TIMELINE_RULER_H && y < bottom)
        {
          fill (s, SS_TIMELINE_COLOR_LANE, 1, SS_TIMELINE_HEADER_W, y, aw, h);
          fill (s, 0x2c2c31, 1, SS_TIMELINE_HEADER_W, y + h - 1, aw, 1);
          gboolean audible = track->kind != SS_TRACK_AUDIO ||
                             ss_project_track_is_audible (self->project, track);
          for (guint c = first_clip_ending_after (track, t_left); c < track->clips->len; c++)
            {
              const SsClip *clip = g_ptr_array_index (track->clips, c);
              if (clip->start > t_right)
                break;
              if (self->drag_moved && self->drag_clip && strcmp (self->drag_clip, clip->id) == 0 &&
                  (self->drag_mode == DRAG_MOVE || self->drag_mode == DRAG_TRIM_LEFT ||
                   self->drag_mode == DRAG_TRIM_RIGHT))
                {
                  ghost_clip = clip;
                  continue;
                }
              draw_clip (self, s, track, clip, clip->start, clip->duration, y, h,
                         SS_TIMELINE_HEADER_W, right, audible, FALSE);
              self->last_drawn++;
            }
        }
      if ((int) i == (self->drag_mode == DRAG_MOVE ? self->drag_to_track : self->drag_track))
        {
          ghost_y = y;
          ghost_h = h;
          ghost_track = track;
        }
      y += h;
    }
  if (ghost_clip != NULL && ghost_track != NULL)
    draw_clip (self, s, ghost_track, ghost_clip, self->drag_new_start, self->drag_new_dur,
               ghost_y, ghost_h, SS_TIMELINE_HEADER_W, right, TRUE, TRUE);
  gtk_snapshot_pop (s);

  /* ruler */
  draw_ruler (self, s, right);

  /* headers */
  gtk_snapshot_push_clip (s, &GRAPHENE_RECT_INIT (0, SS_TIMELINE_RULER_H, SS_TIMELINE_HEADER_W,
                                                  MAX (0, bottom - SS_TIMELINE_RULER_H)));
  y = SS_TIMELINE_RULER_H - self->scroll_y;
  for (guint i = 0; i < n_tracks; i++)
    {
      const SsTrack *track = ss_project_get_track (self->project, i);
      int h = track_height (self, track);
      if (y + h > SS_TIMELINE_RULER_H && y < bottom)
        draw_header (self, s, i, track, y, h);
      y += h;
    }
  if (self->project != NULL && y < bottom)
    {
      fill (s, 0x303036, 1, 8, y + 5, SS_TIMELINE_HEADER_W - 16, SS_TIMELINE_ADD_ROW_H - 10);
      draw_text (s, self->small_layout, _("+ Audio Track"), 16, y + 7, 0xd0d0d4, 1, -1);
    }
  fill (s, 0x34343a, 1, SS_TIMELINE_HEADER_W - 1, SS_TIMELINE_RULER_H, 1, bottom);
  gtk_snapshot_pop (s);

  /* corner: current time */
  fill (s, 0x222226, 1, 0, 0, SS_TIMELINE_HEADER_W, SS_TIMELINE_RULER_H);
  SsTime ph = current_playhead (self);
  char buf[32];
  format_timecode (self, ph, 2, buf, sizeof buf);
  draw_text (s, self->layout, buf, 8, 3, 0xf0f0f4, 1, -1);

  /* playhead */
  double px = floor (time_to_x (self, ph));
  if (px >= SS_TIMELINE_HEADER_W - 1 && px <= right)
    {
      fill (s, SS_TIMELINE_COLOR_PLAYHEAD, 1, px, 0, 1, bottom);
      fill (s, SS_TIMELINE_COLOR_PLAYHEAD, 1, px - 5, 0, 11, 8);
    }

  gtk_widget_snapshot_child (widget, self->hscroll, s);
  if (gtk_widget_get_child_visible (self->vscroll))
    gtk_widget_snapshot_child (widget, self->vscroll, s);
}

guint
ss_timeline_get_last_drawn_clips (SsTimeline *self)
{
  g_return_val_if_fail (SS_IS_TIMELINE (self), 0);
  return self->last_drawn;
}

/* ---- layout ---- */

static void
ss_timeline_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                     int *minimum, int *natural, int *min_baseline, int *nat_baseline)
{
  SsTimeline *self = SS_TIMELINE (widget);
  int smin = 0, snat = 0;
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      gtk_widget_measure (self->hscroll, orientation, -1, &smin, &snat, NULL, NULL);
      *minimum = SS_TIMELINE_HEADER_W + MAX (120, smin);
      *natural = SS_TIMELINE_HEADER_W + 800;
    }
  else
    {
      gtk_widget_measure (self->hscroll, orientation, -1, &smin, &snat, NULL, NULL);
      *minimum = SS_TIMELINE_RULER_H + SS_TIMELINE_AUDIO_TRACK_H + snat;
      *natural = SS_TIMELINE_RULER_H + (int) content_height (self) + snat;
    }
}

static void
ss_timeline_size_allocate (GtkWidget *widget, int width, int height, int baseline)
{
  SsTimeline *self = SS_TIMELINE (widget);
  int hmin, hnat, vmin, vnat;
  gtk_widget_measure (self->hscroll, GTK_ORIENTATION_VERTICAL, -1, &hmin, &hnat, NULL, NULL);
  gtk_widget_measure (self->vscroll, GTK_ORIENTATION_HORIZONTAL, -1, &vmin, &vnat, NULL, NULL);

  gboolean need_v = content_height (self) > height - SS_TIMELINE_RULER_H - hnat;
  gtk_widget_set_child_visible (self->vscroll, need_v);
  int vw = need_v ? vnat : 0;
  self->hscroll_h = hnat;
  self->vscroll_w = vnat;
  if (!self->zoom_set && width > SS_TIMELINE_HEADER_W)
    {
      self->zoom_set = TRUE;
      double dur = self->project ? ss_time_to_seconds (ss_project_get_duration (self->project)) : 0;
      self->pps = CLAMP ((width - SS_TIMELINE_HEADER_W - vw) * 0.95 / (dur > 0 ? dur : 30),
                         SS_TIMELINE_MIN_ZOOM, SS_TIMELINE_MAX_ZOOM);
    }
  /* Adjustments first: changing them after allocating the scrollbars would leave
   * the sliders unallocated for this frame. */
  update_adjustments (self);
  gtk_widget_size_allocate (self->hscroll,
                            &(GtkAllocation) { SS_TIMELINE_HEADER_W, height - hnat,
                                               MAX (0, width - SS_TIMELINE_HEADER_W - vw), hnat }, -1);
  gtk_widget_size_allocate (self->vscroll,
                            &(GtkAllocation) { width - vw, SS_TIMELINE_RULER_H, MAX (vw, vnat),
                                               MAX (0, height - SS_TIMELINE_RULER_H - hnat) }, -1);
  if (self->menu != NULL)
    gtk_popover_present (GTK_POPOVER (self->menu));
  if (self->rename != NULL)
    gtk_popover_present (GTK_POPOVER (self->rename));
}

/* ---- hit testing ---- */

static Hit
hit_test (SsTimeline *self, double x, double y)
{
  Hit hit = { HIT_NONE, -1, NULL };
  if (self->project == NULL)
    return hit;
  if (y < SS_TIMELINE_RULER_H)
    {
      if (x >= SS_TIMELINE_HEADER_W)
        hit.kind = HIT_RULER;
      return hit;
    }
  if (y >= area_bottom (self))
    return hit;
  double top;
  int ti = track_at_y (self, y, &top);
  if (ti < 0)
    {
      if (x < SS_TIMELINE_HEADER_W && y >= top && y < top + SS_TIMELINE_ADD_ROW_H)
        hit.kind = HIT_ADD_TRACK;
      return hit;
    }
  const SsTrack *track = ss_project_get_track (self->project, ti);
  int h = track_height (self, track);
  hit.track = ti;
  if (x < SS_TIMELINE_HEADER_W)
    {
      hit.kind = HIT_HEADER;
      if (track->kind == SS_TRACK_AUDIO)
        {
          double bx = SS_TIMELINE_HEADER_W - 2 * BTN_W - 10;
          graphene_rect_t r;
          gain_bar_rect (top, h, &r);
          if (y >= top + 6 && y < top + 6 + BTN_H && x >= bx && x < bx + BTN_W)
            hit.kind = HIT_MUTE;
          else if (y >= top + 6 && y < top + 6 + BTN_H && x >= bx + BTN_W + 4 && x < bx + 2 * BTN_W + 4)
            hit.kind = HIT_SOLO;
          else if (y >= r.origin.y - 5 && y < r.origin.y + r.size.height + 5 &&
                   x >= r.origin.x - 4 && x < r.origin.x + r.size.width + 4)
            hit.kind = HIT_GAIN;
        }
      return hit;
    }
  hit.kind = HIT_LANE;
  SsTime t = x_to_time (self, x);
  SsTime slack = ss_time_from_seconds (EDGE_PX / self->pps);
  guint i = first_clip_ending_after (track, t - slack);
  for (; i < track->clips->len; i++)
    {
      const SsClip *c = g_ptr_array_index (track->clips, i);
      double cx = time_to_x (self, c->start), cxe = time_to_x (self, c->start + c->duration);
      if (cx > x + EDGE_PX)
        break;
      if (x < cx - EDGE_PX || x > cxe + EDGE_PX)
        continue;
      double edge = MIN (EDGE_PX, (cxe - cx) / 4);
      if (fabs (x - cx) <= edge)
        { hit.kind = HIT_CLIP_LEFT; hit.clip = c; }
      else if (fabs (x - cxe) <= edge)
        { hit.kind = HIT_CLIP_RIGHT; hit.clip = c; }
      else if (x >= cx && x <= cxe)
        { hit.kind = HIT_CLIP; hit.clip = c; }
      if (hit.clip != NULL && hit.kind != HIT_CLIP_RIGHT)
        break;   /* a left edge wins over the previous clip's right edge */
    }
  return hit;
}

/* ---- selection and actions ---- */

static void
update_actions (SsTimeline *self)
{
  gboolean has_project = self->project != NULL;
  const SsClip *sel = has_project && self->selected ? ss_project_find_clip (self->project, self->selected, NULL)
                                                    : NULL;
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "timeline.delete", sel != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "timeline.next-take", sel != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "timeline.previous-take", sel != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "timeline.split", has_project);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "timeline.add-audio-track", has_project);
}

void
ss_timeline_set_selected_clip (SsTimeline *self, const char *clip_id)
{
  g_return_if_fail (SS_IS_TIMELINE (self));
  if (g_strcmp0 (self->selected, clip_id) == 0)
    return;
  g_free (self->selected);
  self->selected = g_strdup (clip_id);
  update_actions (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_SELECTED_CLIP]);
}

const char *
ss_timeline_get_selected_clip (SsTimeline *self)
{
  g_return_val_if_fail (SS_IS_TIMELINE (self), NULL);
  return self->selected;
}

static void
action_split (GtkWidget *widget, const char *name, GVariant *param)
{
  SsTimeline *self = SS_TIMELINE (widget);
  if (self->project == NULL)
    return;
  SsTime at = current_playhead (self);
  g_autoptr(GError) error = NULL;

  const SsTrack *track = NULL;
  const SsClip *sel = self->selected ? ss_project_find_clip (self->project, self->selected, &track) : NULL;
  if (sel != NULL && at > sel->start && at < sel->start + sel->duration)
    {
      if (ss_project_split_clip (self->project, sel->id, at, &error) == NULL)
        emit_gerror (self, error, _("The clip could not be split"));
      return;
    }

  /* No selected clip under the playhead: split every clip there, as one step. */
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < ss_project_get_n_tracks (self->project); i++)
    {
      const SsClip *c = clip_at_time (ss_project_get_track (self->project, i), at);
      if (c != NULL && at > c->start)
        g_ptr_array_add (ids, g_strdup (c->id));
    }
  if (ids->len == 0)
    {
      emit_error (self, _("There is no clip under the playhead to split"));
      return;
    }
  ss_project_begin_group (self->project, _("Split"));
  for (guint i = 0; i < ids->len; i++)
    if (ss_project_split_clip (self->project, g_ptr_array_index (ids, i), at, &error) == NULL)
      {
        emit_gerror (self, error, _("The clip could not be split"));
        break;
      }
  ss_project_end_group (self->project);
}

static void
action_delete (GtkWidget *widget, const char *name, GVariant *param)
{
  SsTimeline *self = SS_TIMELINE (widget);
  if (self->project == NULL || self->selected == NULL)
    return;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = g_strdup (self->selected);
  if (!ss_project_delete_clip (self->project, id, &error))
    emit_gerror (self, error, _("The clip could not be deleted"));
  else
    ss_timeline_set_selected_clip (self, NULL);
}

static void
switch_take (SsTimeline *self, int delta)
{
  if (self->project == NULL || self->selected == NULL)
    return;
  const SsClip *clip = ss_project_find_clip (self->project, self->selected, NULL);
  if (clip == NULL)
    return;
  guint n = clip->takes->len;
  if (n < 2)
    {
      emit_error (self, _("This clip has only one take"));
      return;
    }
  guint next = (guint) ((int) clip->active_take + (int) n + delta) % n;
  g_autoptr(GError) error = NULL;
  if (!ss_project_set_active_take (self->project, clip->id, next, &error))
    emit_gerror (self, error, _("The take could not be changed"));
}

static void
action_next_take (GtkWidget *widget, const char *name, GVariant *param)
{
  switch_take (SS_TIMELINE (widget), 1);
}

static void
action_previous_take (GtkWidget *widget, const char *name, GVariant *param)
{
  switch_take (SS_TIMELINE (widget), -1);
}

static void
action_zoom (GtkWidget *widget, const char *name, GVariant *param)
{
  SsTimeline *self = SS_TIMELINE (widget);
  if (g_str_equal (name, "timeline.zoom-in"))
    zoom_around (self, self->pps * 1.5, zoom_anchor (self));
  else if (g_str_equal (name, "timeline.zoom-out"))
    zoom_around (self, self->pps / 1.5, zoom_anchor (self));
  else
    zoom_fit (self);
}

static void
action_add_audio_track (GtkWidget *widget, const char *name, GVariant *param)
{
  SsTimeline *self = SS_TIMELINE (widget);
  if (self->project == NULL)
    return;
  guint n_audio = 0;
  for (guint i = 0; i < ss_project_get_n_tracks (self->project); i++)
    if (ss_project_get_track (self->project, i)->kind == SS_TRACK_AUDIO)
      n_audio++;
  g_autofree char *track_name = g_strdup_printf (_("Audio %u"), n_audio + 1);
  g_autoptr(GError) error = NULL;
  if (ss_project_add_track (self->project, SS_TRACK_AUDIO, track_name, &error) == NULL)
    emit_gerror (self, error, _("The track could not be added"));
}

/* ---- input ---- */

static void
seek_to_x (SsTimeline *self, double x)
{
  SsTime t = MAX (0, snap_to_frame (self, x_to_time (self, x)));
  if (self->transport != NULL && self->drag_moved)
    ss_transport_scrub (self->transport, t);   /* dragging: let it be heard */
  else if (self->transport != NULL)
    ss_transport_seek (self->transport, t);
  else
    self->playhead = t;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
collect_snap_points (SsTimeline *self, const char *except_clip)
{
  g_array_set_size (self->snap_points, 0);
  SsTime zero = 0;
  g_array_append_val (self->snap_points, zero);
  SsTime ph = current_playhead (self);
  g_array_append_val (self->snap_points, ph);
  for (guint i = 0; i < ss_project_get_n_tracks (self->project); i++)
    {
      const SsTrack *t = ss_project_get_track (self->project, i);
      for (guint c = 0; c < t->clips->len; c++)
        {
          const SsClip *clip = g_ptr_array_index (t->clips, c);
          if (except_clip && strcmp (clip->id, except_clip) == 0)
            continue;
          SsTime e = clip->start + clip->duration;
          g_array_append_val (self->snap_points, clip->start);
          g_array_append_val (self->snap_points, e);
        }
    }
}

/* Nearest snap point to @t within the threshold; returns the distance (or
 * G_MAXINT64) and the point in @out. */
static SsTime
nearest_snap (SsTimeline *self, SsTime t, SsTime *out)
{
  SsTime threshold = ss_time_from_seconds (SNAP_PX / self->pps);
  SsTime best = G_MAXINT64;
  for (guint i = 0; i < self->snap_points->len; i++)
    {
      SsTime p = g_array_index (self->snap_points, SsTime, i);
      SsTime d = p > t ? p - t : t - p;
      if (d <= threshold && d < best)
        {
          best = d;
          *out = p;
        }
    }
  return best;
}

static SsTime
snap_edge (SsTimeline *self, SsTime t)
{
  SsTime p;
  if (nearest_snap (self, t, &p) != G_MAXINT64)
    return p;
  return snap_to_frame (self, t);
}

static const SsTrack *
track_or_null (SsTimeline *self, int index)
{
  if (self->project == NULL || index < 0 || (guint) index >= ss_project_get_n_tracks (self->project))
    return NULL;
  return ss_project_get_track (self->project, (guint) index);
}

static void
drag_begin_cb (GtkGestureDrag *gesture, double x, double y, SsTimeline *self)
{
  gtk_widget_grab_focus (GTK_WIDGET (self));
  self->drag_mode = DRAG_NONE;
  self->drag_moved = FALSE;
  self->drag_x0 = x;
  self->drag_y0 = y;
  g_clear_pointer (&self->drag_clip, g_free);
  Hit hit = hit_test (self, x, y);
  const SsTrack *track = hit.track >= 0 ? ss_project_get_track (self->project, hit.track) : NULL;

  switch (hit.kind)
    {
    case HIT_RULER:
      self->drag_mode = DRAG_SCRUB;
      seek_to_x (self, x);
      break;
    case HIT_MUTE:
      ss_project_set_track_muted (self->project, track->id, !track->muted);
      break;
    case HIT_SOLO:
      ss_project_set_track_solo (self->project, track->id, !track->solo);
      break;
    case HIT_GAIN:
      {
        graphene_rect_t r;
        gain_bar_rect (0, 0, &r);
        self->drag_mode = DRAG_GAIN;
        self->drag_track = hit.track;
        self->drag_gain = frac_to_gain ((x - r.origin.x) / r.size.width);
        gtk_widget_queue_draw (GTK_WIDGET (self));
      }
      break;
    case HIT_ADD_TRACK:
      gtk_widget_activate_action (GTK_WIDGET (self), "timeline.add-audio-track", NULL);
      break;
    case HIT_CLIP:
    case HIT_CLIP_LEFT:
    case HIT_CLIP_RIGHT:
      {
        const SsClip *c = hit.clip;
        ss_timeline_set_selected_clip (self, c->id);
        self->drag_mode = hit.kind == HIT_CLIP ? DRAG_MOVE
                        : hit.kind == HIT_CLIP_LEFT ? DRAG_TRIM_LEFT : DRAG_TRIM_RIGHT;
        self->drag_clip = g_strdup (c->id);
        self->drag_track = hit.track;
        self->drag_to_track = hit.track;
        self->drag_orig_start = self->drag_new_start = c->start;
        self->drag_orig_dur = self->drag_new_dur = c->duration;
        const SsTake *take = ss_clip_get_active_take (c);
        const SsMedia *m = take ? ss_project_find_media (self->project, take->media_id) : NULL;
        self->drag_min_start = take ? c->start - take->source_in : G_MININT64;
        self->drag_max_dur = (m && m->duration > 0 && take) ? m->duration - take->source_in : G_MAXINT64;
        collect_snap_points (self, c->id);
      }
      break;
    case HIT_LANE:
    case HIT_HEADER:
      ss_timeline_set_selected_clip (self, NULL);
      break;
    case HIT_NONE:
    default:
      break;
    }
}

static void
drag_update_cb (GtkGestureDrag *gesture, double dx, double dy, SsTimeline *self)
{
  double x = self->drag_x0 + dx, y = self->drag_y0 + dy;
  if (!self->drag_moved && fabs (dx) < DRAG_THRESHOLD && fabs (dy) < DRAG_THRESHOLD)
    return;
  self->drag_moved = TRUE;
  SsTime delta = ss_time_from_seconds (dx / self->pps);
  SsTime frame = frame_duration (self);

  switch (self->drag_mode)
    {
    case DRAG_SCRUB:
      seek_to_x (self, x);
      break;
    case DRAG_GAIN:
      {
        graphene_rect_t r;
        gain_bar_rect (0, 0, &r);
        self->drag_gain = frac_to_gain ((x - r.origin.x) / r.size.width);
      }
      break;
    case DRAG_MOVE:
      {
        SsTime s = self->drag_orig_start + delta;
        SsTime e = s + self->drag_orig_dur;
        SsTime ps = 0, pe = 0;
        SsTime ds = nearest_snap (self, s, &ps);
        SsTime de = nearest_snap (self, e, &pe);
        if (ds != G_MAXINT64 && ds <= de)
          s = ps;
        else if (de != G_MAXINT64)
          s = pe - self->drag_orig_dur;
        else
          s = snap_to_frame (self, s);
        self->drag_new_start = MAX (0, s);
        int ti = track_at_y (self, y, NULL);
        const SsTrack *orig = track_or_null (self, self->drag_track);
        const SsTrack *target = track_or_null (self, ti);
        if (orig != NULL && target != NULL && target->kind == orig->kind)
          self->drag_to_track = ti;
      }
      break;
    case DRAG_TRIM_LEFT:
      {
        SsTime end = self->drag_orig_start + self->drag_orig_dur;
        SsTime s = snap_edge (self, self->drag_orig_start + delta);
        s = MAX (s, MAX (0, self->drag_min_start));
        s = MIN (s, end - frame);
        self->drag_new_start = s;
        self->drag_new_dur = end - s;
      }
      break;
    case DRAG_TRIM_RIGHT:
      {
        SsTime e = snap_edge (self, self->drag_orig_start + self->drag_orig_dur + delta);
        SsTime d = MAX (e - self->drag_orig_start, frame);
        self->drag_new_dur = MIN (d, self->drag_max_dur);
      }
      break;
    case DRAG_NONE:
    default:
      break;
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
drag_end_cb (GtkGestureDrag *gesture, double dx, double dy, SsTimeline *self)
{
  g_autoptr(GError) error = NULL;
  DragMode mode = self->drag_mode;
  self->drag_mode = DRAG_NONE;
  g_debug ("drag end: mode %d moved %d start %.3f dur %.3f", mode, self->drag_moved,
           ss_time_to_seconds (self->drag_new_start), ss_time_to_seconds (self->drag_new_dur));

  if (mode == DRAG_GAIN)
    {
      const SsTrack *t = track_or_null (self, self->drag_track);
      if (t != NULL && t->gain_db != self->drag_gain)
        ss_project_set_track_gain (self->project, t->id, self->drag_gain);
    }
  else if (self->drag_moved && self->drag_clip != NULL && self->project != NULL &&
           ss_project_find_clip (self->project, self->drag_clip, NULL) != NULL)
    {
      if (mode == DRAG_MOVE)
        {
          const char *to = NULL;
          const SsTrack *target = track_or_null (self, self->drag_to_track);
          if (self->drag_to_track != self->drag_track && target != NULL)
            to = target->id;
          if ((self->drag_new_start != self->drag_orig_start || to != NULL) &&
              !ss_project_move_clip (self->project, self->drag_clip, self->drag_new_start, to, &error))
            emit_gerror (self, error, _("The clip could not be moved there"));
        }
      else if (mode == DRAG_TRIM_LEFT || mode == DRAG_TRIM_RIGHT)
        {
          if ((self->drag_new_start != self->drag_orig_start || self->drag_new_dur != self->drag_orig_dur) &&
              !ss_project_trim_clip (self->project, self->drag_clip, self->drag_new_start,
                                     self->drag_new_dur, &error))
            emit_gerror (self, error, _("The clip could not be trimmed"));
        }
    }
  self->drag_moved = FALSE;
  g_clear_pointer (&self->drag_clip, g_free);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
motion_cb (GtkEventControllerMotion *c, double x, double y, SsTimeline *self)
{
  self->pointer_x = x;
  self->pointer_y = y;
  if (self->drag_mode != DRAG_NONE)
    return;
  Hit hit = hit_test (self, x, y);
  const char *cursor = NULL;
  if (hit.kind == HIT_CLIP_LEFT || hit.kind == HIT_CLIP_RIGHT || hit.kind == HIT_GAIN)
    cursor = "ew-resize";
  else if (hit.kind == HIT_RULER)
    cursor = "text";
  else if (hit.kind == HIT_MUTE || hit.kind == HIT_SOLO || hit.kind == HIT_ADD_TRACK)
    cursor = "pointer";
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), cursor);
}

static gboolean
scroll_cb (GtkEventControllerScroll *c, double dx, double dy, SsTimeline *self)
{
  GdkModifierType state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (c));
  gboolean pixels = gtk_event_controller_scroll_get_unit (c) == GDK_SCROLL_UNIT_SURFACE;
  double step = pixels ? 1.0 : 48.0;

  if (state & GDK_CONTROL_MASK)
    {
      double factor = pow (1.2, pixels ? -dy / 20.0 : -dy);
      double anchor = self->pointer_x >= SS_TIMELINE_HEADER_W ? self->pointer_x : zoom_anchor (self);
      zoom_around (self, self->pps * factor, anchor);
      return TRUE;
    }
  if (state & GDK_SHIFT_MASK)
    {
      dx += dy;
      dy = 0;
    }
  double page_h = area_bottom (self) - SS_TIMELINE_RULER_H;
  if (dy != 0 && content_height (self) <= page_h)
    {
      dx += dy;   /* nothing to scroll vertically: scroll in time */
      dy = 0;
    }
  if (dx != 0)
    set_scroll_x (self, self->scroll_x + dx * step);
  if (dy != 0)
    {
      self->scroll_y += dy * step;
      update_adjustments (self);
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
  return TRUE;
}

void
ss_timeline_simulate_drag (SsTimeline *self, double x, double y, double dx, double dy)
{
  g_return_if_fail (SS_IS_TIMELINE (self));
  drag_begin_cb (NULL, x, y, self);
  if (dx != 0 || dy != 0)
    {
      drag_update_cb (NULL, dx / 2, dy / 2, self);
      drag_update_cb (NULL, dx, dy, self);
    }
  drag_end_cb (NULL, dx, dy, self);
}

/* ---- context menu and rename ---- */

static void
rename_activate_cb (GtkEntry *entry, SsTimeline *self)
{
  const char *name = gtk_editable_get_text (GTK_EDITABLE (entry));
  if (self->project != NULL && self->rename_track != NULL && name != NULL && *name != '\0')
    {
      const SsTrack *t = ss_project_find_track (self->project, self->rename_track);
      if (t != NULL && g_strcmp0 (t->name, name) != 0 &&
          !ss_project_rename_track (self->project, self->rename_track, name))
        emit_error (self, _("The track could not be renamed"));
    }
  gtk_popover_popdown (GTK_POPOVER (self->rename));
}

static void
show_rename (SsTimeline *self, const char *track_id)
{
  const SsTrack *track = self->project ? ss_project_find_track (self->project, track_id) : NULL;
  if (track == NULL)
    return;
  guint index = 0;
  for (guint i = 0; i < ss_project_get_n_tracks (self->project); i++)
    if (ss_project_get_track (self->project, i) == track)
      index = i;
  if (self->rename == NULL)
    {
      self->rename = gtk_popover_new ();
      self->rename_entry = gtk_entry_new ();
      gtk_editable_set_width_chars (GTK_EDITABLE (self->rename_entry), 18);
      g_signal_connect (self->rename_entry, "activate", G_CALLBACK (rename_activate_cb), self);
      gtk_popover_set_child (GTK_POPOVER (self->rename), self->rename_entry);
      gtk_widget_set_parent (self->rename, GTK_WIDGET (self));
    }
  g_free (self->rename_track);
  self->rename_track = g_strdup (track_id);
  gtk_editable_set_text (GTK_EDITABLE (self->rename_entry), track->name ? track->name : "");
  double y = ss_timeline_get_track_y (self, index);
  gtk_popover_set_pointing_to (GTK_POPOVER (self->rename),
                               &(GdkRectangle) { 8, (int) y + 4, SS_TIMELINE_HEADER_W - 16, 20 });
  gtk_popover_popup (GTK_POPOVER (self->rename));
  gtk_widget_grab_focus (self->rename_entry);
}

static void
action_rename_track (GtkWidget *widget, const char *name, GVariant *param)
{
  show_rename (SS_TIMELINE (widget), g_variant_get_string (param, NULL));
}

static void
action_remove_track (GtkWidget *widget, const char *name, GVariant *param)
{
  SsTimeline *self = SS_TIMELINE (widget);
  g_autoptr(GError) error = NULL;
  if (self->project != NULL &&
      !ss_project_remove_track (self->project, g_variant_get_string (param, NULL), &error))
    emit_gerror (self, error, _("The track could not be removed"));
}

static void
show_context_menu (SsTimeline *self, double x, double y)
{
  Hit hit = hit_test (self, x, y);
  const SsTrack *track = track_or_null (self, hit.track);
  g_autoptr(GMenu) menu = g_menu_new ();

  if (hit.clip != NULL)
    {
      ss_timeline_set_selected_clip (self, hit.clip->id);
      g_menu_append (menu, _("_Split at Playhead"), "timeline.split");
      if (hit.clip->takes->len > 1)
        {
          g_menu_append (menu, _("_Next Take"), "timeline.next-take");
          g_menu_append (menu, _("_Previous Take"), "timeline.previous-take");
        }
      g_menu_append (menu, _("_Delete"), "timeline.delete");
    }
  else if (track != NULL && x < SS_TIMELINE_HEADER_W)
    {
      g_autoptr(GMenuItem) rename = g_menu_item_new (_("_Rename…"), NULL);
      g_menu_item_set_action_and_target_value (rename, "timeline.rename-track", g_variant_new_string (track->id));
      g_menu_append_item (menu, rename);
      if (track->kind == SS_TRACK_AUDIO)
        {
          g_autoptr(GMenuItem) remove = g_menu_item_new (_("Re_move Track"), NULL);
          g_menu_item_set_action_and_target_value (remove, "timeline.remove-track", g_variant_new_string (track->id));
          g_menu_append_item (menu, remove);
        }
      g_menu_append (menu, _("_Add Audio Track"), "timeline.add-audio-track");
    }
  else if (self->project != NULL)
    {
      g_menu_append (menu, _("_Add Audio Track"), "timeline.add-audio-track");
      g_menu_append (menu, _("Zoom to _Fit"), "timeline.zoom-fit");
    }
  else
    return;

  if (self->menu == NULL)
    {
      self->menu = gtk_popover_menu_new_from_model (NULL);
      gtk_popover_set_has_arrow (GTK_POPOVER (self->menu), FALSE);
      gtk_widget_set_halign (self->menu, GTK_ALIGN_START);
      gtk_widget_set_parent (self->menu, GTK_WIDGET (self));
    }
  gtk_popover_menu_set_menu_model (GTK_POPOVER_MENU (self->menu), G_MENU_MODEL (menu));
  gtk_popover_set_pointing_to (GTK_POPOVER (self->menu), &(GdkRectangle) { (int) x, (int) y, 1, 1 });
  gtk_popover_popup (GTK_POPOVER (self->menu));
}

GtkWidget *
ss_timeline_simulate_context_click (SsTimeline *self, double x, double y)
{
  g_return_val_if_fail (SS_IS_TIMELINE (self), NULL);
  show_context_menu (self, x, y);
  return self->menu;
}

static void
secondary_pressed_cb (GtkGestureClick *gesture, int n_press, double x, double y, SsTimeline *self)
{
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  show_context_menu (self, x, y);
}

static void
primary_pressed_cb (GtkGestureClick *gesture, int n_press, double x, double y, SsTimeline *self)
{
  if (n_press != 2)
    return;
  Hit hit = hit_test (self, x, y);
  const SsTrack *track = track_or_null (self, hit.track);
  if (hit.kind == HIT_HEADER && track != NULL)
    show_rename (self, track->id);
}

/* ---- project / transport ---- */

static void
project_changed_cb (SsProject *project, SsTimeline *self)
{
  if (self->selected != NULL && ss_project_find_clip (project, self->selected, NULL) == NULL)
    ss_timeline_set_selected_clip (self, NULL);
  /* The first media in an empty project: show all of it. */
  SsTime duration = ss_project_get_duration (project);
  if (self->last_duration == 0 && duration > 0 && gtk_widget_get_width (GTK_WIDGET (self)) > SS_TIMELINE_HEADER_W)
    zoom_fit (self);
  self->last_duration = duration;
  update_actions (self);
  update_adjustments (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
ss_timeline_set_project (SsTimeline *self, SsProject *project)
{
  g_return_if_fail (SS_IS_TIMELINE (self));
  g_return_if_fail (project == NULL || SS_IS_PROJECT (project));
  if (self->project == project)
    return;
  if (self->project != NULL)
    {
      g_clear_signal_handler (&self->changed_id, self->project);
      g_clear_object (&self->project);
    }
  if (project != NULL)
    {
      self->project = g_object_ref (project);
      self->changed_id = g_signal_connect (project, "changed", G_CALLBACK (project_changed_cb), self);
    }
  g_clear_pointer (&self->selected, g_free);
  self->last_duration = project ? ss_project_get_duration (project) : 0;
  self->scroll_x = self->scroll_y = 0;
  self->playhead = 0;
  self->zoom_set = FALSE;
  if (gtk_widget_get_width (GTK_WIDGET (self)) > SS_TIMELINE_HEADER_W)
    zoom_fit (self);
  update_actions (self);
  update_adjustments (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_PROJECT]);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_SELECTED_CLIP]);
}

SsProject *
ss_timeline_get_project (SsTimeline *self)
{
  g_return_val_if_fail (SS_IS_TIMELINE (self), NULL);
  return self->project;
}

static void follow_playhead (SsTimeline *self, SsTime ph);

/* While playing, redraw every frame so the playhead moves smoothly (the
 * transport notifies "position" only ~30 times a second). */
static gboolean
playing_tick_cb (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  SsTimeline *self = SS_TIMELINE (widget);
  if (self->transport == NULL || !ss_transport_get_playing (self->transport))
    {
      self->tick_id = 0;
      return G_SOURCE_REMOVE;
    }
  follow_playhead (self, ss_transport_get_position (self->transport));
  gtk_widget_queue_draw (widget);
  return G_SOURCE_CONTINUE;
}

static void
position_cb (SsTransport *transport, GParamSpec *pspec, SsTimeline *self)
{
  SsTime ph = ss_transport_get_position (transport);
  self->playhead = ph;
  if (ss_transport_get_playing (transport) && self->tick_id == 0)
    self->tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), playing_tick_cb, NULL, NULL);
  follow_playhead (self, ph);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
follow_playhead (SsTimeline *self, SsTime ph)
{
  if (self->transport == NULL)
    return;
  /* Follow the playhead while playing: page when it leaves the view. */
  if (ss_transport_get_playing (self->transport) && self->drag_mode == DRAG_NONE)
    {
      double x = time_to_x (self, ph);
      double right = SS_TIMELINE_HEADER_W + area_width (self);
      if (x > right - 8)
        set_scroll_x (self, self->scroll_x + (x - SS_TIMELINE_HEADER_W) - area_width (self) * 0.1);
      else if (x < SS_TIMELINE_HEADER_W)
        set_scroll_x (self, self->scroll_x + (x - SS_TIMELINE_HEADER_W) - area_width (self) * 0.5);
    }
}

void
ss_timeline_set_transport (SsTimeline *self, SsTransport *transport)
{
  g_return_if_fail (SS_IS_TIMELINE (self));
  g_return_if_fail (transport == NULL || SS_IS_TRANSPORT (transport));
  if (self->transport == transport)
    return;
  if (self->transport != NULL)
    {
      g_clear_signal_handler (&self->position_id, self->transport);
      g_clear_object (&self->transport);
    }
  if (self->tick_id != 0)
    {
      gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->tick_id);
      self->tick_id = 0;
    }
  if (transport != NULL)
    {
      self->transport = g_object_ref (transport);
      self->position_id = g_signal_connect (transport, "notify::position", G_CALLBACK (position_cb), self);
      self->playhead = ss_transport_get_position (transport);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_TRANSPORT]);
}

SsTransport *
ss_timeline_get_transport (SsTimeline *self)
{
  g_return_val_if_fail (SS_IS_TIMELINE (self), NULL);
  return self->transport;
}

void
ss_timeline_set_zoom (SsTimeline *self, double pixels_per_second)
{
  g_return_if_fail (SS_IS_TIMELINE (self));
  self->zoom_set = TRUE;
  double left = self->scroll_x / self->pps;   /* keep the time at the left edge */
  self->pps = CLAMP (pixels_per_second, SS_TIMELINE_MIN_ZOOM, SS_TIMELINE_MAX_ZOOM);
  self->scroll_x = left * self->pps;
  update_adjustments (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ZOOM]);
}

double
ss_timeline_get_zoom (SsTimeline *self)
{
  g_return_val_if_fail (SS_IS_TIMELINE (self), 1.0);
  return self->pps;
}

void
ss_timeline_scroll_to (SsTimeline *self, SsTime left)
{
  g_return_if_fail (SS_IS_TIMELINE (self));
  set_scroll_x (self, ss_time_to_seconds (left) * self->pps);
}

SsTime
ss_timeline_get_playhead (SsTimeline *self)
{
  g_return_val_if_fail (SS_IS_TIMELINE (self), 0);
  return current_playhead (self);
}

/* ---- GObject ---- */

static void
ss_timeline_dispose (GObject *object)
{
  SsTimeline *self = SS_TIMELINE (object);

  g_clear_handle_id (&self->start_jobs_id, g_source_remove);
  if (self->pending != NULL)
    {
      for (guint i = 0; i < self->pending->len; i++)
        {
          PendingJob *pj = g_ptr_array_index (self->pending, i);
          g_clear_signal_handler (&pj->handler, pj->job);
          ss_job_cancel (pj->job);
        }
      g_ptr_array_set_size (self->pending, 0);
    }
  ss_timeline_set_transport (self, NULL);
  if (self->project != NULL)
    {
      g_clear_signal_handler (&self->changed_id, self->project);
      g_clear_object (&self->project);
    }
  g_clear_pointer (&self->menu, gtk_widget_unparent);
  g_clear_pointer (&self->rename, gtk_widget_unparent);
  self->rename_entry = NULL;
  g_clear_pointer (&self->hscroll, gtk_widget_unparent);
  g_clear_pointer (&self->vscroll, gtk_widget_unparent);
  G_OBJECT_CLASS (ss_timeline_parent_class)->dispose (object);
}

static void
ss_timeline_finalize (GObject *object)
{
  SsTimeline *self = SS_TIMELINE (object);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_clear_pointer (&self->visuals, g_hash_table_unref);
  g_clear_pointer (&self->snap_points, g_array_unref);
  g_clear_object (&self->layout);
  g_clear_object (&self->small_layout);
  g_free (self->selected);
  g_free (self->drag_clip);
  g_free (self->rename_track);
  G_OBJECT_CLASS (ss_timeline_parent_class)->finalize (object);
}

static void
ss_timeline_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  SsTimeline *self = SS_TIMELINE (object);
  switch (prop_id)
    {
    case PROP_PROJECT:       g_value_set_object (value, self->project); break;
    case PROP_TRANSPORT:     g_value_set_object (value, self->transport); break;
    case PROP_SELECTED_CLIP: g_value_set_string (value, self->selected); break;
    case PROP_ZOOM:          g_value_set_double (value, self->pps); break;
    case PROP_THUMBNAIL_HEIGHT: g_value_set_uint (value, self->thumb_height); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ss_timeline_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  SsTimeline *self = SS_TIMELINE (object);
  switch (prop_id)
    {
    case PROP_PROJECT:       ss_timeline_set_project (self, g_value_get_object (value)); break;
    case PROP_TRANSPORT:     ss_timeline_set_transport (self, g_value_get_object (value)); break;
    case PROP_SELECTED_CLIP: ss_timeline_set_selected_clip (self, g_value_get_string (value)); break;
    case PROP_ZOOM:          ss_timeline_set_zoom (self, g_value_get_double (value)); break;
    case PROP_THUMBNAIL_HEIGHT: ss_timeline_set_thumbnail_height (self, g_value_get_uint (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ss_timeline_css_changed (GtkWidget *widget, GtkCssStyleChange *change)
{
  SsTimeline *self = SS_TIMELINE (widget);
  GTK_WIDGET_CLASS (ss_timeline_parent_class)->css_changed (widget, change);
  g_clear_object (&self->layout);
  g_clear_object (&self->small_layout);
  self->layout = gtk_widget_create_pango_layout (widget, NULL);
  self->small_layout = gtk_widget_create_pango_layout (widget, NULL);
  pango_layout_set_ellipsize (self->layout, PANGO_ELLIPSIZE_END);
  pango_layout_set_ellipsize (self->small_layout, PANGO_ELLIPSIZE_END);
  PangoFontDescription *fd = pango_font_description_new ();
  pango_font_description_set_absolute_size (fd, 10 * PANGO_SCALE);
  pango_layout_set_font_description (self->small_layout, fd);
  pango_font_description_free (fd);
  gtk_widget_queue_draw (widget);
}

static void
ss_timeline_realize (GtkWidget *widget)
{
  static GdkDisplay *styled;
  GTK_WIDGET_CLASS (ss_timeline_parent_class)->realize (widget);
  /* The timeline is dark whatever the theme: keep its scrollbars on it. */
  GdkDisplay *display = gtk_widget_get_display (widget);
  if (styled != display)
    {
      styled = display;
      g_autoptr(GtkCssProvider) css = gtk_css_provider_new ();
      gtk_css_provider_load_from_data (css,
        "sstimeline > scrollbar { background-color: #18181b; border-color: #2c2c31; }"
        "sstimeline > scrollbar slider { background-color: rgba(255,255,255,0.35); }"
        "sstimeline > scrollbar slider:hover { background-color: rgba(255,255,255,0.5); }", -1);
      gtk_style_context_add_provider_for_display (display, GTK_STYLE_PROVIDER (css),
                                                  GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
    }
}

static void
ss_timeline_class_init (SsTimelineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ss_timeline_dispose;
  object_class->finalize = ss_timeline_finalize;
  object_class->get_property = ss_timeline_get_property;
  object_class->set_property = ss_timeline_set_property;
  widget_class->snapshot = ss_timeline_snapshot;
  widget_class->measure = ss_timeline_measure;
  widget_class->size_allocate = ss_timeline_size_allocate;
  widget_class->css_changed = ss_timeline_css_changed;
  widget_class->realize = ss_timeline_realize;

  props[PROP_PROJECT] = g_param_spec_object ("project", NULL, NULL, SS_TYPE_PROJECT,
                                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  props[PROP_TRANSPORT] = g_param_spec_object ("transport", NULL, NULL, SS_TYPE_TRANSPORT,
                                               G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  props[PROP_SELECTED_CLIP] = g_param_spec_string ("selected-clip", NULL, NULL, NULL,
                                                   G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  props[PROP_ZOOM] = g_param_spec_double ("zoom", NULL, NULL, SS_TIMELINE_MIN_ZOOM, SS_TIMELINE_MAX_ZOOM, 50,
                                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  props[PROP_THUMBNAIL_HEIGHT] = g_param_spec_uint ("thumbnail-height", NULL, NULL,
                                                   THUMB_HEIGHT_MIN, THUMB_HEIGHT_MAX, THUMB_HEIGHT_DEFAULT,
                                                   G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /* "error" (message): an edit was refused; the shell shows it as a toast. */
  signals[SIGNAL_ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                        0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_install_action (widget_class, "timeline.split", NULL, action_split);
  gtk_widget_class_install_action (widget_class, "timeline.delete", NULL, action_delete);
  gtk_widget_class_install_action (widget_class, "timeline.zoom-in", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "timeline.zoom-out", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "timeline.zoom-fit", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "timeline.next-take", NULL, action_next_take);
  gtk_widget_class_install_action (widget_class, "timeline.previous-take", NULL, action_previous_take);
  gtk_widget_class_install_action (widget_class, "timeline.add-audio-track", NULL, action_add_audio_track);
  gtk_widget_class_install_action (widget_class, "timeline.rename-track", "s", action_rename_track);
  gtk_widget_class_install_action (widget_class, "timeline.remove-track", "s", action_remove_track);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_s, 0, "timeline.split", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Delete, 0, "timeline.delete", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_t, 0, "timeline.next-take", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_T, GDK_SHIFT_MASK, "timeline.previous-take", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_equal, GDK_CONTROL_MASK, "timeline.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_plus, GDK_CONTROL_MASK, "timeline.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_minus, GDK_CONTROL_MASK, "timeline.zoom-out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_0, GDK_CONTROL_MASK, "timeline.zoom-fit", NULL);

  gtk_widget_class_set_css_name (widget_class, "sstimeline");
}

static void
ss_timeline_init (SsTimeline *self)
{
  GtkWidget *widget = GTK_WIDGET (self);

  self->pps = 50;
  self->thumb_height = THUMB_HEIGHT_DEFAULT;
  self->visuals = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) media_visual_free);
  self->pending = g_ptr_array_new_with_free_func (pending_job_free);
  self->snap_points = g_array_new (FALSE, FALSE, sizeof (SsTime));
  self->drag_track = -1;
  self->drag_to_track = -1;

  self->hadj = gtk_adjustment_new (0, 0, 1, 1, 1, 1);
  self->vadj = gtk_adjustment_new (0, 0, 1, 1, 1, 1);
  g_signal_connect (self->hadj, "value-changed", G_CALLBACK (hadj_changed_cb), self);
  g_signal_connect (self->vadj, "value-changed", G_CALLBACK (vadj_changed_cb), self);
  self->hscroll = gtk_scrollbar_new (GTK_ORIENTATION_HORIZONTAL, self->hadj);
  self->vscroll = gtk_scrollbar_new (GTK_ORIENTATION_VERTICAL, self->vadj);
  gtk_widget_set_parent (self->hscroll, widget);
  gtk_widget_set_parent (self->vscroll, widget);

  GtkGesture *drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), GDK_BUTTON_PRIMARY);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (drag_begin_cb), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (drag_update_cb), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (drag_end_cb), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (drag));

  GtkGesture *secondary = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (secondary), GDK_BUTTON_SECONDARY);
  g_signal_connect (secondary, "pressed", G_CALLBACK (secondary_pressed_cb), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (secondary));

  GtkGesture *primary = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (primary), GDK_BUTTON_PRIMARY);
  g_signal_connect (primary, "pressed", G_CALLBACK (primary_pressed_cb), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (primary));
  gtk_gesture_group (primary, drag);

  GtkEventController *motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (motion_cb), self);
  gtk_widget_add_controller (widget, motion);

  GtkEventController *scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_BOTH_AXES);
  g_signal_connect (scroll, "scroll", G_CALLBACK (scroll_cb), self);
  gtk_widget_add_controller (widget, scroll);

  gtk_widget_set_focusable (widget, TRUE);
  gtk_widget_set_hexpand (widget, TRUE);
  gtk_widget_set_vexpand (widget, TRUE);
  gtk_widget_set_overflow (widget, GTK_OVERFLOW_HIDDEN);

  self->layout = gtk_widget_create_pango_layout (widget, NULL);
  self->small_layout = gtk_widget_create_pango_layout (widget, NULL);
  update_actions (self);
}

GtkWidget *
ss_timeline_new (void)
{
  return g_object_new (SS_TYPE_TIMELINE, NULL);
}
