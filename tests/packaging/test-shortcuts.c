/* test-shortcuts.c: every keyboard shortcut the application binds is listed in
 * the Keyboard Shortcuts window (ui/help-overlay.ui), and the window lists no
 * shortcut that does nothing. */
#include <gtk/gtk.h>

#include "ss-application.h"

typedef struct {
  GString   *text;
  gboolean   in_accel;
  GPtrArray *accels;   /* of char*, as written in the .ui */
} Parse;

static void
start_element (GMarkupParseContext *ctx, const char *name, const char **attr_names,
               const char **attr_values, gpointer user_data, GError **error)
{
  Parse *p = user_data;

  if (g_str_equal (name, "property"))
    for (int i = 0; attr_names[i] != NULL; i++)
      if (g_str_equal (attr_names[i], "name") && g_str_equal (attr_values[i], "accelerator"))
        {
          p->in_accel = TRUE;
          g_string_truncate (p->text, 0);
        }
}

static void
end_element (GMarkupParseContext *ctx, const char *name, gpointer user_data, GError **error)
{
  Parse *p = user_data;

  if (p->in_accel && g_str_equal (name, "property"))
    {
      g_auto(GStrv) parts = g_strsplit (p->text->str, " ", -1);
      for (int i = 0; parts[i] != NULL; i++)
        if (parts[i][0] != '\0')
          g_ptr_array_add (p->accels, g_strdup (parts[i]));
      p->in_accel = FALSE;
    }
}

static void
text (GMarkupParseContext *ctx, const char *t, gsize len, gpointer user_data, GError **error)
{
  Parse *p = user_data;

  if (p->in_accel)
    g_string_append_len (p->text, t, len);
}

static gboolean
same_accel (const char *a, const char *b)
{
  guint ka = 0, kb = 0;
  GdkModifierType ma = 0, mb = 0;

  g_assert_true (gtk_accelerator_parse (a, &ka, &ma));
  g_assert_true (gtk_accelerator_parse (b, &kb, &mb));
  return gdk_keyval_to_lower (ka) == gdk_keyval_to_lower (kb) && ma == mb;
}

static const char *ui_path;

static void
test_shortcuts_listed (void)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMarkupParseContext) ctx = NULL;
  GMarkupParser parser = { start_element, end_element, text, NULL, NULL };
  Parse p = { g_string_new (NULL), FALSE, g_ptr_array_new_with_free_func (g_free) };
  const SsAccelEntry *accels;
  guint n;

  g_assert_true (g_file_get_contents (ui_path, &contents, NULL, &error));
  ctx = g_markup_parse_context_new (&parser, 0, &p, NULL);
  g_assert_true (g_markup_parse_context_parse (ctx, contents, -1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (p.accels->len, >, 20);

  accels = ss_application_get_accels (&n);
  /* bound -> listed */
  for (guint i = 0; i < n; i++)
    for (guint j = 0; accels[i].accels[j] != NULL; j++)
      {
        gboolean found = FALSE;
        for (guint k = 0; k < p.accels->len && !found; k++)
          found = same_accel (accels[i].accels[j], g_ptr_array_index (p.accels, k));
        if (!found)
          g_error ("%s (%s) is not in the shortcuts window", accels[i].accels[j], accels[i].action);
      }
  /* listed -> bound */
  for (guint k = 0; k < p.accels->len; k++)
    {
      gboolean found = FALSE;
      for (guint i = 0; i < n && !found; i++)
        for (guint j = 0; accels[i].accels[j] != NULL && !found; j++)
          found = same_accel (accels[i].accels[j], g_ptr_array_index (p.accels, k));
      if (!found)
        g_error ("the shortcuts window lists %s, which nothing binds",
                 (const char *) g_ptr_array_index (p.accels, k));
    }
  g_string_free (p.text, TRUE);
  g_ptr_array_unref (p.accels);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (argc, ==, 2);
  ui_path = argv[1];
  g_test_add_func ("/shortcuts/listed", test_shortcuts_listed);
  return g_test_run ();
}
