/* ss-sync-panel.c: the sync panel (see ss-sync-panel.h). */
#define G_LOG_DOMAIN "ss-sync-panel"

#include "config.h"

#include <math.h>
#include <glib/gi18n.h>

#include "ss-sync-panel.h"
#include "ss-sync-plot.h"

/* What a check compares and what Apply moves: the clips as they were when the
 * check started (Apply refuses once they have moved). */
typedef struct {
  char      *video_clip;
  SsTime     video_start;
  GPtrArray *audio_clips;     /* char* ids */
  GArray    *audio_starts;    /* SsTime */
  char      *name;
} Target;

static void
target_free (Target *t)
{
  if (t == NULL)
    return;
  g_free (t->video_clip);
  g_ptr_array_unref (t->audio_clips);
  g_array_unref (t->audio_starts);
  g_free (t->name);
  g_free (t);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Target, target_free)

struct _SsSyncPanel
{
  GtkBox          parent_instance;

  /* template children */
  GtkLabel       *clip_label;
  GtkButton      *check_button;
  GtkButton      *cancel_button;
  GtkProgressBar *progress_bar;
  GtkLabel       *state_label;
  GtkBox         *result_box;
  GtkLabel       *offset_label;
  GtkLabel       *advice_label;
  GtkBox         *probs_bin;
  GtkLabel       *confidence_label;
  GtkLabel       *syncability_label;
  GtkLabel       *method_label;
  GtkLabel       *note_label;
  GtkDropDown    *method_dropdown;   /* Automatic, Signal processing, Sync model */
  GtkBox         *time_box;
  GtkButton      *apply_button;

  GtkWidget      *probs_plot;
  GtkWidget      *time_plot;

  SsProject      *project;
  SsJob          *job;
  Target         *pending;     /* target of the running job */
  Target         *target;      /* target of the result */
  SsSyncResult   *result;
};

G_DEFINE_FINAL_TYPE (SsSyncPanel, ss_sync_panel, GTK_TYPE_BOX)

enum { SIGNAL_TOAST, N_SIGNALS };
static guint signals[N_SIGNALS];

static void update_apply (SsSyncPanel *self);

static void
toast (SsSyncPanel *self, const char *text)
{
  g_signal_emit (self, signals[SIGNAL_TOAST], 0, text);
}

static void
set_state_text (SsSyncPanel *self, const char *text)
{
  gtk_label_set_label (self->state_label, text ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->state_label), text != NULL && text[0] != '\0');
}

/* ------------------------------------------------------------- targets */

static const SsMedia *
clip_media (SsProject *project, const SsClip *clip)
{
  const SsTake *take = ss_clip_get_active_take (clip);

  return take != NULL ? ss_project_find_media (project, take->media_id) : NULL;
}

static SsTime
overlap (const SsClip *a, const SsClip *b)
{
  return MIN (ss_clip_get_end (a), ss_clip_get_end (b)) - MAX (a->start, b->start);
}

/* The clip on tracks of @kind that overlaps @clip the most, preferring clips
 * of @media_id; NULL if none overlaps. */
static const SsClip *
best_partner (SsProject *project, const SsClip *clip, SsTrackKind kind, const char *media_id)
{
  const SsClip *best = NULL;
  SsTime best_overlap = 0;
  gboolean best_same = FALSE;

  for (guint i = 0; i < ss_project_get_n_tracks (project); i++)
    {
      const SsTrack *t = ss_project_get_track (project, i);
      if (t->kind != kind)
        continue;
      for (guint j = 0; j < t->clips->len; j++)
        {
          const SsClip *c = g_ptr_array_index (t->clips, j);
          const SsTake *take = ss_clip_get_active_take (c);
          SsTime o = overlap (c, clip);
          gboolean same = take != NULL && g_strcmp0 (take->media_id, media_id) == 0;
          if (o <= 0)
            continue;
          if (best == NULL || (same && !best_same) || (same == best_same && o > best_overlap))
            {
              best = c;
              best_overlap = o;
              best_same = same;
            }
        }
    }
  return best;
}

