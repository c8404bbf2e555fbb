/* Standalone driver for the fuzz targets when the compiler is not clang (no
 * libFuzzer): runs the target on every seed file given (directories are walked),
 * then on deterministic mutations of each seed (bit flips, byte overwrites,
 * truncations, insertions). A crash or sanitizer report fails the test. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
run_one (const guint8 *data, gsize len)
{
  /* Copy into an exact-size heap buffer so overreads are caught by tools. */
  guint8 *copy = g_malloc (len ? len : 1);
  memcpy (copy, data, len);
  LLVMFuzzerTestOneInput (copy, len);
  g_free (copy);
}

static void
mutate_and_run (const guint8 *seed, gsize len, guint32 rounds)
{
  GRand *rand = g_rand_new_with_seed (0x5eed + (guint32) len);
  for (guint32 i = 0; i < rounds; i++)
    {
      gsize n = len + 16;
      guint8 *buf = g_malloc (n);
      memcpy (buf, seed, len);
      gsize cur = len;
      int kind = g_rand_int_range (rand, 0, 4);
      int edits = g_rand_int_range (rand, 1, 8);
      for (int e = 0; e < edits && cur > 0; e++)
        {
          gsize at = g_rand_int_range (rand, 0, (gint32) cur);
          if (kind == 0)
            buf[at] ^= 1u << g_rand_int_range (rand, 0, 8);
          else if (kind == 1)
            buf[at] = (guint8) g_rand_int_range (rand, 0, 256);
          else if (kind == 2)
            cur = at;
          else if (cur < n)
            {
              memmove (buf + at + 1, buf + at, cur - at);
              buf[at] = "{}[]\",:0-9eE\\"[g_rand_int_range (rand, 0, 14)];
              cur++;
            }
        }
      run_one (buf, cur);
      g_free (buf);
    }
  g_rand_free (rand);
}

static void
run_path (const char *path, guint32 rounds)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      GDir *dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir && (name = g_dir_read_name (dir)))
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          run_path (child, rounds);
        }
      if (dir)
        g_dir_close (dir);
      return;
    }
  g_autofree char *contents = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &contents, &len, NULL))
    return;
  run_one ((const guint8 *) contents, len);
  mutate_and_run ((const guint8 *) contents, len, rounds);
}

int
main (int argc, char **argv)
{
  guint32 rounds = 2000;
  const char *env = g_getenv ("SS_FUZZ_ROUNDS");
  if (env)
    rounds = (guint32) g_ascii_strtoull (env, NULL, 10);
  run_one ((const guint8 *) "", 0);
  for (int i = 1; i < argc; i++)
    if (argv[i][0] != '-')
      run_path (argv[i], rounds);
  return 0;
}
