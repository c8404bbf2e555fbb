/* ss-application.h: the Soundstage GtkApplication (AdwApplication). */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define SS_TYPE_APPLICATION (ss_application_get_type ())
G_DECLARE_FINAL_TYPE (SsApplication, ss_application, SS, APPLICATION, AdwApplication)

SsApplication *ss_application_new          (GApplicationFlags extra_flags);
GSettings     *ss_application_get_settings (SsApplication *self);

/* The accelerators the application binds, for the shortcuts window test:
 * NULL-terminated array of { action, accel, accel, ..., NULL } rows. */
typedef struct {
  const char *action;
  const char *accels[4];
} SsAccelEntry;
const SsAccelEntry *ss_application_get_accels (guint *n_entries);

G_END_DECLS