static char *
clip_display_name (SsProject *project, const SsClip *clip)
{
  const SsMedia *m = clip_media (project, clip);

  return m != NULL && m->path != NULL ? g_path_get_basename (m->path) : g_strdup (clip->id);
}

/* Works out what to compare for @clip_id and fills @req (strings borrowed
 * from the project, valid until its next edit). */
static Target *
resolve_target (SsProject *project, const char *clip_id, SsSyncRequest *req, GError **error)
{
  const SsTrack *track = NULL;
  const SsClip *clip = ss_project_find_clip (project, clip_id, &track);
  const SsClip *video, *audio;
  const SsMedia *vm, *am;
  const SsTake *vt, *at;
  g_autoptr(Target) t = NULL;
  g_autofree char *name = NULL;
  SsTime t0, t1, align;

  if (clip == NULL)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND, _("The clip to check is no longer on the timeline"));
      return NULL;
    }
  name = clip_display_name (project, clip);
  if (track->kind == SS_TRACK_VIDEO)
    {
      video = clip;
      vt = ss_clip_get_active_take (video);
      audio = best_partner (project, video, SS_TRACK_AUDIO, vt ? vt->media_id : NULL);
      if (audio == NULL)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       _("“%s” has no sound on the timeline to check its sync against"), name);
          return NULL;
        }
    }
  else
    {
      audio = clip;
      at = ss_clip_get_active_take (audio);
      video = best_partner (project, audio, SS_TRACK_VIDEO, at ? at->media_id : NULL);
      if (video == NULL)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       _("“%s” plays with no picture on the timeline to check its sync against"), name);
          return NULL;
        }
    }
  vt = ss_clip_get_active_take (video);
  at = ss_clip_get_active_take (audio);
  vm = clip_media (project, video);
  am = clip_media (project, audio);
  if (vm == NULL || am == NULL || vt == NULL || at == NULL)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND, _("The media of “%s” is not in the project"), name);
      return NULL;
    }
  if (vm->missing || am->missing)
    {
      g_autofree char *base = g_path_get_basename (vm->missing ? vm->path : am->path);
      g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND,
                   _("“%s” is missing; relink it before checking sync"), base);
      return NULL;
    }
  t0 = MAX (video->start, audio->start);
  t1 = MIN (ss_clip_get_end (video), ss_clip_get_end (audio));
  if (t1 - t0 + SS_TIME_MS < (SsTime) (SS_SYNC_WINDOW * SS_TIME_SECOND))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   _("The picture and sound of “%s” play together for %.1f s; checking sync needs at least %.1f s"),
                   name, MAX (ss_time_to_seconds (t1 - t0), 0.0), SS_SYNC_WINDOW);
      return NULL;
    }

  *req = (SsSyncRequest) {
    .video_path = vm->path,
    .video_start = vt->source_in + (t0 - video->start),
    .audio_path = am->path,
    .audio_start = at->source_in + (t0 - audio->start),
    .duration = t1 - t0,
    .method = SS_SYNC_METHOD_AUTO,   /* the panel's choice is set by the caller */
  };

  t = g_new0 (Target, 1);
  t->video_clip = g_strdup (video->id);
  t->video_start = video->start;
  t->audio_clips = g_ptr_array_new_with_free_func (g_free);
  t->audio_starts = g_array_new (FALSE, FALSE, sizeof (SsTime));
  t->name = clip_display_name (project, video);
  /* Apply moves every audio clip of that media that plays in step with this
   * one (a stereo pair split over tracks, say) */
  align = audio->start - at->source_in;
  for (guint i = 0; i < ss_project_get_n_tracks (project); i++)
    {
      const SsTrack *tr = ss_project_get_track (project, i);
      if (tr->kind != SS_TRACK_AUDIO)
        continue;
      for (guint j = 0; j < tr->clips->len; j++)
        {
          const SsClip *c = g_ptr_array_index (tr->clips, j);
          const SsTake *take = ss_clip_get_active_take (c);
          if (c != audio && (take == NULL || g_strcmp0 (take->media_id, at->media_id) != 0 ||
                             c->start - take->source_in != align || overlap (c, video) <= 0))
            continue;
          g_ptr_array_add (t->audio_clips, g_strdup (c->id));
          g_array_append_val (t->audio_starts, c->start);
        }
    }
  return g_steal_pointer (&t);
}

