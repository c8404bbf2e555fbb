/* ss-sync-job.c: the "Check Sync" job (see ss-sync-job.h). */
#define G_LOG_DOMAIN "ss-sync-job"

#include "config.h"

#include <math.h>
#include <string.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ss-sync-job.h"
#include "media/ss-media.h"
#include "models/sync/ss-sync-sp.h"
#include "models/synchformer/ss-synchformer.h"

#define SP_RATE        16000
#define SP_SIZE        192
#define MAX_ANALYSED   (120 * SS_TIME_SECOND)   /* longer stretches: the first two minutes */

/* ------------------------------------------------------------ methods */

const char *
ss_sync_method_to_string (SsSyncMethod method)
{
  switch (method)
    {
    case SS_SYNC_METHOD_SP: return "sp";
    case SS_SYNC_METHOD_MODEL: return "model";
    case SS_SYNC_METHOD_AUTO:
    default: return "auto";
    }
}

gboolean
ss_sync_method_from_string (const char *name, SsSyncMethod *out)
{
  g_return_val_if_fail (out != NULL, FALSE);
  if (name == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (name, "auto") == 0)
    *out = SS_SYNC_METHOD_AUTO;
  else if (g_ascii_strcasecmp (name, "sp") == 0 || g_ascii_strcasecmp (name, "signal") == 0)
    *out = SS_SYNC_METHOD_SP;
  else if (g_ascii_strcasecmp (name, "model") == 0 || g_ascii_strcasecmp (name, "synchformer") == 0)
    *out = SS_SYNC_METHOD_MODEL;
  else
    return FALSE;
  return TRUE;
}

const char *
ss_sync_method_display_name (SsSyncMethod method)
{
  switch (method)
    {
    case SS_SYNC_METHOD_SP: return _("Signal processing (sound onsets × motion)");
    case SS_SYNC_METHOD_MODEL: return _("Synchformer model");
    case SS_SYNC_METHOD_AUTO:
    default: return _("Automatic");
    }
}

/* ------------------------------------------------------------- results */

void
ss_sync_result_free (SsSyncResult *result)
{
  if (result == NULL)
    return;
  g_free (result->model_path);
  g_free (result->note);
  g_free (result->name);
  g_free (result->window_start);
  g_free (result->windows);
  g_free (result);
}

SsSyncResult *
ss_sync_result_copy (const SsSyncResult *result)
{
  SsSyncResult *r;

  g_return_val_if_fail (result != NULL, NULL);
  r = g_memdup2 (result, sizeof *result);
  r->model_path = g_strdup (result->model_path);
  r->note = g_strdup (result->note);
  r->name = g_strdup (result->name);
  r->window_start = result->n_windows > 0 ? g_memdup2 (result->window_start, sizeof (double) * result->n_windows) : NULL;
  r->windows = result->n_windows > 0 ? g_memdup2 (result->windows, sizeof (SsSyncWindow) * result->n_windows) : NULL;
  return r;
}

void
ss_sync_result_top_classes (const SsSyncResult *result, int top[3])
{
  gboolean used[SS_SYNC_N_CLASSES] = { 0 };

  g_return_if_fail (result != NULL);
  for (int k = 0; k < 3; k++)
    {
      int best = -1;
      for (int i = 0; i < SS_SYNC_N_CLASSES; i++)
        if (!used[i] && (best < 0 || result->probs[i] > result->probs[best]))
          best = i;
      top[k] = best;
      used[best] = TRUE;
    }
}

/* --------------------------------------------------------- model lookup */

static char *
newest_model_in (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  char *best = NULL;
  gint64 best_mtime = G_MININT64;

  if (d == NULL)
    return NULL;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = NULL;
      GStatBuf st;
      if (!g_str_has_prefix (name, "sync-") || !g_str_has_suffix (name, ".safetensors"))
        continue;
      path = g_build_filename (dir, name, NULL);
      if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode))
        continue;
      if ((gint64) st.st_mtime > best_mtime ||
          ((gint64) st.st_mtime == best_mtime && g_strcmp0 (path, best) > 0))
        {
          best_mtime = st.st_mtime;
          g_free (best);
          best = g_steal_pointer (&path);
        }
    }
  return best;
}

