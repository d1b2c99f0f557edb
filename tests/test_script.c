/* Tests for the `.fray` script reader, builder and writer. Parser cases are
 * table rows (input, expected golden dump or exact error, label). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fray/script.h"

#ifndef FRAY_BINARY_DIR
#define FRAY_BINARY_DIR "."
#endif

/* ------------------------------------------------------------ helpers */

/* Golden dump: "handler NAME" then one line per canary step and step:
 * "[canary ]LINE:COL kind client[ \"bytes\"][ |cut,cut]". */
static void dump_bytes(char **o, const uint8_t *d, size_t n) {
  *o += sprintf(*o, " \"");
  for (size_t i = 0; i < n; i++) {
    if (d[i] >= 0x20 && d[i] < 0x7f && d[i] != '"' && d[i] != '\\')
      *(*o)++ = (char)d[i];
    else
      *o += sprintf(*o, "\\x%02x", d[i]);
  }
  *o += sprintf(*o, "\"");
}

static void dump_steps(char **o, const fray_script_t *s, const fray_step_t *v, size_t n,
                       const char *prefix) {
  for (size_t i = 0; i < n; i++) {
    *o += sprintf(*o, "%s%zu:%zu %s %s", prefix, v[i].line, v[i].column,
                  fray_step_kind_name(v[i].kind),
                  v[i].kind == FRAY_STEP_WAIT ? "-" : fray_script_client_name(s, v[i].client));
    if (v[i].ms)
      *o += sprintf(*o, " %llums", (unsigned long long)v[i].ms);
    if (v[i].data) {
      assert_int_equal(v[i].data[v[i].len], 0); /* the documented NUL */
      dump_bytes(o, v[i].data, v[i].len);
    }
    for (size_t c = 0; c < v[i].ncuts; c++)
      *o += sprintf(*o, "%c%zu", c ? ',' : ' ', v[i].cuts[c]);
    *o += sprintf(*o, "\n");
  }
}

static char *dump(const fray_script_t *s) {
  size_t n, nc;
  const fray_step_t *v = fray_script_steps(s, &n);
  const fray_step_t *c = fray_script_canary(s, &nc);
  size_t size = 64 + 200 * (n + nc);
  for (size_t i = 0; i < n; i++)
    size += v[i].len * 4 + v[i].ncuts * 24;
  for (size_t i = 0; i < nc; i++)
    size += c[i].len * 4 + c[i].ncuts * 24;
  char *buf = malloc(size), *o = buf;
  assert_non_null(buf);
  *o = '\0';
  if (fray_script_handler(s))
    o += sprintf(o, "handler %s\n", fray_script_handler(s));
  dump_steps(&o, s, c, nc, "canary ");
  dump_steps(&o, s, v, n, "");
  return buf;
}

static int parse_str(fray_script_t **s, const char *text, const fray_script_opts_t *o,
                     fray_script_error_t *err) {
  return fray_script_parse(s, text, strlen(text), "t.fray", o, err);
}

static char *fmt_err(const fray_script_error_t *err) {
  static char buf[600];
  return fray_script_error_format(err, buf, sizeof buf);
}

/* ------------------------------------------------------- valid scripts */

typedef struct ok_case {
  const char *text;
  const char *dump;
  const char *label;
} ok_case_t;

static const ok_case_t ok_cases[] = {
    {"", "", "empty script"},
    {"# only a comment\n\n   \n\t# another\n", "", "comments and blank lines"},
    {"open alice\nopen bob\nalice > \"NICK alice\\r\\n\"\nbob < \"alice: hello\\r\\n\"\n"
     "close alice\nbob < eof?\n",
     "1:1 open alice\n2:1 open bob\n3:1 send alice \"NICK alice\\x0d\\x0a\"\n"
     "4:1 expect bob \"alice: hello\\x0d\\x0a\"\n5:1 close alice\n6:1 expect-eof-optional bob\n",
     "chat session"},
    {"open a\na > \"\\r\\n\\t\\0\\\\\\\"\\x41\\xfF\"",
     "1:1 open a\n2:1 send a \"\\x0d\\x0a\\x09\\x00\\x5c\\x22A\\xff\"\n",
     "every escape, no final newline"},
    {"open a\na > \"tab\there\" \"# not a comment\" # a comment\n",
     "1:1 open a\n2:1 send a \"tab\\x09here# not a comment\"\n",
     "raw tab, # in string, trailing comment"},
    {"open a\na > hex \"de ad BEef\" hex \"\"\n",
     "1:1 open a\n2:1 send a \"\\xde\\xad\\xbe\\xef\"\n", "hex with spaces and mixed case"},
    {"open a\na > \"ab\" * 3 \"c\"\n", "1:1 open a\n2:1 send a \"abababc\"\n", "repetition"},
    {"open a\na > \"x\" * 0 \"y\" hex \"00\"*2\n", "1:1 open a\n2:1 send a \"y\\x00\\x00\"\n",
     "repetition by zero and of hex, no spaces"},
    {"open a\na > \"\" * 99999\n", "1:1 open a\n2:1 send a \"\"\n", "repeated empty string"},
    {"open a\na > \"MSG he\" | \"llo\\r\\n\"\n",
     "1:1 open a\n2:1 send a \"MSG hello\\x0d\\x0a\" 6\n", "one cut"},
    {"open a\na > \"a\" * 3 | \"b\"|\"c\" \"d\" | hex \"00\"\n",
     "1:1 open a\n2:1 send a \"aaabcd\\x00\" 3,4,6\n", "several cuts, repetition before a cut"},
    {"open a\na > eof\na < \"bye\"\na < eof\nclose a\n",
     "1:1 open a\n2:1 shutdown a\n3:1 expect a \"bye\"\n4:1 expect-eof a\n5:1 close a\n",
     "half close then eof"},
    {"open a\nreset a\nopen a\na > \"x\"\n",
     "1:1 open a\n2:1 reset a\n3:1 open a\n4:1 send a \"x\"\n", "reset and reopen"},
    {"\xef\xbb\xbfopen a\na > \"x\"\n", "1:1 open a\n2:1 send a \"x\"\n",
     "UTF-8 byte order mark skipped"},
    {"open a\na < ~ \"PONG [0-9]+\\r\\n\"\na < glob \"* joined\\n\"\n",
     "1:1 open a\n2:1 expect-regex a \"PONG [0-9]+\\x0d\\x0a\"\n"
     "3:1 expect-glob a \"* joined\\x0a\"\n",
     "regex and glob"},
    {"@handler chat\n@canary probe > \"PING\\r\\n\"\n@canary probe < \"PONG\\r\\n\"\nopen a\n",
     "handler chat\ncanary 2:1 send probe \"PING\\x0d\\x0a\"\ncanary 3:1 expect probe "
     "\"PONG\\x0d\\x0a\"\n4:1 open a\n",
     "handler and canary (no open needed)"},
    {"@handler \"my handler\"\n@canary p > \"a\" | \"b\"\n@canary p < ~ \"b+\"\n",
     "handler my handler\ncanary 2:1 send p \"ab\" 1\ncanary 3:1 expect-regex p \"b+\"\n",
     "quoted handler, cut and regex in canary"},
    {"open a\r\n  a\t>\t\"x\"\r\n", "1:1 open a\n2:3 send a \"x\"\n", "CRLF lines and tabs"},
    {"open client-1_b\nclient-1_b > \"\\x00\\x01\"\n",
     "1:1 open client-1_b\n2:1 send client-1_b \"\\x00\\x01\"\n", "name with digits and dashes"},
    {"open opener\nopener > \"x\"\n", "1:1 open opener\n2:1 send opener \"x\"\n",
     "name starting with a keyword"},
    {"open a\na < \"\"\n", "1:1 open a\n2:1 expect a \"\"\n", "empty expectation"},
    {"wait 30s\nopen a\na < nothing for 1500ms  # late\n  wait\t2m\nwait 1h\nwait 90000ms\n",
     "1:1 wait - 30000ms\n2:1 open a\n3:1 expect-nothing a 1500ms\n4:3 wait - 120000ms\n"
     "5:1 wait - 3600000ms\n6:1 wait - 90000ms\n",
     "spans in every unit, a wait before any client"},
    {"open wait\nwait > \"x\"\nwait < nothing for 1ms\nwait 1ms\n",
     "1:1 open wait\n2:1 send wait \"x\"\n3:1 expect-nothing wait 1ms\n4:1 wait - 1ms\n",
     "a client named wait"},
};