/* TRUE when every clip of @t is still where it was. */
static gboolean
target_unchanged (SsProject *project, const Target *t)
{
  const SsClip *c;

  if (project == NULL || t == NULL)
    return FALSE;
  c = ss_project_find_clip (project, t->video_clip, NULL);
  if (c == NULL || c->start != t->video_start)
    return FALSE;
  for (guint i = 0; i < t->audio_clips->len; i++)
    {
      c = ss_project_find_clip (project, g_ptr_array_index (t->audio_clips, i), NULL);
      if (c == NULL || c->start != g_array_index (t->audio_starts, SsTime, i))
        return FALSE;
    }
  return TRUE;
}

const char *
ss_sync_panel_find_clip_at (SsProject *project, SsTime position)
{
  const SsTrack *video;
  const SsClip *c;

  g_return_val_if_fail (SS_IS_PROJECT (project), NULL);
  video = ss_project_get_video_track (project);
  if (video != NULL && (c = ss_project_get_clip_at (project, video->id, position)) != NULL)
    return c->id;
  for (guint i = 0; i < ss_project_get_n_tracks (project); i++)
    {
      const SsTrack *t = ss_project_get_track (project, i);
      if (t->kind == SS_TRACK_AUDIO && (c = ss_project_get_clip_at (project, t->id, position)) != NULL)
        return c->id;
    }
  return NULL;
}

/* ------------------------------------------------------------- showing */

static void
show_running (SsSyncPanel *self, gboolean running)
{
  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), running);
  gtk_widget_set_visible (GTK_WIDGET (self->cancel_button), running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "sync.cancel", running);
  if (running)
    gtk_progress_bar_set_fraction (self->progress_bar, 0);
}

static char *
format_offset_headline (double offset)
{
  if (fabs (offset) < 0.0005)
    return g_strdup (_("In sync"));
  if (offset > 0)
    return g_strdup_printf (_("The audio is %.2f s early"), offset);
  return g_strdup_printf (_("The audio is %.2f s late"), -offset);
}

static void
show_result (SsSyncPanel *self)
{
  const SsSyncResult *r = self->result;
  g_autofree char *headline = NULL;
  g_autofree char *advice = NULL;
  g_autofree char *conf = NULL;
  g_autofree char *sync = NULL;
  g_autofree char *clip = NULL;
  double *times = NULL, *offsets = NULL, *confs = NULL;

  gtk_widget_set_visible (GTK_WIDGET (self->result_box), r != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->apply_button), r != NULL);
  if (r == NULL)
    {
      ss_sync_plot_set_probabilities (SS_SYNC_PLOT (self->probs_plot), NULL, -1);
      ss_sync_plot_set_over_time (SS_SYNC_PLOT (self->time_plot), 0, NULL, NULL, NULL, 0);
      update_apply (self);
      return;
    }
  headline = format_offset_headline (r->offset);
  gtk_label_set_label (self->offset_label, headline);
  if (fabs (r->offset) < 0.0005)
    advice = g_strdup (_("Nothing to move."));
  else
    advice = g_strdup_printf (r->offset > 0 ? _("Offset %+.2f s (class %+.1f s). Apply delays the audio by %.2f s.")
                                            : _("Offset %+.2f s (class %+.1f s). Apply moves the audio %.2f s earlier."),
                              r->offset, r->grid_offset, fabs (r->offset));
  gtk_label_set_label (self->advice_label, advice);
  clip = g_strdup_printf (_("Clip: %s (%.1f s analysed)"), r->name ? r->name : "", r->duration);
  gtk_label_set_label (self->clip_label, clip);

  conf = g_strdup_printf ("%.0f %%", 100.0 * r->confidence);
  gtk_label_set_label (self->confidence_label, conf);
  if (r->syncability_derived)
    sync = g_strdup_printf (_("%.0f %% (from the confidence)"), 100.0 * r->syncability);
  else
    sync = g_strdup_printf ("%.0f %%", 100.0 * r->syncability);
  gtk_label_set_label (self->syncability_label, sync);
  if (r->model_path != NULL)
    {
      g_autofree char *base = g_path_get_basename (r->model_path);
      g_autofree char *method = g_strdup_printf ("%s (%s)", ss_sync_method_display_name (r->method), base);
      gtk_label_set_label (self->method_label, method);
    }
  else
    gtk_label_set_label (self->method_label, ss_sync_method_display_name (r->method));
  gtk_label_set_label (self->note_label, r->note ? r->note : "");
  gtk_widget_set_visible (GTK_WIDGET (self->note_label), r->note != NULL);

  ss_sync_plot_set_probabilities (SS_SYNC_PLOT (self->probs_plot), r->probs, r->class_index);
  if (r->n_windows > 1)
    {
      times = g_new (double, r->n_windows);
      offsets = g_new (double, r->n_windows);
      confs = g_new (double, r->n_windows);
      for (int i = 0; i < r->n_windows; i++)
        {
          times[i] = r->window_start[i];
          offsets[i] = r->windows[i].offset;
          confs[i] = r->windows[i].confidence;
        }
    }
  ss_sync_plot_set_over_time (SS_SYNC_PLOT (self->time_plot), r->n_windows > 1 ? r->n_windows : 0,
                              times, offsets, confs, SS_SYNC_WINDOW);
  gtk_widget_set_visible (GTK_WIDGET (self->time_box), r->n_windows > 1);
  g_free (times);
  g_free (offsets);
  g_free (confs);
  update_apply (self);
}