static char *
model_from_settings (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autoptr(GSettings) settings = NULL;

  if (source == NULL)
    return NULL;
  schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);
  if (schema == NULL || !g_settings_schema_has_key (schema, "sync-model"))
    return NULL;
  settings = g_settings_new_full (schema, NULL, NULL);
  return g_settings_get_string (settings, "sync-model");
}

/* ss_sync_find_model; *chosen (if not NULL) tells whether the user named the
 * file ($SOUNDSTAGE_SYNC_MODEL or Preferences) rather than it being found in
 * the model folders. */
static char *
find_model (char **why, gboolean *chosen)
{
  const char *env = g_getenv ("SOUNDSTAGE_SYNC_MODEL");
  g_autofree char *configured = NULL;
  g_autofree char *user_dir = NULL;
  g_autofree char *src_dir = NULL;
  g_autofree char *build_dir = NULL;
  const char *dirs[4];

  if (why != NULL)
    *why = NULL;
  if (chosen != NULL)
    *chosen = TRUE;
  if (env != NULL && env[0] != '\0')
    {
      if (g_str_equal (env, "none"))
        {
          if (why != NULL)
            *why = g_strdup (_("the sync model is turned off (SOUNDSTAGE_SYNC_MODEL=none)"));
          return NULL;
        }
      if (g_file_test (env, G_FILE_TEST_IS_REGULAR))
        return g_strdup (env);
      if (why != NULL)
        *why = g_strdup_printf (_("the sync model “%s” (SOUNDSTAGE_SYNC_MODEL) does not exist"), env);
      return NULL;
    }
  configured = model_from_settings ();
  if (configured != NULL && configured[0] != '\0')
    {
      if (g_file_test (configured, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&configured);
      if (why != NULL)
        *why = g_strdup_printf (_("the sync model “%s” chosen in Preferences does not exist"), configured);
      return NULL;
    }

  if (chosen != NULL)
    *chosen = FALSE;
  user_dir = g_build_filename (g_get_user_data_dir (), "soundstage", "models", NULL);
  src_dir = g_build_filename (SS_SOURCE_DIR, "data", "models", NULL);
  build_dir = g_build_filename (SS_BUILD_DIR, "data", "models", NULL);
  dirs[0] = user_dir;
  dirs[1] = PKGDATADIR "/models";
  dirs[2] = src_dir;
  dirs[3] = build_dir;
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      char *found = newest_model_in (dirs[i]);
      if (found != NULL)
        return found;
    }
  if (why != NULL)
    *why = g_strdup (_("no sync model is installed (sync-*.safetensors)"));
  return NULL;
}

char *
ss_sync_find_model (char **why)
{
  return find_model (why, NULL);
}

/* ------------------------------------------------------------ decoding */

typedef struct {
  SsJob        *job;
  GCancellable *cancellable;
  double        base, span;      /* progress range of the current phase */
} Progress;

static void
progress_set (Progress *p, double fraction, const char *status)
{
  if (p->job != NULL)
    ss_job_set_progress (p->job, p->base + p->span * CLAMP (fraction, 0.0, 1.0), status);
}

static gboolean
check_cancelled (Progress *p, const char *name, GError **error)
{
  if (g_cancellable_is_cancelled (p->cancellable))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_CANCELLED, _("Sync check of “%s” cancelled"), name);
      return TRUE;
    }
  return FALSE;
}