static void test_parse_valid_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
    fray_script_t *s = (fray_script_t *)1;
    fray_script_error_t err;
    memset(&err, 0, sizeof err);
    int rc = parse_str(&s, ok_cases[i].text, NULL, &err);
    if (rc != 0)
      fail_msg("%s: rc %d: %s", ok_cases[i].label, rc, fmt_err(&err));
    char *d = dump(s);
    if (strcmp(d, ok_cases[i].dump) != 0)
      fail_msg("%s:\n got:\n%s\n want:\n%s", ok_cases[i].label, d, ok_cases[i].dump);
    free(d);
    fray_script_free(s);
  }
}

/* ------------------------------------------------------------- errors */

typedef struct err_case {
  const char *text;
  int code;
  const char *message; /* exactly what fray_script_error_format() gives */
  const char *label;
} err_case_t;

#define A "open alice\n"
static const err_case_t err_cases[] = {
    {"open", FRAY_ESYNTAX, "t.fray:1:5: expected a client name after 'open'", "open without name"},
    {"close \"x\"", FRAY_ESYNTAX, "t.fray:1:7: expected a client name after 'close'",
     "close with a string"},
    {"open alice bob", FRAY_ESYNTAX, "t.fray:1:12: expected end of line after \"open alice\"",
     "trailing word after open"},
    {A "alice = \"x\"", FRAY_ESYNTAX, "t.fray:2:7: expected '>' or '<' after client name \"alice\"",
     "bad operator"},
    {A "alice", FRAY_ESYNTAX, "t.fray:2:6: expected '>' or '<' after client name \"alice\"",
     "name alone"},
    {A "alice reads 0", FRAY_ESYNTAX,
     "t.fray:2:13: expected a byte count of 1 or more after 'reads' (or 'stops reading')",
     "reads nothing"},
    {A "alice reads 12k", FRAY_ESYNTAX,
     "t.fray:2:13: expected a byte count of 1 or more after 'reads' (or 'stops reading')",
     "reads a word"},
    {A "alice reads 99999999999999999999999", FRAY_ERANGE,
     "t.fray:2:13: byte count over the limit of 268435456 (max_bytes)", "reads too much"},
    {A "alice stops", FRAY_ESYNTAX, "t.fray:2:12: expected 'reading' after 'stops'", "stops alone"},
    {A "alice resumes reading now", FRAY_ESYNTAX,
     "t.fray:2:23: expected end of line after 'resumes reading'", "resumes with more"},
    {"alice stops reading", FRAY_ESYNTAX,
     "t.fray:1:1: client \"alice\" is not open (add \"open alice\" before this line)",
     "stops reading before open"},
    {A "alice > \"a\\q\"", FRAY_ESYNTAX,
     "t.fray:2:11: unknown escape '\\q' (expected \\r \\n \\t \\0 \\\\ \\\" or \\xHH)",
     "unknown escape"},
    {A "alice > \"\\x4\"", FRAY_ESYNTAX, "t.fray:2:10: expected two hex digits after '\\x'",
     "short \\x"},
    {A "alice > \"abc", FRAY_ESYNTAX,
     "t.fray:2:9: unterminated string (expected '\"' before end of line)", "unterminated"},
    {A "alice > \"abc\n\"", FRAY_ESYNTAX,
     "t.fray:2:9: unterminated string (expected '\"' before end of line)",
     "newline inside a string"},
    {A "alice > \"a\x01z\"", FRAY_ESYNTAX,
     "t.fray:2:11: control byte 0x01 in a string (write it as \\x01)", "raw control byte"},
    {A "alice > hex \"abc\"", FRAY_ESYNTAX,
     "t.fray:2:16: expected two hex digits per byte in a 'hex' string", "odd hex"},
    {A "alice > hex \"zz\"", FRAY_ESYNTAX,
     "t.fray:2:14: expected hex digits or '\"' in a 'hex' string", "bad hex digit"},
    {A "alice > hex 41", FRAY_ESYNTAX,
     "t.fray:2:13: expected a quoted string of hex digits after 'hex'", "hex without quotes"},
    {A "alice > * 3", FRAY_ESYNTAX,
     "t.fray:2:9: expected a string, 'hex' or 'file' piece before '*'", "star first"},
    {A "alice > \"a\" * ", FRAY_ESYNTAX, "t.fray:2:15: expected a repetition count after '*'",
     "star without count"},
    {A "alice > \"a\" * 3x", FRAY_ESYNTAX,
     "t.fray:2:15: expected a decimal repetition count after '*'", "count with letters"},
    {A "alice > \"a\" * 2 * 2", FRAY_ESYNTAX,
     "t.fray:2:17: expected a string, 'hex' or 'file' piece before '*'", "double star"},
    {A "alice > | \"a\"", FRAY_ESYNTAX, "t.fray:2:9: expected data before '|'", "leading cut"},
    {A "alice > \"a\" |", FRAY_ESYNTAX, "t.fray:2:13: expected data after '|'", "trailing cut"},
    {A "alice > \"a\" | | \"b\"", FRAY_ESYNTAX,
     "t.fray:2:15: empty read before '|' (a read boundary needs data on both sides)", "double cut"},
    {A "alice > \"\" | \"a\"", FRAY_ESYNTAX,
     "t.fray:2:12: empty read before '|' (a read boundary needs data on both sides)",
     "empty first read"},
    {A "alice > \"a\" | \"\"", FRAY_ESYNTAX,
     "t.fray:2:13: empty read after '|' (a read boundary needs data on both sides)",
     "empty last read"},
    {A "alice < \"a\" | \"b\"", FRAY_ESYNTAX,
     "t.fray:2:13: '|' (a read boundary) is only allowed in sends", "cut in expectation"},
    {A "alice >", FRAY_ESYNTAX, "t.fray:2:8: expected a string, 'hex', 'file' or 'eof' after '>'",
     "empty send"},
    {A "alice <  # nothing", FRAY_ESYNTAX,
     "t.fray:2:10: expected a string, 'hex', 'file', '~', 'glob', 'eof', 'eof?', 'any' or "
     "'nothing for' after '<'",
     "empty expectation"},
    {A "wait 0s", FRAY_ESYNTAX, "t.fray:2:6: a span of 0 after 'wait' (at least 1ms)", "wait 0"},
    {A "wait 5x", FRAY_ESYNTAX,
     "t.fray:2:7: expected a span after 'wait': a number and ms, s, m or h (500ms, 30s, 2m, 1h)",
     "wait with a bad unit"},
    {A "wait", FRAY_ESYNTAX,
     "t.fray:2:5: expected a span after 'wait': a number and ms, s, m or h (500ms, 30s, 2m, 1h)",
     "wait without a span"},
    {A "wait 5 s", FRAY_ESYNTAX,
     "t.fray:2:7: expected a span after 'wait': a number and ms, s, m or h (500ms, 30s, 2m, 1h)",
     "space before the unit"},
    {A "wait 8785h", FRAY_ERANGE, "t.fray:2:6: a span over one year after 'wait'", "wait too long"},
    {A "wait 1s x", FRAY_ESYNTAX, "t.fray:2:9: expected end of line after the span",
     "junk after a wait"},
    {A "alice < nothing 5s", FRAY_ESYNTAX,
     "t.fray:2:17: expected 'for' and a span after 'nothing' (nothing for 10s)",
     "nothing without for"},
    {A "alice < nothing for", FRAY_ESYNTAX,
     "t.fray:2:20: expected a span after 'nothing for': a number and ms, s, m or h (500ms, 30s, "
     "2m, 1h)",
     "nothing for without a span"},
    {A "alice < eof\nalice < nothing for 1s", FRAY_ESYNTAX,
     "t.fray:3:1: client \"alice\" already expects eof; nothing can arrive after it",
     "nothing after eof"},
    {"@canary p < nothing for 1s\n", FRAY_ESYNTAX,
     "t.fray:1:1: 'nothing for' is not allowed in a canary", "nothing in a canary"},
    {A "alice > \"a\" bob", FRAY_ESYNTAX,
     "t.fray:2:13: expected a string, 'hex', 'file', '*', '|' or end of line", "word after data"},
    {A "alice < \"a\" ~", FRAY_ESYNTAX,
     "t.fray:2:13: expected a string, 'hex', 'file', '*' or end of line", "junk in expectation"},
    {A "alice > eof x", FRAY_ESYNTAX, "t.fray:2:13: expected end of line after 'eof'",
     "junk after > eof"},
    {A "alice < eof? x", FRAY_ESYNTAX, "t.fray:2:14: expected end of line after 'eof?'",
     "junk after < eof?"},
    {A "alice < any x", FRAY_ESYNTAX, "t.fray:2:13: expected end of line after 'any'",
     "junk after < any"},
    {A "alice < eof\nalice < any", FRAY_ESYNTAX,
     "t.fray:3:1: client \"alice\" already expects eof; nothing can arrive after it",
     "any after eof"},
    {A "alice < ~ abc", FRAY_ESYNTAX, "t.fray:2:11: expected a quoted regular expression after '~'",
     "regex unquoted"},
    {A "alice < ~ \"a[b\"", FRAY_ESYNTAX,
     "t.fray:2:11: invalid regular expression (at pattern byte 2): unterminated bracket "
     "expression (expected ']')",
     "bad regex"},
    {A "alice < ~ \"a\\0b\"", FRAY_ESYNTAX, "t.fray:2:11: a pattern cannot contain a NUL byte",
     "NUL in regex"},
    /* The regex size guard read past the end of `[[:` (an ASan report). */
    {A "alice < ~ \"[[:\"", FRAY_ESYNTAX,
     "t.fray:2:11: invalid regular expression (at pattern byte 2): unterminated '[:' in the "
     "bracket expression at byte 1",
     "unterminated class"},
    {A "alice < ~ \"(a)\\\\1\"", FRAY_ESYNTAX,
     "t.fray:2:11: invalid regular expression (at pattern byte 4): backreferences ('\\1') are "
     "not supported (they make matching exponential)",
     "backreference"},
    {A "alice < ~ \"a|*b\"", FRAY_ESYNTAX,
     "t.fray:2:11: invalid regular expression (at pattern byte 3): nothing to repeat before '*'",
     "nothing to repeat"},
    {A "alice < ~ \"x{2,1}\"", FRAY_ESYNTAX,
     "t.fray:2:11: invalid regular expression (at pattern byte 2): invalid repeat '{2,1}' (the "
     "maximum is below the minimum)",
     "reversed interval"},
    {A "alice < ~ \"((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
       "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
       "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
       "x\"",
     FRAY_ERANGE,
     "t.fray:2:11: regular expression over a limit: parentheses nested deeper than 200",
     "deep nesting"},
    {A "alice < glob x", FRAY_ESYNTAX, "t.fray:2:14: expected a quoted glob pattern after 'glob'",
     "glob unquoted"},
    {A "alice < glob \"x\" y", FRAY_ESYNTAX,
     "t.fray:2:18: expected end of line after the glob pattern", "junk after glob"},
    {"bob > \"x\"", FRAY_ESYNTAX,
     "t.fray:1:1: client \"bob\" is not open (add \"open bob\" before this line)",
     "send before open"},
    {A "# c\n\n  alcie < \"x\"", FRAY_ESYNTAX,
     "t.fray:4:3: client \"alcie\" is not open (add \"open alcie\" before this line)",
     "typo in a name, after comments"},
    {A "open alice", FRAY_ESYNTAX, "t.fray:2:1: client \"alice\" is already open", "double open"},
    {A "close alice\nclose alice", FRAY_ESYNTAX,
     "t.fray:3:1: client \"alice\" is not open (add \"open alice\" before this line)",
     "double close"},
    {A "reset alice\nalice < eof", FRAY_ESYNTAX,
     "t.fray:3:1: client \"alice\" is not open (add \"open alice\" before this line)",
     "expect after reset"},
    {A "alice > eof\nalice > \"x\"", FRAY_ESYNTAX,
     "t.fray:3:1: client \"alice\" already sent eof (\"alice > eof\")", "send after shutdown"},
    {A "alice < eof\nalice < \"x\"", FRAY_ESYNTAX,
     "t.fray:3:1: client \"alice\" already expects eof; nothing can arrive after it",
     "expect after eof"},
    {"hex > \"x\"", FRAY_ESYNTAX, "t.fray:1:1: 'hex' is a keyword, not a client name",
     "keyword as name"},
    {"open eof", FRAY_ESYNTAX,
     "t.fray:1:6: expected a client name after 'open', not the keyword 'eof'", "open keyword"},
    {"open a2345678901234567890123456789012345678901234567890123456789012345", FRAY_ESYNTAX,
     "t.fray:1:6: client name longer than 64 bytes", "long name"},
    {"@handlr x", FRAY_ESYNTAX,
     "t.fray:1:1: unknown directive '@handlr' (expected '@handler' or '@canary')",
     "directive typo"},
    {"  @max_frame 3", FRAY_ESYNTAX,
     "t.fray:1:3: unknown directive '@max_frame' (expected '@handler' or '@canary')",
     "unknown directive"},
    {"@handler", FRAY_ESYNTAX, "t.fray:1:9: expected a handler name after '@handler'",
     "handler without name"},
    {"@handler a\n@handler b", FRAY_ESYNTAX,
     "t.fray:2:1: duplicate '@handler' (the first is on line 1)", "duplicate handler"},
    {"@handler a b", FRAY_ESYNTAX, "t.fray:1:12: expected end of line after the handler name",
     "two handler names"},
    {"@handler \"a\\tb\"", FRAY_ESYNTAX,
     "t.fray:1:10: expected a handler name of 1 to 255 bytes without control bytes",
     "control byte in handler"},
    {"@canary", FRAY_ESYNTAX, "t.fray:1:8: expected a client name after '@canary'",
     "canary without name"},
    {"@canary a = \"x\"", FRAY_ESYNTAX, "t.fray:1:11: expected '>' or '<' after client name \"a\"",
     "canary bad operator"},
    {"@canary a >", FRAY_ESYNTAX, "t.fray:1:12: expected a string, 'hex' or 'file' after '>'",
     "canary empty send"},
    {"@canary a <", FRAY_ESYNTAX,
     "t.fray:1:12: expected a string, 'hex', 'file', '~' or 'glob' after '<'",
     "canary empty expectation"},
    {"@canary a < eof", FRAY_ESYNTAX,
     "t.fray:1:13: expected a string, 'hex', 'file', '*' or end of line", "canary eof"},
    {"@canary a < any", FRAY_ESYNTAX,
     "t.fray:1:13: expected a string, 'hex', 'file', '*' or end of line", "canary any"},
    {"1abc", FRAY_ESYNTAX,
     "t.fray:1:1: expected a statement (open, close, reset, wait, NAME >, NAME < or @directive), "
     "not "
     "'1'",
     "digit at line start"},
    {"\xc3\xa9t\xc3\xa9", FRAY_ESYNTAX,
     "t.fray:1:1: expected a statement (open, close, reset, wait, NAME >, NAME < or @directive), "
     "not "
     "byte 0xc3",
     "non-ASCII at line start"},
    {A "alice > \"x\" * 99999999999999999999999", FRAY_ERANGE,
     "t.fray:2:15: repetition count over the limit of 268435456 (max_repeat)",
     "huge repetition count"},
    {A "alice > \"xy\" * 200000000", FRAY_ERANGE,
     "t.fray:2:14: script data over the limit of 268435456 bytes (max_bytes)",
     "repetition over the byte budget"},
};
#undef A