static void
update_apply (SsSyncPanel *self)
{
  gboolean can = ss_sync_panel_can_apply (self);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "sync.apply", can);
  if (self->result == NULL || self->job != NULL)
    return;
  if (can)
    set_state_text (self, NULL);
  else if (self->target != NULL)
    set_state_text (self, _("The clips have moved since the check (or the offset was applied); check again to apply."));
}

/* --------------------------------------------------------------- the job */

static void
job_progress (SsSyncPanel *self)
{
  double p;
  g_autofree char *status = NULL;

  if (self->job == NULL)
    return;
  p = ss_job_get_progress (self->job);
  status = ss_job_dup_status (self->job);
  gtk_progress_bar_set_fraction (self->progress_bar, p < 0 ? 0 : p);
  gtk_progress_bar_set_text (self->progress_bar, status ? status : _("Checking…"));
}

static void
job_finished (SsJob *job, SsSyncPanel *self)
{
  g_autoptr(SsJob) done = NULL;
  g_autoptr(Target) pending = NULL;

  if (job != self->job)
    return;
  g_signal_handlers_disconnect_by_data (job, self);
  done = g_steal_pointer (&self->job);
  pending = g_steal_pointer (&self->pending);
  show_running (self, FALSE);

  switch (ss_job_get_state (done))
    {
    case SS_JOB_SUCCEEDED:
      g_clear_pointer (&self->result, ss_sync_result_free);
      g_clear_pointer (&self->target, target_free);
      self->result = ss_sync_result_copy (ss_job_get_result (done));
      self->target = g_steal_pointer (&pending);
      set_state_text (self, NULL);
      show_result (self);
      break;
    case SS_JOB_CANCELLED:
      set_state_text (self, _("Check cancelled. Nothing was changed."));
      show_result (self);
      break;
    default:
      {
        const GError *error = ss_job_get_error (done);
        g_autofree char *text = g_strdup_printf (_("Could not check sync: %s"),
                                                 error ? error->message : _("the job failed"));
        set_state_text (self, text);
        toast (self, text);
        show_result (self);
      }
      break;
    }
}

