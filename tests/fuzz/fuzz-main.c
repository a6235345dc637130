/* fuzz-main.c: replays files through a fuzz target without libFuzzer.
 *
 *   fuzz-TARGET FILE|DIR...
 *
 * Each FILE, and each file in each DIR, is one input, passed to
 * LLVMFuzzerTestOneInput() as libFuzzer would pass it. A crash or a
 * sanitizer report in the code under test ends the program; otherwise it
 * prints a TAP line per directory or file and exits 0. With no argument
 * it replays tests/fuzz/corpus/TARGET and tests/fuzz/crashes/TARGET
 * under $QGA_TEST_SRCDIR (what make check runs). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"

/* Targets that need no set-up do not define it. */
int LLVMFuzzerInitialize (int *argc, char ***argv) __attribute__ ((weak));

static guint n_tests;
static gboolean failed;

static guint
run_file (const char *path)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) error = NULL;
  gsize length;

  if (!g_file_get_contents (path, &data, &length, &error))
    {
      printf ("# %s\n", error->message);
      failed = TRUE;
      return 0;
    }
  LLVMFuzzerTestOneInput ((const uint8_t *) data, length);
  return 1;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
run_path (const char *path, gboolean must_exist)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) names = NULL;
  const char *name;
  guint count = 0;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      if (!must_exist && !g_file_test (path, G_FILE_TEST_EXISTS))
        return;
      count = run_file (path);
      printf ("%s %u - %s\n", count ? "ok" : "not ok", ++n_tests, path);
      return;
    }
  dir = g_dir_open (path, 0, NULL);
  names = g_ptr_array_new_with_free_func (g_free);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.')
      g_ptr_array_add (names, g_build_filename (path, name, NULL));
  g_ptr_array_sort (names, compare_names);   /* the same order every time */
  for (guint i = 0; i < names->len; i++)
    count += run_file (g_ptr_array_index (names, i));
  printf ("ok %u - %s: %u inputs\n", ++n_tests, path, count);
  fflush (stdout);
}

int
main (int argc, char **argv)
{
  g_autofree char *target = g_path_get_basename (argv[0]);

  if (g_str_has_prefix (target, "lt-"))
    memmove (target, target + 3, strlen (target + 3) + 1);
  if (LLVMFuzzerInitialize != NULL)
    LLVMFuzzerInitialize (&argc, &argv);
  for (int i = 1; i < argc; i++)
    if (argv[i][0] != '-')   /* --tap, from tests/dbus-run */
      run_path (argv[i], TRUE);
  if (n_tests == 0)
    {
      const char *srcdir = g_getenv ("QGA_TEST_SRCDIR");
      const char *name = g_str_has_prefix (target, "fuzz-") ? target + 5 : target;
      g_autofree char *corpus = NULL;
      g_autofree char *crashes = NULL;

      if (srcdir == NULL)
        {
          printf ("1..0 # SKIP QGA_TEST_SRCDIR is not set\n");
          return 0;
        }
      corpus = g_build_filename (srcdir, "fuzz", "corpus", name, NULL);
      crashes = g_build_filename (srcdir, "fuzz", "crashes", name, NULL);
      run_path (corpus, TRUE);
      run_path (crashes, FALSE);
    }
  printf ("1..%u\n", n_tests);
  return failed ? 1 : 0;
}