static gboolean
probe_inputs (const SsSyncRequest *req, const char *audio_path, const char *name,
              SsTime *duration, GError **error)
{
  SsMedia v = { 0 }, a = { 0 };
  g_autofree char *vbase = g_path_get_basename (req->video_path);
  g_autofree char *abase = g_path_get_basename (audio_path);
  SsTime vdur, adur, dur;
  gboolean ok = FALSE;

  if (!g_file_test (req->video_path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND, _("“%s” does not exist"), vbase);
      return FALSE;
    }
  if (!ss_media_probe (req->video_path, &v, error))
    return FALSE;
  if (!v.has_video && !v.has_audio)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED, _("“%s” has neither picture nor sound"), vbase);
      goto out;
    }
  if (!v.has_video)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   _("“%s” is audio only; checking sync needs picture and sound"), vbase);
      goto out;
    }
  if (g_strcmp0 (audio_path, req->video_path) == 0)
    a = (SsMedia) { .has_audio = v.has_audio, .duration = v.duration };
  else
    {
      if (!g_file_test (audio_path, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND, _("“%s” does not exist"), abase);
          goto out;
        }
      if (!ss_media_probe (audio_path, &a, error))
        goto out;
    }
  if (!a.has_audio)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   _("“%s” has no audio stream; checking sync needs picture and sound"), abase);
      goto out;
    }
  vdur = v.duration - req->video_start;
  adur = a.duration - req->audio_start;
  dur = MIN (vdur, adur);
  if (req->duration > 0)
    dur = MIN (dur, req->duration);
  if (dur + SS_TIME_MS < (SsTime) (SS_SYNC_WINDOW * SS_TIME_SECOND))
    {
      if (g_strcmp0 (audio_path, req->video_path) == 0 && req->video_start == 0 && req->audio_start == 0)
        g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                     _("“%s” is %.1f s long; checking sync needs at least %.1f s"),
                     name, MAX (ss_time_to_seconds (dur), 0.0), SS_SYNC_WINDOW);
      else
        g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                     _("“%s” has %.1f s where picture and sound overlap; checking sync needs at least %.1f s"),
                     name, MAX (ss_time_to_seconds (dur), 0.0), SS_SYNC_WINDOW);
      goto out;
    }
  *duration = MIN (dur, MAX_ANALYSED);
  ok = TRUE;
out:
  ss_media_clear (&v);
  ss_media_clear (&a);
  return ok;
}

static float *
decode_audio (const char *path, SsTime start, SsTime duration, int rate, Progress *p,
              const char *name, gsize *n_out, GError **error)
{
  g_autoptr(SsAudioReader) reader = ss_audio_reader_new (path, rate, 1, error);
  gsize n = (gsize) (ss_time_to_seconds (duration) * rate);
  gsize chunk = (gsize) rate;   /* one second at a time */
  g_autofree float *samples = NULL;
  gsize got_real = 0;

  if (reader == NULL)
    return NULL;
  samples = g_new0 (float, MAX (n, 1));
  for (gsize done = 0; done < n; done += chunk)
    {
      gsize len = MIN (chunk, n - done);
      SsTime t = start + (SsTime) ((double) done * SS_TIME_SECOND / rate + 0.5);
      gssize r;
      if (check_cancelled (p, name, error))
        return NULL;
      r = ss_audio_reader_read (reader, t, samples + done, len, error);
      if (r < 0)
        return NULL;
      got_real += (gsize) r;
      progress_set (p, (double) (done + len) / n, _("Reading the sound"));
    }
  if (got_real == 0)
    {
      g_autofree char *base = g_path_get_basename (path);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, _("No sound could be decoded from “%s”"), base);
      return NULL;
    }
  *n_out = n;
  return g_steal_pointer (&samples);
}

/* Frames of the stretch, scaled so the short side is about @short_side
 * (max_side > 0: fitted into max_side × max_side instead). */
