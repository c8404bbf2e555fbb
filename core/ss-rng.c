/* ss-rng.c: the project's deterministic PRNG (see ss-rng.h). */
#include "ss-rng.h"

#include <math.h>

/* ------------------------------------------------------------------------ */
/* PRNG: xoshiro256** seeded through splitmix64                             */

static guint64
splitmix64 (guint64 *x)
{
  guint64 z = (*x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void
ss_rng_init (SsRng *rng, guint64 seed)
{
  guint64 x = seed;
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&x);
}

static inline guint64
rotl (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

guint64
ss_rng_next (SsRng *rng)
{
  guint64 *s = rng->s;
  guint64 result = rotl (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

double
ss_rng_uniform (SsRng *rng)
{
  return (double) (ss_rng_next (rng) >> 11) * (1.0 / 9007199254740992.0);
}

double
ss_rng_range (SsRng *rng, double lo, double hi)
{
  return lo + (hi - lo) * ss_rng_uniform (rng);
}

int
ss_rng_int (SsRng *rng, int lo, int hi)
{
  if (hi <= lo)
    return lo;
  return lo + (int) (ss_rng_uniform (rng) * (double) (hi - lo + 1));
}

double
ss_rng_normal (SsRng *rng)
{
  double u1 = ss_rng_uniform (rng);
  double u2 = ss_rng_uniform (rng);
  if (u1 < 1e-300)
    u1 = 1e-300;
  return sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}