gboolean
ss_sync_panel_check_clip (SsSyncPanel *self, const char *clip_id, GError **error)
{
  SsSyncRequest req = { 0 };
  g_autoptr(Target) t = NULL;
  g_autofree char *label = NULL;

  g_return_val_if_fail (SS_IS_SYNC_PANEL (self), FALSE);
  g_return_val_if_fail (clip_id != NULL, FALSE);
  if (self->project == NULL)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND, _("No project is open"));
      return FALSE;
    }
  t = resolve_target (self->project, clip_id, &req, error);
  if (t == NULL)
    return FALSE;
  req.name = t->name;
  req.method = ss_sync_panel_get_method (self);

  if (self->job != NULL)
    {
      /* a check still running is replaced by this one */
      g_signal_handlers_disconnect_by_data (self->job, self);
      ss_job_cancel (self->job);
      g_clear_object (&self->job);
      g_clear_pointer (&self->pending, target_free);
    }
  /* A new check replaces the previous result. */
  g_clear_pointer (&self->result, ss_sync_result_free);
  g_clear_pointer (&self->target, target_free);
  show_result (self);

  self->job = ss_sync_job_new (&req);
  self->pending = g_steal_pointer (&t);
  g_signal_connect (self->job, "finished", G_CALLBACK (job_finished), self);
  g_signal_connect_swapped (self->job, "notify::progress", G_CALLBACK (job_progress), self);
  g_signal_connect_swapped (self->job, "notify::status", G_CALLBACK (job_progress), self);
  label = g_strdup_printf (_("Clip: %s"), self->pending->name);
  gtk_label_set_label (self->clip_label, label);
  set_state_text (self, NULL);
  show_running (self, TRUE);
  job_progress (self);
  ss_job_manager_add (ss_job_manager_get_default (), self->job);
  return TRUE;
}

void
ss_sync_panel_cancel (SsSyncPanel *self)
{
  g_return_if_fail (SS_IS_SYNC_PANEL (self));
  if (self->job == NULL)
    return;
  /* Cancelled through the job, so the jobs popover shows it too; the
   * finished handler resets the panel. */
  ss_job_cancel (self->job);
}

SsJob *
ss_sync_panel_get_job (SsSyncPanel *self)
{
  g_return_val_if_fail (SS_IS_SYNC_PANEL (self), NULL);
  return self->job;
}

const SsSyncResult *
ss_sync_panel_get_result (SsSyncPanel *self)
{
  g_return_val_if_fail (SS_IS_SYNC_PANEL (self), NULL);
  return self->result;
}

gboolean
ss_sync_panel_can_apply (SsSyncPanel *self)
{
  g_return_val_if_fail (SS_IS_SYNC_PANEL (self), FALSE);
  return self->result != NULL && self->job == NULL && target_unchanged (self->project, self->target);
}

/* ------------------------------------------------------------------ apply */

gboolean
ss_sync_panel_apply (SsSyncPanel *self, GError **error)
{
  SsProject *project;
  const Target *t;
  SsTime delta;
  guint64 revision;
  gboolean ok = TRUE;

  g_return_val_if_fail (SS_IS_SYNC_PANEL (self), FALSE);
  if (!ss_sync_panel_can_apply (self))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   _("The clips have moved since the sync check; check again before applying"));
      return FALSE;
    }
  project = self->project;
  t = self->target;
  /* delaying the audio by the offset puts it in sync (ss-sync.h) */
  delta = (SsTime) llround (self->result->offset * 1000.0) * SS_TIME_MS;
  if (delta == 0)
    return TRUE;

  /* check every move first, so a refused one changes nothing */
  for (guint i = 0; i < t->audio_clips->len; i++)
    {
      const SsTrack *track = NULL;
      const SsClip *c = ss_project_find_clip (project, g_ptr_array_index (t->audio_clips, i), &track);
      SsTime start = c->start + delta, duration = c->duration;
      if (start < 0)
        {
          duration += start;
          start = 0;
        }
      if (duration <= 0)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       _("The audio clip would move entirely before the start of the timeline"));
          return FALSE;
        }
      if (!ss_project_range_is_free (project, track->id, start, duration, c->id))
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       _("The audio cannot move by %+.2f s: it would overlap another clip on “%s”"),
                       ss_time_to_seconds (delta), track->name ? track->name : track->id);
          return FALSE;
        }
    }

  revision = ss_project_get_revision (project);
  ss_project_begin_group (project, _("Apply Sync Offset"));
  for (guint i = 0; i < t->audio_clips->len && ok; i++)
    {
      const char *id = g_ptr_array_index (t->audio_clips, i);
      const SsClip *c = ss_project_find_clip (project, id, NULL);
      SsTime start = c->start + delta;
      if (start < 0)
        {
          /* the head that would fall before 0 is cut off */
          SsTime cut = -start;
          ok = ss_project_trim_clip (project, id, c->start + cut, c->duration - cut, error) &&
               ss_project_move_clip (project, id, 0, NULL, error);
        }
      else
        ok = ss_project_move_clip (project, id, start, NULL, error);
    }
  ss_project_end_group (project);
  if (!ok && ss_project_get_revision (project) != revision)
    ss_project_undo (project);   /* back to the state before the group */
  update_apply (self);
  if (ok)
    {
      g_autofree char *text = g_strdup_printf (delta > 0 ? _("Audio delayed by %.2f s. Undo (Ctrl+Z) puts it back.")
                                                         : _("Audio moved %.2f s earlier. Undo (Ctrl+Z) puts it back."),
                                               fabs (ss_time_to_seconds (delta)));
      set_state_text (self, text);
    }
  return ok;
}

