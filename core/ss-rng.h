/* ss-rng.h: the project's deterministic PRNG (xoshiro256** seeded through
 * splitmix64). Used wherever results must be reproducible from a seed: the corpus
 * generator, weight initialisation, tests. Not for anything secret. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct { guint64 s[4]; } SsRng;

void    ss_rng_init    (SsRng *rng, guint64 seed);
guint64 ss_rng_next    (SsRng *rng);
double  ss_rng_uniform (SsRng *rng);                       /* [0, 1) */
double  ss_rng_range   (SsRng *rng, double lo, double hi); /* [lo, hi) */
int     ss_rng_int     (SsRng *rng, int lo, int hi);       /* [lo, hi] */
double  ss_rng_normal  (SsRng *rng);                       /* N(0, 1) */

G_END_DECLS
