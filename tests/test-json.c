/* test-json.c: qga_json_parse(), our strict parser, must accept valid JSON
 * and build exactly the tree json-glib builds, reject what is not JSON,
 * and never accept anything json-glib rejects. Compared on generated
 * documents and on mutations of them (seeded, repeatable). */
#include "config.h"

#include <string.h>

#include "qga-json.h"

#define DOCUMENTS 10000
#define MUTATIONS_PER_DOCUMENT 8

static void append_value (GString *out, GRand *rand, guint depth);

static void
append_string (GString *out, GRand *rand)
{
  static const char *const pieces[] = { "a", "host-ping", "é", "日本", " ", "\\n", "\\\"",
                                        "\\u0041", "'", "{", "]", ":", ",", "\\/" };
  guint n = g_rand_int_range (rand, 0, 5);

  g_string_append_c (out, '"');
  for (guint i = 0; i < n; i++)
    g_string_append (out, pieces[g_rand_int_range (rand, 0, G_N_ELEMENTS (pieces))]);
  g_string_append_c (out, '"');
}

static void
append_container (GString *out, GRand *rand, guint depth, gboolean object)
{
  guint n = g_rand_int_range (rand, 0, 4);

  g_string_append_c (out, object ? '{' : '[');
  for (guint i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append (out, g_rand_boolean (rand) ? "," : " , ");
      if (object)
        {
          append_string (out, rand);
          g_string_append (out, g_rand_boolean (rand) ? ":" : " : ");
        }
      append_value (out, rand, depth + 1);
    }
  g_string_append_c (out, object ? '}' : ']');
}

static void
append_value (GString *out, GRand *rand, guint depth)
{
  static const char *const scalars[] = { "0", "-1", "42", "9223372036854775807", "-9223372036854775808",
                                         "1.5", "1e3", "-0.25E-2", "true", "false", "null" };
  guint kind = g_rand_int_range (rand, 0, depth > 4 ? 2 : 4);

  if (kind == 0)
    g_string_append (out, scalars[g_rand_int_range (rand, 0, G_N_ELEMENTS (scalars))]);
  else if (kind == 1)
    append_string (out, rand);
  else
    append_container (out, rand, depth, kind == 2);
}

/* Replace, drop or insert one byte, or cut the text short. */
static void
mutate (GString *text, GRand *rand)
{
  static const char alphabet[] = "{}[]:,\"'\\ 0-1.eEtnfaxu";
  guint at = text->len ? g_rand_int_range (rand, 0, text->len) : 0;
  char c = alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)];

  switch (g_rand_int_range (rand, 0, 4))
    {
    case 0:
      if (text->len)
        text->str[at] = c;
      break;
    case 1:
      g_string_erase (text, at, text->len ? 1 : 0);
      break;
    case 2:
      g_string_insert_c (text, at, c);
      break;
    default:
      g_string_truncate (text, at);
      break;
    }
}

/* json-glib 1.6 leaks the partial tree of a text it rejects, so it is
 * only asked about texts we accept: it must accept them too, with the
 * same tree in the same order. Texts with a single quote are QEMU's
 * extension, which json-glib handles differently; see test_single_quotes. */
static gboolean
parses_like_json_glib (const char *text, gsize length)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ours = qga_json_parse (text, length, &error);
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *ours_text = NULL;
  g_autofree char *theirs_text = NULL;

  if (ours == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (g_error_matches (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE));
      return FALSE;
    }
  if (memchr (text, '\'', length) != NULL)
    return TRUE;
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, length, NULL) || json_parser_get_root (parser) == NULL)
    g_error ("accepted what json-glib rejects: %.*s", (int) length, text);
  ours_text = json_to_string (ours, FALSE);
  theirs_text = json_to_string (json_parser_get_root (parser), FALSE);
  if (!json_node_equal (ours, json_parser_get_root (parser)) || g_strcmp0 (ours_text, theirs_text) != 0)
    g_error ("a different tree from json-glib's: %.*s", (int) length, text);
  return TRUE;
}

/* Only valid UTF-8 reaches qga_json_parse(): qga_wire_parse() checks it. */
static void
check_mutation (const char *text, gsize length)
{
  if (g_utf8_validate (text, length, NULL))
    parses_like_json_glib (text, length);
}

static void
test_differential (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261127);

  for (guint d = 0; d < DOCUMENTS; d++)
    {
      g_autoptr(GString) text = g_string_new (NULL);

      append_value (text, rand, 0);
      if (!parses_like_json_glib (text->str, text->len))
        g_error ("rejected valid JSON: %s", text->str);
      for (guint m = 0; m < MUTATIONS_PER_DOCUMENT; m++)
        {
          mutate (text, rand);
          check_mutation (text->str, text->len);
        }
    }
}

static void
test_accepted (void)
{
  static const char *const texts[] = {
    "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1234},\"id\":\"x\"}",
    "{\"return\":{},\"id\":1}",
    "{\"error\":{\"class\":\"GenericError\",\"desc\":\"nope\"},\"id\":2}",
    "{\"event\":\"HOST_EVENT\",\"data\":{\"n\":[1,2,{\"a\":null}]},\"timestamp\":{\"seconds\":1,\"microseconds\":2}}",
    "{\"a\":1,\"a\":2}", "{\"\":1}", "  {}  ", "[]", "{}", "1", "\"s\"", "-0.5e+3",
    "\"\\ud83d\\ude00 \\u00e9 \\n\\t\\/\"",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    if (!parses_like_json_glib (texts[i], strlen (texts[i])))
      g_error ("rejected: %s", texts[i]);
}

/* QEMU's JSON accepts single-quoted strings, with \' as an escape. */
static void
test_single_quotes (void)
{
  const char *text = "{'single':'quoted \\' and \"', \"double\": 'x'}";
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = qga_json_parse (text, strlen (text), &error);
  JsonObject *object;

  g_assert_no_error (error);
  object = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (object, "single"), ==, "quoted ' and \"");
  g_assert_cmpstr (json_object_get_string_member (object, "double"), ==, "x");
}

static void
test_rejected (void)
{
  static const char *const texts[] = {
    "", "   ", "tru", "{\"a\" 1}", "{\"a\":1,}", "[1,]", "[1 2]", "01", "1.", ".5", "1e", "+1",
    "\"unterminated", "\"bad \\x escape\"", "\"\\ud83d alone\"", "\"\\udc00\"", "\"\\u12\"",
    "\"\\u0000\"", "\"raw\ttab\"", "{}{}", "[] x", "/* comment */ 1", "0x10", "NaN", "Infinity",
    "99999999999999999999", "1e400", "{a:1}", "[1,2", "007", "-",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = qga_json_parse (texts[i], strlen (texts[i]), &error);

      if (node != NULL)
        g_error ("accepted: %s", texts[i]);
      g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json/accepted", test_accepted);
  g_test_add_func ("/json/rejected", test_rejected);
  g_test_add_func ("/json/single-quotes", test_single_quotes);
  g_test_add_func ("/json/differential", test_differential);
  return g_test_run ();
}
