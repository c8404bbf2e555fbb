/* ss-window.h: the main editor window. */
#pragma once

#include <adwaita.h>

#include "project/ss-project.h"
#include "ss-application.h"

G_BEGIN_DECLS

#define SS_TYPE_WINDOW (ss_window_get_type ())
G_DECLARE_FINAL_TYPE (SsWindow, ss_window, SS, WINDOW, AdwApplicationWindow)

SsWindow   *ss_window_new            (SsApplication *app);

/* Opens projects (*.soundstage) and imports every other file, asking first
 * about unsaved changes when a project replaces the current one. */
void        ss_window_open_files     (SsWindow *self, GFile **files, int n_files);

/* Direct API (no confirmation dialogs; used by the dialogs and by tests). */
gboolean    ss_window_load_project   (SsWindow *self, const char *path, GError **error);
void        ss_window_set_project    (SsWindow *self, SsProject *project);
gboolean    ss_window_save_project   (SsWindow *self, const char *path, GError **error);
/* Probes @file in a background job, then adds it to the pool and to the end of
 * the timeline; a file that cannot be read shows a toast. */
void        ss_window_import_file    (SsWindow *self, GFile *file);

/* Runs the export job (video to @path, or stems into the folder @path) in the
 * jobs popover; a toast tells how it ended. No overwrite question. */
void        ss_window_export         (SsWindow *self, const char *path, gboolean stems);

/* Check Sync (Ctrl+Shift+Y): shows the sync panel and checks the clip selected
 * on the timeline, else the one under the playhead. */
void        ss_window_check_sync     (SsWindow *self);
/* The SsSyncPanel. */
GtkWidget  *ss_window_get_sync_panel (SsWindow *self);

SsProject  *ss_window_get_project    (SsWindow *self);
/* The SsTransport (NULL when the build has no transport). */
GObject    *ss_window_get_transport  (SsWindow *self);
GtkWidget  *ss_window_get_timeline   (SsWindow *self);
guint       ss_window_get_n_imports_running (SsWindow *self);
/* The most recent toast text (for tests), or NULL. */
const char *ss_window_get_last_toast (SsWindow *self);
void        ss_window_toast          (SsWindow *self, const char *text);

/* Recovery file the current project autosaves to, and an immediate autosave
 * (writes only when the project is dirty). */
char       *ss_window_dup_recovery_path (SsWindow *self);
gboolean    ss_window_autosave_now   (SsWindow *self, GError **error);
/* The "Recover unsaved changes?" dialog while it is shown (tests), or NULL. */
AdwMessageDialog *ss_window_get_recovery_dialog (SsWindow *self);

G_END_DECLS