static void test_parse_error_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
    fray_script_t *s = (fray_script_t *)1;
    fray_script_error_t err;
    memset(&err, 0, sizeof err);
    int rc = parse_str(&s, err_cases[i].text, NULL, &err);
    if (rc != err_cases[i].code)
      fail_msg("%s: rc %d (%s), want %d", err_cases[i].label, rc, fmt_err(&err), err_cases[i].code);
    assert_null(s);
    assert_int_equal(err.code, rc);
    if (strcmp(fmt_err(&err), err_cases[i].message) != 0)
      fail_msg("%s:\n got:  %s\n want: %s", err_cases[i].label, fmt_err(&err),
               err_cases[i].message);
  }
}

static void test_parse_args(void **state) {
  (void)state;
  fray_script_t *s = (fray_script_t *)1;
  assert_int_equal(fray_script_parse(NULL, "", 0, NULL, NULL, NULL), FRAY_EINVAL);
  assert_int_equal(fray_script_parse(&s, NULL, 3, NULL, NULL, NULL), FRAY_EINVAL);
  assert_null(s);
  /* NULL filename and NULL err are allowed; the file is "<script>". */
  fray_script_error_t err;
  assert_int_equal(fray_script_parse(&s, "x", 1, NULL, NULL, NULL), FRAY_ESYNTAX);
  assert_int_equal(fray_script_parse(&s, "x", 1, NULL, NULL, &err), FRAY_ESYNTAX);
  assert_string_equal(fmt_err(&err), "<script>:1:2: expected '>' or '<' after client name \"x\"");
  /* Text need not be NUL-terminated: the length is what counts. */
  assert_int_equal(fray_script_parse(&s, "open a\nXXX", 6, NULL, NULL, NULL), 0);
  fray_script_free(s);
  fray_script_free(NULL);
}

