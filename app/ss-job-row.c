/* ss-job-row.c: a row of the jobs popover bound to one SsJob. */
#define G_LOG_DOMAIN "ss-job-row"

#include "config.h"

#include <glib/gi18n.h>

#include "ss-job-row.h"

struct _SsJobRow
{
  GtkListBoxRow   parent_instance;

  SsJob          *job;
  GtkLabel       *title_label;
  GtkProgressBar *progress_bar;
  GtkLabel       *status_label;
  GtkButton      *cancel_button;
  guint           pulse_id;
};

G_DEFINE_FINAL_TYPE (SsJobRow, ss_job_row, GTK_TYPE_LIST_BOX_ROW)

char *
ss_job_describe (SsJob *job)
{
  g_autofree char *status = ss_job_dup_status (job);
  const GError *error;

  switch (ss_job_get_state (job))
    {
    case SS_JOB_PENDING:
      return g_strdup (_("Waiting"));
    case SS_JOB_RUNNING:
      if (status != NULL && status[0] != '\0')
        return g_steal_pointer (&status);
      return g_strdup (_("Running"));
    case SS_JOB_SUCCEEDED:
      return g_strdup (_("Done"));
    case SS_JOB_CANCELLED:
      return g_strdup (_("Cancelled"));
    case SS_JOB_FAILED:
      error = ss_job_get_error (job);
      return g_strdup (error != NULL ? error->message : _("Failed"));
    default:
      return g_strdup ("");
    }
}

static gboolean
pulse_cb (gpointer user_data)
{
  SsJobRow *self = SS_JOB_ROW (user_data);

  gtk_progress_bar_pulse (self->progress_bar);
  return G_SOURCE_CONTINUE;
}

static void
update (SsJobRow *self)
{
  SsJobState state = ss_job_get_state (self->job);
  double progress = ss_job_get_progress (self->job);
  gboolean active = state == SS_JOB_PENDING || state == SS_JOB_RUNNING;
  g_autofree char *text = ss_job_describe (self->job);

  gtk_label_set_label (self->title_label, ss_job_get_title (self->job));
  gtk_label_set_label (self->status_label, text);
  gtk_widget_set_visible (GTK_WIDGET (self->cancel_button), active);
  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), active);

  if (active && progress < 0)
    {
      if (self->pulse_id == 0)
        self->pulse_id = g_timeout_add (120, pulse_cb, self);
    }
  else
    {
      g_clear_handle_id (&self->pulse_id, g_source_remove);
      gtk_progress_bar_set_fraction (self->progress_bar,
                                     state == SS_JOB_SUCCEEDED ? 1.0 : CLAMP (progress, 0.0, 1.0));
    }

  if (state == SS_JOB_FAILED)
    gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->status_label), "error");
}

static void
cancel_clicked (SsJobRow *self)
{
  ss_job_cancel (self->job);
}

static void
ss_job_row_dispose (GObject *object)
{
  SsJobRow *self = SS_JOB_ROW (object);

  g_clear_handle_id (&self->pulse_id, g_source_remove);
  if (self->job != NULL)
    g_signal_handlers_disconnect_by_data (self->job, self);
  g_clear_object (&self->job);
  G_OBJECT_CLASS (ss_job_row_parent_class)->dispose (object);
}

static void
ss_job_row_class_init (SsJobRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ss_job_row_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/org/soundstage/Soundstage/ss-job-row.ui");
  gtk_widget_class_bind_template_child (widget_class, SsJobRow, title_label);
  gtk_widget_class_bind_template_child (widget_class, SsJobRow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, SsJobRow, status_label);
  gtk_widget_class_bind_template_child (widget_class, SsJobRow, cancel_button);
}

static void
ss_job_row_init (SsJobRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (cancel_clicked), self);
}

GtkWidget *
ss_job_row_new (SsJob *job)
{
  SsJobRow *self;

  g_return_val_if_fail (SS_IS_JOB (job), NULL);

  self = g_object_new (SS_TYPE_JOB_ROW, NULL);
  self->job = g_object_ref (job);
  /* Notifications arrive on the main context (see ss-job.h). */
  g_signal_connect_swapped (job, "notify", G_CALLBACK (update), self);
  g_signal_connect_swapped (job, "finished", G_CALLBACK (update), self);
  update (self);
  return GTK_WIDGET (self);
}

SsJob *
ss_job_row_get_job (SsJobRow *self)
{
  g_return_val_if_fail (SS_IS_JOB_ROW (self), NULL);
  return self->job;
}
