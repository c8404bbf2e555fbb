/* ss-preferences-window.h: preferences bound to GSettings. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define SS_TYPE_PREFERENCES_WINDOW (ss_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (SsPreferencesWindow, ss_preferences_window, SS, PREFERENCES_WINDOW, AdwPreferencesWindow)

SsPreferencesWindow *ss_preferences_window_new (GSettings *settings);

G_END_DECLS