static void
apply_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  SsSyncPanel *self = SS_SYNC_PANEL (widget);
  g_autoptr(GError) error = NULL;

  if (!ss_sync_panel_apply (self, &error))
    {
      g_autofree char *text = g_strdup_printf (_("Could not apply the sync offset: %s"), error->message);
      toast (self, text);
    }
}

static void
cancel_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  ss_sync_panel_cancel (SS_SYNC_PANEL (widget));
}

/* --------------------------------------------------------------- project */

static void
project_changed (SsSyncPanel *self)
{
  update_apply (self);
}

void
ss_sync_panel_set_project (SsSyncPanel *self, SsProject *project)
{
  g_return_if_fail (SS_IS_SYNC_PANEL (self));
  g_return_if_fail (project == NULL || SS_IS_PROJECT (project));

  if (self->project == project)
    return;
  ss_sync_panel_cancel (self);
  if (self->job != NULL)
    {
      /* its result would belong to the old project */
      g_signal_handlers_disconnect_by_data (self->job, self);
      g_clear_object (&self->job);
      g_clear_pointer (&self->pending, target_free);
      show_running (self, FALSE);
    }
  if (self->project != NULL)
    g_signal_handlers_disconnect_by_data (self->project, self);
  g_set_object (&self->project, project);
  if (project != NULL)
    {
      g_signal_connect_swapped (project, "changed", G_CALLBACK (project_changed), self);
      g_signal_connect_swapped (project, "notify::revision", G_CALLBACK (project_changed), self);
    }
  g_clear_pointer (&self->result, ss_sync_result_free);
  g_clear_pointer (&self->target, target_free);
  gtk_label_set_label (self->clip_label,
                       _("Select a clip on the timeline, or put the playhead over one, then check its sync."));
  set_state_text (self, NULL);
  show_result (self);
}

int
ss_sync_panel_get_shown_class (SsSyncPanel *self)
{
  g_return_val_if_fail (SS_IS_SYNC_PANEL (self), -1);
  return gtk_widget_get_visible (GTK_WIDGET (self->result_box))
         ? ss_sync_plot_get_chosen (SS_SYNC_PLOT (self->probs_plot)) : -1;
}

int
ss_sync_panel_get_n_time_points (SsSyncPanel *self)
{
  g_return_val_if_fail (SS_IS_SYNC_PANEL (self), 0);
  return gtk_widget_get_visible (GTK_WIDGET (self->time_box))
         ? ss_sync_plot_get_n_points (SS_SYNC_PLOT (self->time_plot)) : 0;
}

/* ------------------------------------------------------------- lifecycle */