static GPtrArray *
decode_frames (const char *path, SsTime start, SsTime duration, int short_side, int max_side,
               Progress *p, const char *name, double *fps_out, GError **error)
{
  g_autoptr(SsVideoDecoder) dec = ss_video_decoder_new (path, error);
  g_autoptr(GPtrArray) frames = NULL;
  g_autofree char *base = g_path_get_basename (path);
  int num = 0, den = 0, w = 0, h = 0;
  double fps;
  gint64 n;

  if (dec == NULL)
    return NULL;
  ss_video_decoder_get_fps (dec, &num, &den);
  fps = (num > 0 && den > 0) ? (double) num / den : 25.0;
  if (fps < 1 || fps > 240)
    fps = 25.0;
  ss_video_decoder_get_size (dec, &w, &h);
  if (w <= 0 || h <= 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED, _("“%s” has no picture"), base);
      return NULL;
    }
  if (max_side > 0)
    ss_video_decoder_set_output_size (dec, max_side, max_side);
  else if (short_side > 0 && MIN (w, h) > short_side)
    {
      double scale = (double) short_side / MIN (w, h);
      int ow = (int) ceil (w * scale), oh = (int) ceil (h * scale);
      ss_video_decoder_set_output_size (dec, ow + (ow & 1), oh + (oh & 1));
    }

  n = (gint64) floor (ss_time_to_seconds (duration) * fps + 1e-6);
  frames = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_frame_unref);
  for (gint64 k = 0; k < n; k++)
    {
      /* a quarter into the frame: the frame shown at that time, whatever the rounding */
      SsTime t = start + (SsTime) (((double) k + 0.25) * SS_TIME_SECOND / fps);
      g_autoptr(GError) local = NULL;
      SsFrame *f;

      if (check_cancelled (p, name, error))
        return NULL;
      f = ss_video_decoder_get_frame (dec, t, &local);
      if (f == NULL)
        {
          /* a container may overstate its length by a frame or two */
          if (frames->len > 0 && (double) (n - k) < fps * 0.2)
            break;
          g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      if (frames->len > 0)
        {
          SsFrame *first = g_ptr_array_index (frames, 0);
          if (f->width != first->width || f->height != first->height)
            {
              ss_frame_unref (f);
              g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                           _("“%s” changes its picture size mid-stream, which the sync check does not support"), base);
              return NULL;
            }
        }
      g_ptr_array_add (frames, f);
      if ((k & 7) == 0 || k == n - 1)
        {
          g_autofree char *status = g_strdup_printf (_("Reading frame %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT),
                                                     k + 1, n);
          progress_set (p, (double) (k + 1) / n, status);
        }
    }
  if (frames->len < 2)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, _("No video frames could be decoded from “%s”"), base);
      return NULL;
    }
  *fps_out = fps;
  return g_steal_pointer (&frames);
}

/* ------------------------------------------------------------- analysis */

static SsSyncResult *
run_sp (GPtrArray *frames, double fps, const float *audio, gsize n_samples, const char *name,
        Progress *p, GError **error)
{
  SsFrame *first = g_ptr_array_index (frames, 0);
  g_autofree const guint8 **ptrs = g_new (const guint8 *, frames->len);
  g_autoptr(SsSyncSpResult) sp = NULL;
  SsSyncSpOptions opt;
  SsSyncSpVideo video;
  SsSyncResult *r;

  for (guint i = 0; i < frames->len; i++)
    ptrs[i] = ((SsFrame *) g_ptr_array_index (frames, i))->data;
  video = (SsSyncSpVideo) {
    .width = first->width, .height = first->height, .stride = first->stride,
    .n_frames = (int) frames->len, .fps = fps, .frames = ptrs,
  };
  ss_sync_sp_options_init (&opt);
  progress_set (p, 0.0, _("Comparing sound onsets with motion"));
  sp = ss_sync_sp_analyse (&video, audio, n_samples, SP_RATE, &opt, name, p->cancellable, error);
  if (sp == NULL)
    return NULL;

  r = g_new0 (SsSyncResult, 1);
  r->method = SS_SYNC_METHOD_SP;
  r->offset = sp->overall.offset;
  r->class_index = sp->overall.class_index;
  r->grid_offset = ss_sync_class_offset (r->class_index);
  memcpy (r->probs, sp->overall.probs, sizeof r->probs);
  r->confidence = CLAMP (sp->overall.confidence, 0.0, 1.0);
  /* The estimate has no notion of "synchronizable": a clear single correlation
   * peak is the closest thing it has. */
  r->syncability = r->confidence;
  r->syncability_derived = TRUE;
  r->start = sp->start;
  r->duration = sp->duration;
  r->n_windows = sp->n_windows;
  if (r->n_windows > 0)
    {
      r->window_start = g_new (double, r->n_windows);
      r->windows = g_new0 (SsSyncWindow, r->n_windows);
      for (int i = 0; i < r->n_windows; i++)
        {
          r->window_start[i] = sp->window_start[i];
          r->windows[i].offset = sp->windows[i].offset;
          r->windows[i].class_index = sp->windows[i].class_index;
          r->windows[i].confidence = sp->windows[i].confidence;
        }
    }
  progress_set (p, 1.0, NULL);
  return r;
}