/* ------------------------------------------------------------- limits */

static void test_limits(void **state) {
  (void)state;
  fray_script_opts_t o;
  fray_script_opts_init(&o);
  fray_script_t *s;
  fray_script_error_t err;

  o.max_bytes = 10;
  assert_int_equal(parse_str(&s, "open a\na > \"12345\"\na < \"12345\"", &o, &err), 0);
  fray_script_free(s);
  assert_int_equal(parse_str(&s, "open a\na > \"12345\"\na < \"123456\"", &o, &err), FRAY_ERANGE);
  assert_string_equal(fmt_err(&err),
                      "t.fray:3:6: script data over the limit of 10 bytes (max_bytes)");
  assert_int_equal(parse_str(&s, "open a\na > \"ab\" * 6", &o, &err), FRAY_ERANGE);
  assert_string_equal(fmt_err(&err),
                      "t.fray:2:10: script data over the limit of 10 bytes (max_bytes)");
  assert_int_equal(parse_str(&s, "open a\na > hex \"00\" * 10 \"x\"", &o, &err), FRAY_ERANGE);
  assert_int_equal(err.column, 20);

  fray_script_opts_init(&o);
  o.max_repeat = 5;
  assert_int_equal(parse_str(&s, "open a\na > \"\" * 6", &o, &err), FRAY_ERANGE);
  assert_string_equal(fmt_err(&err),
                      "t.fray:2:10: repetition count over the limit of 5 (max_repeat)");

  fray_script_opts_init(&o);
  o.max_steps = 3;
  assert_int_equal(parse_str(&s, "open a\n@canary a > \"x\"\na > \"y\"\na > \"z\"", &o, &err),
                   FRAY_ERANGE);
  assert_string_equal(fmt_err(&err), "t.fray:4:1: more than 3 steps (max_steps)");

  fray_script_opts_init(&o);
  o.max_clients = 2;
  assert_int_equal(parse_str(&s, "open a\nopen b\nopen c", &o, &err), FRAY_ERANGE);
  assert_string_equal(fmt_err(&err), "t.fray:3:6: more than 2 clients (max_clients)");

  fray_script_opts_init(&o);
  o.max_text = 4;
  assert_int_equal(parse_str(&s, "open a", &o, &err), FRAY_ERANGE);
  assert_string_equal(fmt_err(&err), "t.fray: script longer than the limit of 4 bytes (max_text)");
}

/* A repetition that fits the default budget is expanded exactly. */
static void test_large_repetition(void **state) {
  (void)state;
  fray_script_t *s;
  const char *t = "open a\na > \"x\" * 70000 \"\\r\\n\"\n";
  assert_int_equal(parse_str(&s, t, NULL, NULL), 0);
  size_t n;
  const fray_step_t *v = fray_script_steps(s, &n);
  assert_int_equal(n, 2);
  assert_int_equal(v[1].len, 70002);
  for (size_t i = 0; i < 70000; i++)
    if (v[1].data[i] != 'x')
      fail_msg("byte %zu", i);
  assert_memory_equal(v[1].data + 70000, "\r\n", 2);
  fray_script_free(s);
}

/* ------------------------------------------- what fray writes, it reads */

static uint32_t xorshift(uint32_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

/* Builds a script of steps sends from client a, each of len bytes made by
 * fill(). */
static fray_script_t *built(size_t steps, size_t len, void (*fill)(uint8_t *, size_t, uint32_t *),
                            uint32_t seed) {
  fray_script_t *s;
  size_t a;
  assert_int_equal(fray_script_new(&s, NULL), 0);
  assert_int_equal(fray_script_add_client(s,
                                          "c1023456789012345678901234567890123456789012345678901"
                                          "234567890",
                                          &a),
                   0);
  assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = a}), 0);
  uint8_t *d = malloc(len);
  assert_non_null(d);
  for (size_t k = 0; k < steps; k++) {
    fill(d, len, &seed);
    assert_int_equal(
        fray_script_add_step(
            s, &(fray_step_t){.kind = FRAY_STEP_SEND, .client = a, .data = d, .len = len}),
        0);
  }
  free(d);
  return s;
}

static void fill_random(uint8_t *d, size_t n, uint32_t *x) {
  for (size_t i = 0; i < n; i++)
    d[i] = (uint8_t)xorshift(x);
}

static void fill_half_binary(uint8_t *d, size_t n, uint32_t *x) {
  (void)x;
  for (size_t i = 0; i < n; i++)
    d[i] = i % 2 ? '\n' : (uint8_t)(0x80 + i % 64); /* escapes: \xHH and \n */
}

static void fill_short_stretches(uint8_t *d, size_t n, uint32_t *x) {
  (void)x;
  for (size_t i = 0; i < n; i++)
    d[i] = i % 23 < 7 ? (uint8_t)(0x80 + i % 23) : 'a'; /* 7 binary, 16 equal */
}

static void fill_mixed(uint8_t *d, size_t n, uint32_t *x) {
  for (size_t i = 0; i < n;) {
    size_t run = 1 + xorshift(x) % 40;
    uint8_t b = (uint8_t)xorshift(x), cls = (uint8_t)(xorshift(x) % 3);
    for (size_t k = 0; k < run && i < n; k++, i++)
      d[i] = cls == 0 ? b : cls == 1 ? (uint8_t)xorshift(x) : (uint8_t)("\r\n\t\0\"\\a"[k % 7]);
  }
}

/* The canonical writer's text stays within the bound the default max_text
 * is sized for (fray/script.h): 3.5 bytes per data byte plus 128 per step,
 * on the encodings' worst cases (binary, half escapes, short binary
 * stretches between runs, one-byte steps, long client names). */
static void test_write_text_bound(void **state) {
  (void)state;
  static const struct {
    void (*fill)(uint8_t *, size_t, uint32_t *);
    size_t steps, len;
  } rows[] = {{fill_random, 4, 10000},          {fill_half_binary, 4, 10000},
              {fill_short_stretches, 4, 10000}, {fill_random, 2000, 1},
              {fill_half_binary, 2000, 7},      {fill_short_stretches, 500, 30},
              {fill_mixed, 50, 3000},           {fill_mixed, 3000, 9}};
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    fray_script_t *s = built(rows[r].steps, rows[r].len, rows[r].fill, 7 + (uint32_t)r);
    char *text;
    size_t len;
    assert_int_equal(fray_script_write_mem(s, &text, &len), 0);
    size_t bound = rows[r].steps * rows[r].len * 7 / 2 + (rows[r].steps + 1) * 128;
    if (len > bound)
      fail_msg("row %zu: %zu text bytes for %zu data bytes in %zu steps (bound %zu)", r, len,
               rows[r].steps * rows[r].len, rows[r].steps, bound);
    fray_script_text_free(s, text);
    fray_script_free(s);
  }
  /* The default text limit holds the bound at the byte and step limits. */
  assert_true(FRAY_SCRIPT_DEFAULT_MAX_TEXT >=
              FRAY_SCRIPT_DEFAULT_MAX_BYTES / 2 * 7 + FRAY_SCRIPT_DEFAULT_MAX_STEPS * 128);
}

static void write_file(const char *path, const void *data, size_t n);
#define TMPDIR FRAY_BINARY_DIR "/test_script_tmp"

/* A recording past the old 64 MiB text limit (audit: import-pcap and proxy
 * --record wrote up to 256 MiB, replay refused scripts over 64 MiB of text
 * and binary data past ~32 MB) loads back with the defaults, from memory
 * and from a file. */
