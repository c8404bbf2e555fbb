#include "ss-types.h"

G_DEFINE_QUARK (soundstage-error-quark, ss_error)