static void
model_progress (double fraction, gpointer data)
{
  progress_set (data, fraction, _("Running the sync model"));
}

/* Offset between the best class and its neighbours, weighted by probability. */
static double
refine_offset (const double *probs, int best)
{
  double sum = 0, acc = 0;

  for (int i = MAX (best - 1, 0); i <= MIN (best + 1, SS_SYNC_N_CLASSES - 1); i++)
    {
      sum += probs[i];
      acc += probs[i] * ss_sync_class_offset (i);
    }
  return sum > 0 ? acc / sum : ss_sync_class_offset (best);
}

static SsSyncResult *
run_model (SsSynchformer *model, GPtrArray *frames, double fps, const float *audio, gsize n_samples,
           const char *name, Progress *p, GError **error)
{
  SsFrame *first = g_ptr_array_index (frames, 0);
  g_autofree const guint8 **ptrs = g_new (const guint8 *, frames->len);
  g_autoptr(SsSynchformerResult) sf = NULL;
  SsSynchformerOptions opt;
  SsSyncResult *r;

  for (guint i = 0; i < frames->len; i++)
    ptrs[i] = ((SsFrame *) g_ptr_array_index (frames, i))->data;
  ss_synchformer_options_init (&opt);
  opt.progress = model_progress;
  opt.progress_data = p;
  progress_set (p, 0.0, _("Running the sync model"));
  sf = ss_synchformer_analyse (model, ptrs, (int) frames->len, first->width, first->height, first->stride,
                               fps, audio, n_samples, &opt, name, p->cancellable, error);
  if (sf == NULL)
    return NULL;
  if (sf->overall.class_index < 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   _("The sync model predicts only synchronizability, not the offset"));
      return NULL;
    }

  r = g_new0 (SsSyncResult, 1);
  r->method = SS_SYNC_METHOD_MODEL;
  r->class_index = sf->overall.class_index;
  r->grid_offset = ss_sync_class_offset (r->class_index);
  memcpy (r->probs, sf->overall.probs, sizeof r->probs);
  r->offset = refine_offset (r->probs, r->class_index);
  r->confidence = CLAMP (r->probs[r->class_index], 0.0, 1.0);
  if (sf->overall.syncability >= 0)
    r->syncability = CLAMP (sf->overall.syncability, 0.0, 1.0);
  else
    {
      r->syncability = r->confidence;
      r->syncability_derived = TRUE;
    }
  r->start = sf->start;
  r->duration = sf->duration;
  if (sf->n_windows > 1)
    {
      r->n_windows = sf->n_windows;
      r->window_start = g_new (double, r->n_windows);
      r->windows = g_new0 (SsSyncWindow, r->n_windows);
      for (int i = 0; i < r->n_windows; i++)
        {
          const SsSynchformerEstimate *e = &sf->windows[i];
          r->window_start[i] = sf->window_start[i];
          r->windows[i].class_index = e->class_index;
          r->windows[i].offset = e->class_index >= 0 ? refine_offset (e->probs, e->class_index) : 0;
          r->windows[i].confidence = e->class_index >= 0 ? e->probs[e->class_index] : 0;
        }
    }
  progress_set (p, 1.0, NULL);
  return r;
}