static void test_big_recording_loads(void **state) {
  (void)state;
  fray_script_t *s = built(4, 9u << 20, fill_random, 1), *back;
  char *text;
  size_t len;
  assert_int_equal(fray_script_write_mem(s, &text, &len), 0);
  assert_true(len > (70u << 20)); /* hex: two text bytes per data byte */
  fray_script_error_t err;
  assert_int_equal(fray_script_parse(&back, text, len, "big.fray", NULL, &err), 0);
  assert_true(fray_script_equal(s, back));
  fray_script_free(back);
  mkdir(TMPDIR, 0777);
  write_file(TMPDIR "/big.fray", text, len);
  fray_script_text_free(s, text);
  int rc = fray_script_load(&back, TMPDIR "/big.fray", NULL, &err);
  unlink(TMPDIR "/big.fray");
  assert_int_equal(rc, 0);
  assert_true(fray_script_equal(s, back));
  fray_script_free(back);
  fray_script_free(s);
}

/* --------------------------------------------------------- file pieces */

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f)
    fail_msg("cannot create %s: %s", path, strerror(errno));
  assert_int_equal(fwrite(data, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static void test_file_pieces(void **state) {
  (void)state;
  mkdir(TMPDIR, 0777);
  mkdir(TMPDIR "/sub", 0777);
  static const uint8_t bin[] = {0x00, 0xff, 'A', '\n'};
  write_file(TMPDIR "/sub/data.bin", bin, sizeof bin);
  write_file(TMPDIR "/sub/my data.txt", "hi", 2);
  const char *script = "open a\n"
                       "a > \"<\" file data.bin | file \"my data.txt\" \">\"\n"
                       "a < file ./data.bin * 2\n"
                       "a > file " TMPDIR "/sub/data.bin\n";
  write_file(TMPDIR "/sub/s.fray", script, strlen(script));

  fray_script_t *s;
  fray_script_error_t err;
  /* Load resolves `file` relative to the script's directory, not the cwd. */
  int rc = fray_script_load(&s, TMPDIR "/sub/s.fray", NULL, &err);
  if (rc)
    fail_msg("%s", fmt_err(&err));
  char *d = dump(s);
  assert_string_equal(d, "1:1 open a\n"
                         "2:1 send a \"<\\x00\\xffA\\x0ahi>\" 5\n"
                         "3:1 expect a \"\\x00\\xffA\\x0a\\x00\\xffA\\x0a\"\n"
                         "4:1 send a \"\\x00\\xffA\\x0a\"\n");
  free(d);
  fray_script_free(s);

  /* parse() with a filename resolves the same way; base_dir overrides. */
  assert_int_equal(fray_script_parse(&s, script, strlen(script), TMPDIR "/sub/s.fray", NULL, &err),
                   0);
  fray_script_free(s);
  fray_script_opts_t o;
  fray_script_opts_init(&o);
  o.base_dir = TMPDIR;
  assert_int_equal(parse_str(&s, "open a\na > file sub/data.bin", &o, &err), 0);
  fray_script_free(s);

  /* A missing file names the resolved path and the piece's position. */
  assert_int_equal(parse_str(&s, "open a\na > \"x\" file nope.bin", &o, &err), FRAY_ENOENT);
  assert_string_equal(fmt_err(&err), "t.fray:2:9: cannot open file \"" TMPDIR
                                     "/nope.bin\": No such file or directory");
  assert_int_equal(parse_str(&s, "open a\na > file", &o, &err), FRAY_ESYNTAX);
  assert_string_equal(fmt_err(&err), "t.fray:2:9: expected a path after 'file'");
  assert_int_equal(parse_str(&s, "open a\na > file \"\"", &o, &err), FRAY_ESYNTAX);
  assert_string_equal(fmt_err(&err),
                      "t.fray:2:5: expected a non-empty path without NUL after 'file'");
  /* A directory opens but cannot be read. */
  assert_int_equal(parse_str(&s, "open a\na > file sub", &o, &err), FRAY_EIO);

  /* deny_files turns every file piece into an error. */
  o.deny_files = 1;
  assert_int_equal(parse_str(&s, "open a\na > file sub/data.bin", &o, &err), FRAY_ESYNTAX);
  assert_string_equal(fmt_err(&err),
                      "t.fray:2:5: 'file' pieces are not allowed here (deny_files is set)");

  /* A big file stops at the byte budget. */
  fray_script_opts_init(&o);
  o.max_bytes = 100000;
  static uint8_t big[150000];
  write_file(TMPDIR "/big.bin", big, sizeof big);
  assert_int_equal(parse_str(&s, "open a\na > file " TMPDIR "/big.bin", &o, &err), FRAY_ERANGE);
  assert_string_equal(fmt_err(&err),
                      "t.fray:2:5: script data over the limit of 100000 bytes (max_bytes)");

  /* Only regular files: a device never ends, a FIFO blocked the parser
   * forever (robustness audit, hostile/12-18). */
  assert_int_equal(parse_str(&s, "open a\na > file /dev/zero", &o, &err), FRAY_EIO);
  assert_string_equal(fmt_err(&err), "t.fray:2:5: cannot use \"/dev/zero\" as a file piece: a "
                                     "character device, not a regular file");
  unlink(TMPDIR "/fifo");
  assert_int_equal(mkfifo(TMPDIR "/fifo", 0600), 0);
  assert_int_equal(parse_str(&s, "open a\na > file " TMPDIR "/fifo", &o, &err), FRAY_EIO);
  assert_string_equal(fmt_err(&err), "t.fray:2:5: cannot use \"" TMPDIR
                                     "/fifo\" as a file piece: a FIFO, not a regular file");

  /* files_under: paths resolved (links, ..) must stay inside. */
  fray_script_opts_init(&o);
  o.files_under = TMPDIR "/sub";
  o.base_dir = TMPDIR "/sub";
  assert_int_equal(parse_str(&s, "open a\na > file ../sub/data.bin", &o, &err), 0);
  fray_script_free(s);
  assert_int_equal(parse_str(&s, "open a\na > file ../big.bin", &o, &err), FRAY_ESYNTAX);
  assert_string_equal(fmt_err(&err),
                      "t.fray:2:5: file \"" TMPDIR "/sub/../big.bin\" is outside \"" TMPDIR
                      "/sub\", where file pieces are allowed (it resolves to \"" TMPDIR
                      "/big.bin\")");
  unlink(TMPDIR "/sub/link.bin");
  assert_int_equal(symlink("../big.bin", TMPDIR "/sub/link.bin"), 0);
  assert_int_equal(parse_str(&s, "open a\na > file link.bin", &o, &err), FRAY_ESYNTAX);
  assert_int_equal(parse_str(&s, "open a\na > file /etc/passwd", &o, &err), FRAY_ESYNTAX);
  o.files_under = TMPDIR "/nope";
  assert_int_equal(parse_str(&s, "open a\n", &o, &err), FRAY_ENOENT);
  assert_int_equal(err.line, 0);

  /* Script errors from load name the script's path. */
  write_file(TMPDIR "/bad.fray", "open a\nopen a\n", 14);
  assert_int_equal(fray_script_load(&s, TMPDIR "/bad.fray", NULL, &err), FRAY_ESYNTAX);
  assert_string_equal(fmt_err(&err), TMPDIR "/bad.fray:2:1: client \"a\" is already open");
  assert_int_equal(fray_script_load(&s, TMPDIR "/missing.fray", NULL, &err), FRAY_ENOENT);
  assert_null(s);
  assert_string_equal(fmt_err(&err),
                      TMPDIR "/missing.fray: cannot open script: No such file or directory");
  o.max_text = 10;
  assert_int_equal(fray_script_load(&s, TMPDIR "/bad.fray", &o, &err), FRAY_ERANGE);
  assert_string_equal(fmt_err(&err),
                      TMPDIR "/bad.fray: script longer than the limit of 10 bytes (max_text)");
}

/* ------------------------------------------------------------- writer */

typedef struct write_case {
  const char *text;  /* parsed, then written */
  const char *canon; /* the canonical text expected */
  const char *label;
} write_case_t;

static const write_case_t write_cases[] = {
    {"  open   alice # hi\nalice>\"NICK\" \" alice\\r\\n\"|hex \"41\"\n",
     "open alice\nalice > \"NICK alice\\r\\n\" | \"A\"\n", "spacing and pieces normalised"},
    {"open a\na > \"x\" * 70000 \"\\r\\n\"\n", "open a\na > \"x\" * 70000 \"\\r\\n\"\n",
     "long run"},
    {"open a\na > \"ab\" \"c\" * 15 \"d\"\n", "open a\na > \"abcccccccccccccccd\"\n",
     "run below the threshold stays in the string"},
    {"open a\na > hex \"00\" * 20 | \"\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\"\n",
     "open a\na > \"\\0\" * 20 | hex \"0102030405060708\"\n", "binary run and hex stretch"},
    {"open a\na > \"\\\"q\\\\\\t\\x7f\\x80\"\n", "open a\na > \"\\\"q\\\\\\t\\x7f\\x80\"\n",
     "escapes"},
    {"open a\na > eof\na < ~ \"a\\\\.b\"\na < glob \"*\"\na < eof?\nreset a\n",
     "open a\na > eof\na < ~ \"a\\\\.b\"\na < glob \"*\"\na < eof?\nreset a\n", "other kinds"},
    {"open a\na > \"x\"\na <   any  # taken\nclose a\n", "open a\na > \"x\"\na < any\nclose a\n",
     "any"},
    {"open a\na < \"\"\nclose a\n", "open a\na < \"\"\nclose a\n", "empty data"},
    {"open a\na  stops\treading # slow\na reads   64\na reads 1\na resumes reading\n",
     "open a\na stops reading\na reads 64\na reads 1\na resumes reading\n", "reading"},
    {"@canary p < \"PONG\"\n@handler \"x y\"\n@canary p > \"PI\" | \"NG\"\n",
     "@handler \"x y\"\n@canary p < \"PONG\"\n@canary p > \"PI\" | \"NG\"\n",
     "directives come first"},
};

static void roundtrip(const fray_script_t *s, const char *label) {
  char *t1 = NULL, *t2 = NULL;
  size_t n1, n2;
  assert_int_equal(fray_script_write_mem(s, &t1, &n1), 0);
  assert_int_equal(strlen(t1), n1);
  fray_script_t *back;
  fray_script_error_t err;
  int rc = fray_script_parse(&back, t1, n1, "rt.fray", NULL, &err);
  if (rc)
    fail_msg("%s: written text does not parse: %s\n%s", label, fmt_err(&err), t1);
  if (!fray_script_equal(s, back))
    fail_msg("%s: round trip changed the script:\n%s", label, t1);
  /* Canonical means a fixed point: writing the re-read script gives the
   * same text. */
  assert_int_equal(fray_script_write_mem(back, &t2, &n2), 0);
  if (n1 != n2 || memcmp(t1, t2, n1))
    fail_msg("%s: not a fixed point:\n%s\n---\n%s", label, t1, t2);
  fray_script_text_free(s, t1);
  fray_script_text_free(back, t2);
  fray_script_free(back);
}

static void test_write_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof write_cases / sizeof write_cases[0]; i++) {
    fray_script_t *s;
    fray_script_error_t err;
    if (parse_str(&s, write_cases[i].text, NULL, &err))
      fail_msg("%s: %s", write_cases[i].label, fmt_err(&err));
    char *t;
    assert_int_equal(fray_script_write_mem(s, &t, NULL), 0);
    if (strcmp(t, write_cases[i].canon) != 0)
      fail_msg("%s:\n got:\n%s\n want:\n%s", write_cases[i].label, t, write_cases[i].canon);
    fray_script_text_free(s, t);
    roundtrip(s, write_cases[i].label);
    fray_script_free(s);
  }
  /* Every valid table script round-trips too. */
  for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
    fray_script_t *s;
    assert_int_equal(parse_str(&s, ok_cases[i].text, NULL, NULL), 0);
    roundtrip(s, ok_cases[i].label);
    fray_script_free(s);
  }
}