static void
ss_sync_panel_dispose (GObject *object)
{
  SsSyncPanel *self = SS_SYNC_PANEL (object);

  if (self->job != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->job, self);
      ss_job_cancel (self->job);
      g_clear_object (&self->job);
    }
  if (self->project != NULL)
    g_signal_handlers_disconnect_by_data (self->project, self);
  g_clear_object (&self->project);
  g_clear_pointer (&self->pending, target_free);
  g_clear_pointer (&self->target, target_free);
  g_clear_pointer (&self->result, ss_sync_result_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), SS_TYPE_SYNC_PANEL);
  G_OBJECT_CLASS (ss_sync_panel_parent_class)->dispose (object);
}

static void
ss_sync_panel_class_init (SsSyncPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ss_sync_panel_dispose;

  signals[SIGNAL_TOAST] = g_signal_new ("toast", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/soundstage/Soundstage/ss-sync-panel.ui");
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, clip_label);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, check_button);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, state_label);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, result_box);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, offset_label);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, advice_label);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, probs_bin);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, confidence_label);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, syncability_label);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, method_label);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, note_label);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, method_dropdown);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, time_box);
  gtk_widget_class_bind_template_child (widget_class, SsSyncPanel, apply_button);

  gtk_widget_class_install_action (widget_class, "sync.apply", NULL, apply_activated);
  gtk_widget_class_install_action (widget_class, "sync.cancel", NULL, cancel_activated);
}

static void
ss_sync_panel_init (SsSyncPanel *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->probs_plot = ss_sync_plot_new (SS_SYNC_PLOT_PROBABILITIES);
  gtk_box_append (self->probs_bin, self->probs_plot);
  self->time_plot = ss_sync_plot_new (SS_SYNC_PLOT_OVER_TIME);
  gtk_box_append (self->time_box, self->time_plot);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "sync.apply", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "sync.cancel", FALSE);
}

GtkWidget *
ss_sync_panel_new (void)
{
  return g_object_new (SS_TYPE_SYNC_PANEL, NULL);
}

/* The dropdown lists the methods in SsSyncMethod order (AUTO, SP, MODEL). */
SsSyncMethod
ss_sync_panel_get_method (SsSyncPanel *self)
{
  g_return_val_if_fail (SS_IS_SYNC_PANEL (self), SS_SYNC_METHOD_AUTO);
  guint i = gtk_drop_down_get_selected (self->method_dropdown);
  return i == 1 ? SS_SYNC_METHOD_SP : i == 2 ? SS_SYNC_METHOD_MODEL : SS_SYNC_METHOD_AUTO;
}

static gboolean
method_from_setting (GValue *value, GVariant *variant, gpointer user_data)
{
  SsSyncMethod m = SS_SYNC_METHOD_AUTO;
  ss_sync_method_from_string (g_variant_get_string (variant, NULL), &m);
  g_value_set_uint (value, m == SS_SYNC_METHOD_SP ? 1 : m == SS_SYNC_METHOD_MODEL ? 2 : 0);
  return TRUE;
}

static GVariant *
method_to_setting (const GValue *value, const GVariantType *type, gpointer user_data)
{
  guint i = g_value_get_uint (value);
  SsSyncMethod m = i == 1 ? SS_SYNC_METHOD_SP : i == 2 ? SS_SYNC_METHOD_MODEL : SS_SYNC_METHOD_AUTO;
  return g_variant_new_string (ss_sync_method_to_string (m));
}

/* The Method menu follows (and writes) a string key of settings: "auto",
 * "sp" or "model", so the choice is kept between sessions. */
void
ss_sync_panel_bind_method (SsSyncPanel *self, GSettings *settings, const char *key)
{
  g_return_if_fail (SS_IS_SYNC_PANEL (self));
  g_return_if_fail (G_IS_SETTINGS (settings));
  g_settings_bind_with_mapping (settings, key, self->method_dropdown, "selected", G_SETTINGS_BIND_DEFAULT,
                                method_from_setting, method_to_setting, NULL, NULL);
}

void
ss_sync_panel_set_method (SsSyncPanel *self, SsSyncMethod method)
{
  g_return_if_fail (SS_IS_SYNC_PANEL (self));
  gtk_drop_down_set_selected (self->method_dropdown, method == SS_SYNC_METHOD_SP ? 1
                                                     : method == SS_SYNC_METHOD_MODEL ? 2 : 0);
}
