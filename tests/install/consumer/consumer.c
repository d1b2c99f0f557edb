/* A program written the way a user of an installed libfray would write it:
 * only <fray/fray.h>, only public symbols. It frames a few chat lines fed one
 * byte at a time and checks every frame, the truncated tail and the version,
 * so a library that installs but does not work fails here too.
 * Exit status 0 when everything matched, 1 otherwise (the reason on stderr). */
#include <stdio.h>
#include <string.h>

#include <fray/fray.h>

#ifndef EXPECTED_VERSION
#error "build with -DEXPECTED_VERSION=\"x.y.z\""
#endif

static const char *const expected[] = {"NICK alice", "MSG #fray hello", "", "QUIT"};
#define NEXPECTED (sizeof expected / sizeof expected[0])

typedef struct seen {
  size_t frames;
  int bad;
  size_t truncated_len;
} seen_t;

static int on_frame(fray_framer_t *f, const fray_frame_t *fr, void *user_data) {
  seen_t *s = user_data;
  (void)f;
  if (s->frames >= NEXPECTED || fr->len != strlen(expected[s->frames]) ||
      memcmp(fr->data, expected[s->frames], fr->len) != 0) {
    fprintf(stderr, "consumer: frame %zu: got '%.*s'\n", s->frames, (int)fr->len,
            (const char *)fr->data);
    s->bad = 1;
  }
  s->frames++;
  return 0;
}

static int on_truncated(fray_framer_t *f, const fray_frame_t *fr, void *user_data) {
  seen_t *s = user_data;
  (void)f;
  s->truncated_len = fr->len;
  return 0;
}

int main(void) {
  /* CRLF, bare LF and an empty line, then an unterminated tail. */
  static const char input[] = "NICK alice\r\nMSG #fray hello\n\r\nQUIT\r\nPAR";
  seen_t s = {0, 0, 0};
  fray_framer_callbacks_t cb;
  fray_framer_t *f = NULL;
  int failed = 0;

  /* The generated header and the library must agree with the project. */
  if (strcmp(FRAY_VERSION_STRING, EXPECTED_VERSION) != 0) {
    fprintf(stderr, "consumer: fray/version.h says %s, expected %s\n", FRAY_VERSION_STRING,
            EXPECTED_VERSION);
    failed = 1;
  }
  if (strcmp(fray_version(), EXPECTED_VERSION) != 0) {
    fprintf(stderr, "consumer: fray_version() is %s, expected %s\n", fray_version(),
            EXPECTED_VERSION);
    failed = 1;
  }

  fray_framer_callbacks_init(&cb);
  cb.on_frame = on_frame;
  cb.on_truncated = on_truncated;
  fray_spec_t spec = fray_spec_line();
  int rc = fray_framer_new(&f, &spec, &cb, NULL, &s);
  if (rc != 0) {
    fprintf(stderr, "consumer: fray_framer_new: %s\n", fray_strerror(rc));
    return 1;
  }
  /* One byte per feed: the "\r\n" is always cut in two. */
  for (size_t i = 0; i + 1 < sizeof input; i++) {
    fray_ssize_t n = fray_framer_feed(f, (const uint8_t *)input + i, 1);
    if (n != 1) {
      fprintf(stderr, "consumer: feed at %zu returned %td (%s)\n", i, n, fray_err_name((int)n));
      failed = 1;
      break;
    }
  }
  rc = fray_framer_finish(f);
  if (rc != FRAY_ETRUNCATED || s.truncated_len != 3) {
    fprintf(stderr,
            "consumer: finish returned %s with %zu truncated bytes, expected ETRUNCATED "
            "with 3\n",
            fray_err_name(rc), s.truncated_len);
    failed = 1;
  }
  fray_framer_free(f);
  if (s.frames != NEXPECTED || s.bad) {
    fprintf(stderr, "consumer: %zu frames (%s), expected %zu\n", s.frames,
            s.bad ? "some wrong" : "all right", (size_t)NEXPECTED);
    failed = 1;
  }
  if (!failed)
    printf("consumer: fray %s framed %zu lines and a truncated tail as expected\n", fray_version(),
           s.frames);
  return failed;
}