static void test_write_file(void **state) {
  (void)state;
  fray_script_t *s;
  assert_int_equal(parse_str(&s, "open a\na > \"y\" * 9000 | \"z\"\n", NULL, NULL), 0);
  mkdir(TMPDIR, 0777);
  FILE *f = fopen(TMPDIR "/w.fray", "w+b");
  assert_non_null(f);
  assert_int_equal(fray_script_write(s, f), 0);
  fclose(f);
  fray_script_t *back;
  assert_int_equal(fray_script_load(&back, TMPDIR "/w.fray", NULL, NULL), 0);
  assert_true(fray_script_equal(s, back));
  fray_script_free(back);
  fray_script_free(s);
}

/* Deterministic xorshift so failures reproduce. */
static uint64_t rng_next(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* Builds random scripts (binary bytes, runs, cuts, every kind) with the
 * builder and checks write -> parse gives them back. */
/* The builder takes spans as the parser does: 1 ms to a year, a WAIT with
 * no client (none need exist), EXPECT_NOTHING by an open client only. */
static void test_builder_spans(void **state) {
  (void)state;
  fray_script_t *s;
  assert_int_equal(fray_script_new(&s, NULL), 0);
  assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_WAIT, .ms = 1}), 0);
  assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_WAIT, .ms = 0}),
                   FRAY_EINVAL);
  assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_WAIT,
                                                          .ms = FRAY_SCRIPT_MAX_WAIT_MS + 1}),
                   FRAY_EINVAL);
  assert_int_equal(fray_script_add_canary_step(s, &(fray_step_t){.kind = FRAY_STEP_WAIT, .ms = 5}),
                   FRAY_EINVAL);
  size_t a;
  assert_int_equal(fray_script_add_client(s, "a", &a), 0);
  fray_step_t nothing = {.kind = FRAY_STEP_EXPECT_NOTHING, .client = a, .ms = 7};
  assert_int_equal(fray_script_add_step(s, &nothing), FRAY_ESTATE);
  assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = a}), 0);
  nothing.ms = 0;
  assert_int_equal(fray_script_add_step(s, &nothing), FRAY_EINVAL);
  nothing.ms = FRAY_SCRIPT_MAX_WAIT_MS;
  assert_int_equal(fray_script_add_step(s, &nothing), 0);
  /* A span on another kind is not kept. */
  assert_int_equal(
      fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_EXPECT_ANY, .client = a, .ms = 9}),
      0);
  size_t n;
  const fray_step_t *v = fray_script_steps(s, &n);
  assert_int_equal(n, 4);
  assert_int_equal(v[3].ms, 0);
  char *text;
  assert_int_equal(fray_script_write_mem(s, &text, NULL), 0);
  assert_string_equal(text, "wait 1ms\nopen a\na < nothing for 8784h\na < any\n");
  fray_script_text_free(s, text);
  char buf[32];
  assert_string_equal(fray_script_span_format(5400000, buf, sizeof buf), "90m");
  assert_string_equal(fray_script_span_format(7200000, buf, sizeof buf), "2h");
  assert_string_equal(fray_script_span_format(1001, buf, sizeof buf), "1001ms");
  fray_script_free(s);
}