/* fp16 storage on GPUs with tensor cores (the reference model runs 2.5x faster
 * on an H100 than in fp32, with the same offsets in the parity checks); fp32
 * elsewhere, where fp16 gains nothing. SOUNDSTAGE_SYNC_DTYPE=f16|f32 overrides.
 * A failed conversion keeps fp32. */
static void
use_model_dtype (SsSynchformer *model)
{
  const char *env = g_getenv ("SOUNDSTAGE_SYNC_DTYPE");
  gboolean f16;
  if (env != NULL)
    f16 = g_strcmp0 (env, "f16") == 0;
  else
    {
      SsGpuDevice *dev = ss_gpu_device_get_default (NULL);
      f16 = dev != NULL && ss_gpu_device_use_coopmat (dev);
    }
  g_autoptr(GError) local = NULL;
  if (f16 && !ss_synchformer_set_dtype (model, SS_DTYPE_F16, &local))
    g_warning ("sync model kept in fp32: %s", local->message);
}

/* TRUE (with a note for the user) when the model's file records that it was
 * less accurate than the signal-processing estimate on the same held-out clips
 * (the trainer writes both figures); files without the record (converted public
 * weights) are trusted. */
static gboolean
model_is_worse_than_sp (SsSynchformer *model, char **note)
{
  double m = 0, sp = 0;
  if (!ss_synchformer_get_heldout_accuracy (model, &m, &sp) || m >= sp)
    return FALSE;
  *note = g_strdup_printf (_("Signal-processing estimate used: it found the offset of %.0f %% of the "
                             "held-out test clips, the installed sync model only %.0f %% (choose the "
                             "Sync model method, or --method model, to use it anyway)"), 100 * sp, 100 * m);
  return TRUE;
}

