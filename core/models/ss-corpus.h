/* ss-corpus.h: deterministic synthetic audio-visual clips.
 *
 * A clip is a small scene rendered by software: a background (gradient or
 * texture), actors whose visible events make matching sounds (balls that fall
 * and bounce -> impacts, lamps that flash -> clicks, sticks that strike bars ->
 * tonal partials, feet that step -> thuds), distractors that move without sound,
 * sounds without a visible cause, camera pan and shake, pixel and audio noise.
 * Every random choice comes from the clip's own PRNG seeded by
 * SsCorpusParams.seed, so the same parameters give the same bytes on the same
 * build. The clip carries its ground truth: the event list and the offset.
 *
 * Offset convention (the one of Synchformer's 21 classes): the sound of an event
 * that is seen at video time t is heard at audio time t - offset. A positive
 * offset means the audio leads (is early); delaying the audio by offset puts it
 * back in sync.
 *
 * Used by tests (clips in memory), tools/corpus (files on disk) and the sync
 * evaluation. Later models (foley, recommendation) train on the same corpus.
 */
#pragma once

#include <glib.h>
#include "ss-rng.h"

G_BEGIN_DECLS

typedef enum {
  SS_CORPUS_EVENT_IMPACT,   /* a falling ball hits the floor (bounce) */
  SS_CORPUS_EVENT_FLASH,    /* a lamp flashes: a click */
  SS_CORPUS_EVENT_STRIKE,   /* a stick strikes a bar: tonal partials */
  SS_CORPUS_EVENT_STEP,     /* a foot lands: a thud */
  SS_CORPUS_N_EVENT_KINDS
} SsCorpusEventKind;

#define SS_CORPUS_KIND_BIT(k)   (1u << (k))
#define SS_CORPUS_ALL_KINDS     ((1u << SS_CORPUS_N_EVENT_KINDS) - 1u)

typedef enum {
  SS_CORPUS_EASY,       /* static camera, no distractors, little noise */
  SS_CORPUS_MODERATE,   /* some camera motion, two distractors, one unseen sound */
  SS_CORPUS_HARD,       /* shaky panning camera, many distractors, silent look-alikes, noise */
} SsCorpusDifficulty;

typedef struct {
  guint64 seed;
  double  duration;         /* seconds */
  int     fps;              /* frames per second (25) */
  int     width, height;    /* frame size in pixels (even, >= 32) */
  int     sample_rate;      /* audio rate in Hz (16000 or 48000) */
  int     n_events;         /* at least this many audible events (actors are added until reached) */
  guint   kinds;            /* mask of SS_CORPUS_KIND_BIT(kind); 0 means all kinds */
  double  offset;           /* seconds, see the convention above; |offset| <= duration/2 */
  /* difficulty */
  int     n_distractors;    /* moving things that make no sound */
  int     n_silent;         /* actors that look like sound makers but are silent */
  int     n_unseen;         /* sounds with no visible cause */
  double  camera_motion;    /* 0 (tripod) .. 1 (hand-held, panning) */
  double  noise;            /* 0 .. 1: pixel noise and ambient audio noise */
} SsCorpusParams;

typedef struct {
  SsCorpusEventKind kind;
  double time;         /* video time of the visible contact (s) */
  double audio_time;   /* where its sound starts in the audio track: time - offset */
  double x, y;         /* where on screen it happens at that time (pixels) */
  double gain;         /* peak amplitude of its sound before the final normalization */
  int    actor;        /* index of the actor that made it */
} SsCorpusEvent;

typedef struct {
  SsCorpusParams params;
  int     n_frames;
  gsize   frame_size;      /* width * height * 4 */
  guint8 *rgba;            /* n_frames frames of RGBA, rows of width*4 bytes */
  gsize   n_samples;       /* mono audio */
  float  *audio;
  GArray *events;          /* of SsCorpusEvent, sorted by time */
} SsCorpusClip;

/* Defaults for a difficulty: 25 fps, 8 s, 224x224, 16 kHz, 6 events, all kinds,
 * offset 0. Set the seed and change what you need afterwards. */
void          ss_corpus_params_init (SsCorpusParams *params, SsCorpusDifficulty difficulty);

/* Renders a clip. Errors (SS_ERROR_INVALID_DATA) name the bad parameter. */
SsCorpusClip *ss_corpus_generate (const SsCorpusParams *params, GError **error);
void          ss_corpus_clip_free (SsCorpusClip *clip);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsCorpusClip, ss_corpus_clip_free)

static inline const guint8 *
ss_corpus_clip_frame (const SsCorpusClip *clip, int index)
{
  return clip->rgba + (gsize) index * clip->frame_size;
}

const char   *ss_corpus_event_kind_name (SsCorpusEventKind kind);
const char   *ss_corpus_difficulty_name (SsCorpusDifficulty difficulty);
gboolean      ss_corpus_difficulty_from_name (const char *name, SsCorpusDifficulty *out);

/* The label as JSON text: parameters, offset, events. @media_file may be NULL. */
char         *ss_corpus_clip_label_json (const SsCorpusClip *clip, const char *media_file);

/* Reads the offset (and, if @events is not NULL, the events) back from a label
 * written by ss_corpus_clip_label_json. */
gboolean      ss_corpus_label_load (const char *path, double *offset, GArray **events,
                                    char **media_file, GError **error);


G_END_DECLS
