/* ss-job-row.h: one row of the jobs popover (title, progress, status, cancel). */
#pragma once

#include <gtk/gtk.h>
#include "jobs/ss-job.h"

G_BEGIN_DECLS

#define SS_TYPE_JOB_ROW (ss_job_row_get_type ())
G_DECLARE_FINAL_TYPE (SsJobRow, ss_job_row, SS, JOB_ROW, GtkListBoxRow)

GtkWidget *ss_job_row_new     (SsJob *job);
SsJob     *ss_job_row_get_job (SsJobRow *self);

/* Text shown under the title for a job in @state (with its status / error). */
char      *ss_job_describe    (SsJob *job);

G_END_DECLS