SsSyncResult *
ss_sync_analyse (const SsSyncRequest *req, SsJob *job, GError **error)
{
  const char *audio_path;
  g_autofree char *name = NULL;
  g_autofree char *model_path = NULL;
  g_autofree char *note = NULL;
  g_autoptr(SsSynchformer) model = NULL;
  g_autoptr(GPtrArray) frames = NULL;
  g_autofree float *audio = NULL;
  gsize n_samples = 0;
  double fps = 25;
  SsTime duration = 0;
  SsSyncMethod method;
  Progress p = { 0 };
  SsSyncResult *r;
  int rate = SP_RATE, short_side = 0, max_side = SP_SIZE;

  g_return_val_if_fail (req != NULL && req->video_path != NULL, NULL);
  audio_path = req->audio_path != NULL ? req->audio_path : req->video_path;
  name = req->name != NULL ? g_strdup (req->name) : g_path_get_basename (req->video_path);
  p.job = job;
  p.cancellable = job != NULL ? ss_job_get_cancellable (job) : NULL;

  p.base = 0.0, p.span = 0.02;
  progress_set (&p, 0.0, _("Opening the media"));
  if (!probe_inputs (req, audio_path, name, &duration, error))
    return NULL;

  /* the method */
  method = req->method;
  if (method != SS_SYNC_METHOD_SP)
    {
      g_autofree char *why = NULL;
      gboolean chosen = TRUE;   /* a path in the request is the caller's choice */
      model_path = req->model_path != NULL ? g_strdup (req->model_path) : find_model (&why, &chosen);
      if (model_path == NULL)
        {
          if (method == SS_SYNC_METHOD_MODEL)
            {
              g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND,
                           _("The sync model cannot be used: %s"), why ? why : _("none is installed"));
              return NULL;
            }
          note = g_strdup_printf (_("Signal-processing estimate used: %s"), why ? why : _("no sync model is installed"));
          method = SS_SYNC_METHOD_SP;
        }
      else
        {
          g_autoptr(GError) local = NULL;
          progress_set (&p, 0.5, _("Loading the sync model"));
          model = ss_synchformer_load (NULL, model_path, &local);
          if (model == NULL)
            {
              if (method == SS_SYNC_METHOD_MODEL)
                {
                  g_propagate_error (error, g_steal_pointer (&local));
                  return NULL;
                }
              note = g_strdup_printf (_("Signal-processing estimate used: the sync model could not be loaded (%s)"),
                                      local->message);
              g_clear_pointer (&model_path, g_free);
              method = SS_SYNC_METHOD_SP;
            }
          else if (method == SS_SYNC_METHOD_AUTO && !chosen && model_is_worse_than_sp (model, &note))
            {
              g_clear_pointer (&model, ss_synchformer_free);
              g_clear_pointer (&model_path, g_free);
              method = SS_SYNC_METHOD_SP;
            }
          else
            {
              const SsSynchformerConfig *c = ss_synchformer_get_config (model);
              use_model_dtype (model);
              method = SS_SYNC_METHOD_MODEL;
              rate = c->sample_rate;
              short_side = c->resize_side;
              max_side = 0;
            }
        }
    }

  p.base = 0.02, p.span = 0.08;
  audio = decode_audio (audio_path, req->audio_start, duration, rate, &p, name, &n_samples, error);
  if (audio == NULL)
    return NULL;
  p.base = 0.10, p.span = 0.50;
  frames = decode_frames (req->video_path, req->video_start, duration, short_side, max_side, &p, name, &fps, error);
  if (frames == NULL)
    return NULL;

  p.base = 0.60, p.span = 0.40;
  if (method == SS_SYNC_METHOD_MODEL)
    r = run_model (model, frames, fps, audio, n_samples, name, &p, error);
  else
    r = run_sp (frames, fps, audio, n_samples, name, &p, error);
  if (r == NULL)
    return NULL;
  if (check_cancelled (&p, name, error))
    {
      ss_sync_result_free (r);
      return NULL;
    }
  r->model_path = g_steal_pointer (&model_path);
  r->note = g_steal_pointer (&note);
  r->name = g_steal_pointer (&name);
  return r;
}

/* ------------------------------------------------------------------ job */

typedef struct {
  char        *video_path, *audio_path, *model_path, *name;
  SsSyncRequest req;
} JobData;

static void
job_data_free (gpointer data)
{
  JobData *d = data;

  g_free (d->video_path);
  g_free (d->audio_path);
  g_free (d->model_path);
  g_free (d->name);
  g_free (d);
}

static gboolean
job_func (SsJob *job, gpointer user_data, GError **error)
{
  JobData *d = user_data;
  SsSyncResult *r = ss_sync_analyse (&d->req, job, error);

  if (r == NULL)
    return FALSE;
  ss_job_set_result (job, r, (GDestroyNotify) ss_sync_result_free);
  return TRUE;
}

SsJob *
ss_sync_job_new (const SsSyncRequest *request)
{
  JobData *d;
  g_autofree char *title = NULL;

  g_return_val_if_fail (request != NULL && request->video_path != NULL, NULL);
  d = g_new0 (JobData, 1);
  d->req = *request;
  d->video_path = g_strdup (request->video_path);
  d->audio_path = g_strdup (request->audio_path);
  d->model_path = g_strdup (request->model_path);
  d->name = request->name != NULL ? g_strdup (request->name) : g_path_get_basename (request->video_path);
  d->req.video_path = d->video_path;
  d->req.audio_path = d->audio_path;
  d->req.model_path = d->model_path;
  d->req.name = d->name;
  title = g_strdup_printf (_("Checking sync of “%s”"), d->name);
  return ss_job_new (title, job_func, d, job_data_free);
}