static void test_roundtrip_random(void **state) {
  (void)state;
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (int iter = 0; iter < 300; iter++) {
    fray_script_t *s;
    assert_int_equal(fray_script_new(&s, NULL), 0);
    size_t c[3];
    assert_int_equal(fray_script_add_client(s, "alice", &c[0]), 0);
    assert_int_equal(fray_script_add_client(s, "bob", &c[1]), 0);
    assert_int_equal(fray_script_add_client(s, "c-3", &c[2]), 0);
    if (iter % 3 == 0)
      assert_int_equal(fray_script_set_handler(s, iter % 2 ? "echo" : "my \"quoted\" one"), 0);
    for (int i = 0; i < 3; i++)
      assert_int_equal(
          fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = c[i]}), 0);
    uint8_t buf[300];
    size_t cuts[8];
    int nsteps = (int)(rng_next(&x) % 12);
    for (int k = 0; k < nsteps; k++) {
      size_t len = rng_next(&x) % sizeof buf;
      int style = (int)(rng_next(&x) % 4);
      for (size_t i = 0; i < len; i++) {
        uint64_t r = rng_next(&x);
        buf[i] = style == 0   ? (uint8_t)r
                 : style == 1 ? (uint8_t)(0x20 + r % 95)
                 : style == 2 ? (uint8_t) "ab\r\n\0\xff"[r % 6]
                              : (i && r % 8 ? buf[i - 1] : (uint8_t)r);
      }
      size_t ncuts = 0;
      for (size_t pos = 1 + rng_next(&x) % 40; pos < len && ncuts < 8; pos += 1 + rng_next(&x) % 60)
        cuts[ncuts++] = pos;
      fray_step_t st = {.client = c[rng_next(&x) % 3], .data = buf, .len = len};
      if (rng_next(&x) % 2) {
        st.kind = FRAY_STEP_SEND;
        st.cuts = cuts;
        st.ncuts = ncuts;
      } else {
        st.kind = FRAY_STEP_EXPECT;
      }
      if (rng_next(&x) % 10 == 0)
        assert_int_equal(fray_script_add_canary_step(s, &st), 0);
      else
        assert_int_equal(fray_script_add_step(s, &st), 0);
      /* Spans of any size and unit, as waits and as `< nothing for`. */
      uint64_t ms = 1 + rng_next(&x) % (rng_next(&x) % 2 ? 5000 : FRAY_SCRIPT_MAX_WAIT_MS);
      if (rng_next(&x) % 4 == 0)
        ms = (ms % 100 + 1) * (rng_next(&x) % 2 ? 3600000 : 60000);
      fray_step_t span = {.kind = rng_next(&x) % 2 ? FRAY_STEP_WAIT : FRAY_STEP_EXPECT_NOTHING,
                          .client = c[rng_next(&x) % 3],
                          .ms = ms};
      if (rng_next(&x) % 3 == 0)
        assert_int_equal(fray_script_add_step(s, &span), 0);
    }
    assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_EXPECT_GLOB,
                                                            .client = c[1],
                                                            .data = (const uint8_t *)"*\x01\"",
                                                            .len = 3}),
                     0);
    assert_int_equal(
        fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_SHUTDOWN, .client = c[0]}), 0);
    assert_int_equal(
        fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_EXPECT_EOF, .client = c[0]}), 0);
    assert_int_equal(
        fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_RESET, .client = c[2]}), 0);
    roundtrip(s, "random");
    fray_script_free(s);
  }
}

/* ------------------------------------------------------------ builder */

/* Reading steps carry their count in len: 0 stops, N grants, FRAY_READ_ALL
 * resumes; the builder copies it and the kind is named "read". */
static void test_read_steps(void **state) {
  (void)state;
  fray_script_t *s;
  fray_script_error_t err;
  static const char text[] = "open a\na stops reading\na reads 4096\na resumes reading\n";
  assert_int_equal(parse_str(&s, text, NULL, &err), 0);
  size_t n;
  const fray_step_t *v = fray_script_steps(s, &n);
  assert_int_equal(n, 4);
  static const size_t want[] = {0, 4096, FRAY_READ_ALL};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(v[i + 1].kind, FRAY_STEP_READ);
    assert_true(v[i + 1].reads == want[i]);
    assert_null(v[i + 1].data);
    assert_int_equal(v[i + 1].len, 0);
  }
  assert_string_equal(fray_step_kind_name(FRAY_STEP_READ), "read");
  fray_script_t *b;
  size_t a;
  assert_int_equal(fray_script_new(&b, NULL), 0);
  assert_int_equal(fray_script_add_client(b, "a", &a), 0);
  assert_int_equal(fray_script_add_step(b, &(fray_step_t){.kind = FRAY_STEP_READ, .client = a}),
                   FRAY_ESTATE); /* not open yet */
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(fray_script_add_step(b, &v[i]), 0);
  assert_true(fray_script_equal(s, b));
  fray_script_free(b);
  fray_script_free(s);
}

static void test_builder(void **state) {
  (void)state;
  fray_script_t *s;
  assert_int_equal(fray_script_new(NULL, NULL), FRAY_EINVAL);
  assert_int_equal(fray_script_new(&s, NULL), 0);
  size_t a, b, idx;
  assert_int_equal(fray_script_add_client(s, "alice", &a), 0);
  assert_int_equal(fray_script_add_client(s, "alice", &idx), 0);
  assert_int_equal(idx, a);
  assert_int_equal(fray_script_add_client(s, "bob", &b), 0);
  assert_int_equal(fray_script_nclients(s), 2);
  assert_string_equal(fray_script_client_name(s, b), "bob");
  assert_null(fray_script_client_name(s, 2));
  assert_int_equal(fray_script_client_find(s, "bob", &idx), 0);
  assert_int_equal(idx, b);
  assert_int_equal(fray_script_client_find(s, "carol", &idx), FRAY_ENOENT);
  static const char *const bad_names[] = {"",
                                          "1x",
                                          "a b",
                                          "eof",
                                          "file",
                                          "a.b",
                                          ("a2345678901234567890123456789012345678901234567890"
                                           "123456789012345")};
  for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
    assert_int_equal(fray_script_add_client(s, bad_names[i], &idx), FRAY_EINVAL);
  assert_int_equal(fray_script_set_handler(s, ""), FRAY_EINVAL);
  assert_int_equal(fray_script_set_handler(s, "a\nb"), FRAY_EINVAL);
  assert_int_equal(fray_script_set_handler(s, "first"), 0);
  assert_int_equal(fray_script_set_handler(s, "echo"), 0);
  assert_string_equal(fray_script_handler(s), "echo");

  const uint8_t *ping = (const uint8_t *)"PING\r\n";
  /* Connection state is enforced like in the parser. */
  assert_int_equal(
      fray_script_add_step(
          s, &(fray_step_t){.kind = FRAY_STEP_SEND, .client = a, .data = ping, .len = 6}),
      FRAY_ESTATE);
  assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = a}), 0);
  assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = a}),
                   FRAY_ESTATE);
  /* Malformed steps. */
  static const size_t c0[] = {0}, c6[] = {6}, c33[] = {3, 3}, c42[] = {4, 2}, c15[] = {1, 5};
  const size_t *badcuts[] = {c0, c6, c33, c42};
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_SEND,
                                                            .client = a,
                                                            .data = ping,
                                                            .len = 6,
                                                            .cuts = badcuts[i],
                                                            .ncuts = i < 2 ? 1 : 2}),
                     FRAY_EINVAL);
  assert_int_equal(
      fray_script_add_step(
          s, &(fray_step_t){.kind = FRAY_STEP_SEND, .client = 7, .data = ping, .len = 6}),
      FRAY_EINVAL);
  assert_int_equal(
      fray_script_add_step(s, &(fray_step_t){.kind = (fray_step_kind_t)99, .client = a}),
      FRAY_EINVAL);
  assert_int_equal(
      fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_SEND, .client = a, .len = 2}),
      FRAY_EINVAL);
  assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_EXPECT_REGEX,
                                                          .client = a,
                                                          .data = (const uint8_t *)"a(",
                                                          .len = 2}),
                   FRAY_EINVAL);
  assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_EXPECT_GLOB,
                                                          .client = a,
                                                          .data = (const uint8_t *)"a\0b",
                                                          .len = 3}),
                   FRAY_EINVAL);
  assert_int_equal(
      fray_script_add_canary_step(s, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = b}),
      FRAY_EINVAL);
  assert_int_equal(
      fray_script_add_canary_step(s, &(fray_step_t){.kind = FRAY_STEP_EXPECT_EOF, .client = b}),
      FRAY_EINVAL);

  /* The bytes are copied: changing the caller's buffer changes nothing. */
  uint8_t mine[6];
  memcpy(mine, ping, 6);
  assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_SEND,
                                                          .client = a,
                                                          .data = mine,
                                                          .len = 6,
                                                          .cuts = c15,
                                                          .ncuts = 2,
                                                          .line = 9,
                                                          .column = 4}),
                   0);
  memset(mine, 'z', 6);
  assert_int_equal(
      fray_script_add_canary_step(
          s, &(fray_step_t){.kind = FRAY_STEP_SEND, .client = b, .data = ping, .len = 6}),
      0);
  assert_int_equal(
      fray_script_add_canary_step(s, &(fray_step_t){.kind = FRAY_STEP_EXPECT_REGEX,
                                                    .client = b,
                                                    .data = (const uint8_t *)"PONG\r\n",
                                                    .len = 6}),
      0);
  assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_CLOSE, .client = a}),
                   0);

  char *d = dump(s);
  assert_string_equal(d, "handler echo\n"
                         "canary 0:0 send bob \"PING\\x0d\\x0a\"\n"
                         "canary 0:0 expect-regex bob \"PONG\\x0d\\x0a\"\n"
                         "0:0 open alice\n"
                         "9:4 send alice \"PING\\x0d\\x0a\" 1,5\n"
                         "0:0 close alice\n");
  free(d);
  char *t;
  size_t n;
  assert_int_equal(fray_script_write_mem(s, &t, &n), 0);
  assert_string_equal(t, "@handler echo\n"
                         "@canary bob > \"PING\\r\\n\"\n"
                         "@canary bob < ~ \"PONG\\r\\n\"\n"
                         "open alice\n"
                         "alice > \"P\" | \"ING\\r\" | \"\\n\"\n"
                         "close alice\n");
  fray_script_text_free(s, t);
  assert_string_equal(fray_step_kind_name(FRAY_STEP_EXPECT_EOF_OPT), "expect-eof-optional");
  assert_string_equal(fray_step_kind_name((fray_step_kind_t)42), "unknown");
  fray_script_free(s);
}

