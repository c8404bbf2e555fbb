/* ss-sync-sp-media.c: the signal-processing sync estimate on a media file.
 * Kept apart from ss-sync-sp.c so that programs that analyse arrays do not pull
 * in the FFmpeg side of core/media. */
#define G_LOG_DOMAIN "ss-sync-sp"

#include "ss-sync-sp.h"
#include "ss-types.h"
#include "media/ss-media.h"

#include <math.h>

#define ANALYSIS_RATE   16000
#define ANALYSIS_WIDTH  192

SsSyncSpResult *
ss_sync_sp_analyse_file (const char *path, const SsSyncSpOptions *opt, GCancellable *cancellable,
                         GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autofree char *base = g_path_get_basename (path);
  SsMedia info = { 0 };
  if (!ss_media_probe (path, &info, error))
    return NULL;
  gboolean has_video = info.has_video, has_audio = info.has_audio;
  double duration = ss_time_to_seconds (info.duration);
  ss_media_clear (&info);
  if (!has_audio && !has_video)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED, "“%s” has neither picture nor sound", base);
      return NULL;
    }
  if (!has_audio)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   "“%s” has no audio stream; sync analysis needs picture and sound", base);
      return NULL;
    }
  if (!has_video)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   "“%s” is audio only; sync analysis needs picture and sound", base);
      return NULL;
    }
  if (duration + 1e-3 < SS_SYNC_WINDOW)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "“%s” is %.1f s long; sync analysis needs at least %.1f s", base, duration, SS_SYNC_WINDOW);
      return NULL;
    }

  g_autofree float *audio = NULL;
  gsize n_samples = 0;
  if (!ss_audio_decode_all (path, ANALYSIS_RATE, 1, &audio, &n_samples, cancellable, error))
    return NULL;

  g_autoptr (SsVideoDecoder) dec = ss_video_decoder_new (path, error);
  if (dec == NULL)
    return NULL;
  ss_video_decoder_set_output_size (dec, ANALYSIS_WIDTH, ANALYSIS_WIDTH);
  int num = 0, den = 0;
  ss_video_decoder_get_fps (dec, &num, &den);
  double fps = (num > 0 && den > 0) ? (double) num / den : 25.0;
  gint64 n_expected = (gint64) floor (duration * fps + 1e-6);
  g_autoptr (GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_frame_unref);
  for (gint64 i = 0; i < n_expected; i++)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      g_autoptr (GError) local = NULL;
      SsFrame *f = ss_video_decoder_get_frame_index (dec, i, &local);
      if (f == NULL)
        {
          /* the container's duration can overstate the last frame: keep what decoded */
          if (frames->len >= 2)
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
                           "“%s” changes its picture size mid-stream, which sync analysis does not support", base);
              return NULL;
            }
        }
      g_ptr_array_add (frames, f);
    }
  if (frames->len < 2)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "No video frames could be decoded from “%s”", base);
      return NULL;
    }
  SsFrame *first = g_ptr_array_index (frames, 0);
  g_autofree const guint8 **ptrs = g_new (const guint8 *, frames->len);
  for (guint i = 0; i < frames->len; i++)
    ptrs[i] = ((SsFrame *) g_ptr_array_index (frames, i))->data;
  SsSyncSpVideo v = {
    .width = first->width, .height = first->height, .stride = first->stride,
    .n_frames = (int) frames->len, .fps = fps, .frames = ptrs,
  };
  return ss_sync_sp_analyse (&v, audio, n_samples, ANALYSIS_RATE, opt, base, cancellable, error);
}