static void test_equal(void **state) {
  (void)state;
  fray_script_t *a, *b;
  assert_int_equal(parse_str(&a, "open x\nopen y\nx > \"1\" | \"2\"", NULL, NULL), 0);
  /* Client numbering differs; the scripts are still equal. */
  assert_int_equal(
      parse_str(&b, "@canary y > \"q\"\nopen x\nopen y\nx > \"1\" | \"2\"", NULL, NULL), 0);
  assert_false(fray_script_equal(a, b));
  fray_script_free(b);
  assert_int_equal(parse_str(&b, "# c\nopen x\nopen y\nx > \"1\" \"2\"", NULL, NULL), 0);
  assert_false(fray_script_equal(a, b)); /* cuts differ */
  fray_script_free(b);
  assert_int_equal(parse_str(&b, "open x\n\nopen y\nx > \"1\" | hex \"32\"", NULL, NULL), 0);
  assert_true(fray_script_equal(a, b));
  fray_script_free(b);
  assert_int_equal(parse_str(&b, "@handler h\nopen x\nopen y\nx > \"1\" | \"2\"", NULL, NULL), 0);
  assert_false(fray_script_equal(a, b));
  fray_script_free(b);
  fray_script_free(a);
}

/* ------------------------------------------------- failing allocations */

typedef struct failmem {
  long count;   /* allocations so far */
  long fail_at; /* fail the allocation with this number (1-based); 0: never */
  long live;    /* blocks not yet freed */
} failmem_t;

static void *fm_malloc(size_t n, void *ud) {
  failmem_t *f = ud;
  if (++f->count == f->fail_at)
    return NULL;
  void *p = malloc(n);
  if (p)
    f->live++;
  return p;
}

static void *fm_realloc(void *p, size_t n, void *ud) {
  failmem_t *f = ud;
  if (++f->count == f->fail_at)
    return NULL;
  void *q = realloc(p, n);
  if (q && !p)
    f->live++;
  return q;
}

static void fm_free(void *p, void *ud) {
  failmem_t *f = ud;
  if (p)
    f->live--;
  free(p);
}

static void test_parse_failing_alloc(void **state) {
  (void)state;
  mkdir(TMPDIR, 0777);
  write_file(TMPDIR "/fm.bin", "FILE", 4);
  static const char *const texts[] = {
      "@handler chat\n@canary p > \"PING\" | \"\\r\\n\"\n@canary p < ~ \"PONG.*\"\n"
      "open a\nopen b\nopen c\nopen d\nopen e\nopen f\nopen g\nopen h\nopen i\n"
      "a > \"x\" * 300 | file fm.bin | file \"fm.bin\" hex \"00ff\" | \"1\" | \"2\" | \"3\" | "
      "\"4\" "
      "| \"5\" | \"6\" | \"7\" | \"8\" | \"9\"\n"
      "b < glob \"*\"\nc > eof\nd < eof\ne < eof?\nf > \"1\"\nf > \"2\"\nf > \"3\"\nf > \"4\"\n"
      "f > \"5\"\nf > \"6\"\nf > \"7\"\nf > \"8\"\nf > \"9\"\nf > \"10\"\nf > \"11\"\nf > \"12\"\n"
      "f > \"13\"\nf > \"14\"\nf > \"15\"\nf > \"16\"\nf > \"17\"\nclose a\nreset b\n",
      /* Fails late with a syntax error: allocation failures before that
       * must still give ENOMEM, afterwards ESYNTAX. */
      "open a\na > \"x\" * 100\nb > \"y\"\n",
  };
  static const int final_rc[] = {0, FRAY_ESYNTAX};
  static const long min_allocs[] = {30, 5};
  for (size_t t = 0; t < 2; t++) {
    long total = -1;
    for (long k = 1; k < 10000; k++) {
      failmem_t f = {.fail_at = k};
      fray_mem_t mem = {fm_malloc, fm_realloc, fm_free, &f};
      fray_script_opts_t o;
      fray_script_opts_init(&o);
      o.mem = &mem;
      o.base_dir = TMPDIR;
      fray_script_t *s = (fray_script_t *)1;
      fray_script_error_t err;
      int rc = parse_str(&s, texts[t], &o, &err);
      if (f.count < k) { /* no allocation failed: the run is complete */
        assert_int_equal(rc, final_rc[t]);
        if (s) {
          char *w;
          /* The writer's failures are clean too. */
          for (long j = f.count + 1;; j++) {
            f.fail_at = j;
            long before = f.count;
            int wrc = fray_script_write_mem(s, &w, NULL);
            if (f.count - before < j - before) {
              assert_int_equal(wrc, 0);
              fray_script_text_free(s, w);
              break;
            }
            assert_int_equal(wrc, FRAY_ENOMEM);
            assert_null(w);
            f.count = before;
          }
          fray_script_free(s);
        }
        assert_int_equal(f.live, 0);
        total = k - 1;
        break;
      }
      if (rc != FRAY_ENOMEM)
        fail_msg("text %zu, failing allocation %ld: rc %d (%s)", t, k, rc, fmt_err(&err));
      assert_null(s);
      assert_string_equal(err.message, "out of memory");
      assert_int_equal(f.live, 0);
    }
    /* The loop really covered the allocations (counts measured). */
    if (total < min_allocs[t])
      fail_msg("text %zu: only %ld allocations", t, total);
  }
}

static void test_builder_failing_alloc(void **state) {
  (void)state;
  static const size_t cuts[] = {1, 2};
  long k;
  for (k = 1; k < 1000; k++) {
    failmem_t f = {.fail_at = k};
    fray_mem_t mem = {fm_malloc, fm_realloc, fm_free, &f};
    fray_script_t *s = NULL;
    size_t a;
    int rc = fray_script_new(&s, &mem);
    if (!rc)
      rc = fray_script_add_client(s, "a", &a);
    if (!rc)
      rc = fray_script_set_handler(s, "h");
    if (!rc)
      rc = fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = a});
    for (int i = 0; !rc && i < 20; i++)
      rc = fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_SEND,
                                                  .client = a,
                                                  .data = (const uint8_t *)"xyz",
                                                  .len = 3,
                                                  .cuts = cuts,
                                                  .ncuts = 2});
    if (!rc)
      rc = fray_script_add_canary_step(
          s, &(fray_step_t){
                 .kind = FRAY_STEP_EXPECT, .client = a, .data = (const uint8_t *)"q", .len = 1});
    fray_script_free(s);
    assert_int_equal(f.live, 0);
    if (f.count < k) {
      assert_int_equal(rc, 0);
      break;
    }
    assert_int_equal(rc, FRAY_ENOMEM);
  }
  assert_true(k > 20);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_valid_table),
      cmocka_unit_test(test_parse_error_table),
      cmocka_unit_test(test_parse_args),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_large_repetition),
      cmocka_unit_test(test_write_text_bound),
      cmocka_unit_test(test_big_recording_loads),
      cmocka_unit_test(test_file_pieces),
      cmocka_unit_test(test_write_table),
      cmocka_unit_test(test_write_file),
      cmocka_unit_test(test_roundtrip_random),
      cmocka_unit_test(test_builder_spans),
      cmocka_unit_test(test_read_steps),
      cmocka_unit_test(test_builder),
      cmocka_unit_test(test_equal),
      cmocka_unit_test(test_parse_failing_alloc),
      cmocka_unit_test(test_builder_failing_alloc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
