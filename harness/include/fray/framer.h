/* fray/framer.h: the framing engine. A framer is fed chunks of a byte stream
 * of any size and emits frames through callbacks. It never does I/O.
 *
 *   fray_framer_callbacks_t cb;
 *   fray_framer_callbacks_init(&cb);
 *   cb.on_frame = my_frame;               // borrowed bytes, valid for the call
 *   fray_spec_t spec = fray_spec_line();  // or _delim/_count/_length/_raw
 *   fray_framer_t *f;
 *   if (fray_framer_new(&f, &spec, &cb, NULL, ctx) == 0) {
 *     while ((n = read(fd, buf, sizeof buf)) > 0) fray_framer_feed(f, buf, n);
 *     fray_framer_finish(f);              // reports a truncated last frame
 *     fray_framer_free(f);
 *   }
 *
 * Frame boundaries never depend on how the stream is chunked: feeding the
 * same bytes in reads of any sizes emits the same frames, errors and offsets.
 * For the delim and count modes the frames equal what Python's asynchat
 * delivers for the same bytes. */
#ifndef FRAY_FRAMER_H
#define FRAY_FRAMER_H

#include "fray/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fray_framer fray_framer_t;

/* Maximum frame length used when a spec says 0. */
#define FRAY_DEFAULT_MAX_FRAME ((size_t)65536)
#define FRAY_MAX_DELIM 16 /* longest delimiter, in bytes */
#define FRAY_MAX_DELIMS 8 /* delimiters in one FRAY_MODE_DELIMS set */
#define FRAY_MAX_LENGTH_OFFSET ((size_t)65536)
#define FRAY_MAX_TEXT_AFFIX 4 /* text mode: longest prefix, terminator, trailer */
#define FRAY_MAX_TEXT_EXT 256 /* text mode: longest extension after the digits */

typedef enum fray_mode {
  FRAY_MODE_DELIM = 0, /* frame = bytes before a 1-16 byte delimiter */
  FRAY_MODE_LINE,      /* delimiter "\n"; one "\r" before it is stripped */
  FRAY_MODE_COUNT,     /* exactly `count` bytes, re-armed until changed */
  FRAY_MODE_LENGTH,    /* length-prefixed (Netty LengthFieldBasedFrameDecoder) */
  FRAY_MODE_RAW,       /* no framing: every chunk passed on as it arrives */
  FRAY_MODE_DELIMS,    /* any of 1-8 delimiters; the earliest one ends the frame */
  FRAY_MODE_BYTESET,   /* any byte of a set ends the frame */
  FRAY_MODE_TEXTLEN    /* a length written in digits, then the payload (netstring, ...) */
} fray_mode_t;

typedef enum fray_overflow {
  FRAY_OVERFLOW_ERROR = 0, /* report FRAY_ETOOLONG and stop (sticky) */
  FRAY_OVERFLOW_SKIP       /* report once, discard to the next boundary, go on */
} fray_overflow_t;

typedef enum fray_lenfield {
  FRAY_LEN_U8 = 0,
  FRAY_LEN_U16BE,
  FRAY_LEN_U16LE,
  FRAY_LEN_U32BE,
  FRAY_LEN_U32LE,
  FRAY_LEN_U64BE,
  FRAY_LEN_U64LE,
  FRAY_LEN_VARINT, /* unsigned LEB128, at most 10 bytes */
  FRAY_LEN_UBE,    /* unsigned big endian, length.width bytes (1-8): 3-byte fields */
  FRAY_LEN_ULE     /* unsigned little endian, length.width bytes (1-8) */
} fray_lenfield_t;

/* For fray_spec_t.length.strip: strip the whole header (offset bytes plus
 * the length field, whatever width a varint had). */
#define FRAY_STRIP_HEADER SIZE_MAX

/* How to cut the stream. A value type: copied by the framer.
 *
 * max_frame bounds the payload a frame may have (the delimiter is not
 * counted; in line mode neither is the stripped "\r"). 0 means
 * FRAY_DEFAULT_MAX_FRAME, never "unlimited". In length and text modes it
 * bounds the frame as emitted (after stripping); a length over it is
 * FRAY_EBADLEN. In raw mode chunks larger than max_frame are passed on in
 * pieces of max_frame.
 *
 * delims mode (Netty's DelimiterBasedFrameDecoder with a list): the frame
 * ends at the earliest place where any delimiter of the set starts; where
 * two start at the same byte, the first in the list wins. A delimiter that
 * could still complete at the end of what has arrived is waited for, so the
 * frames never depend on the chunking. byteset mode (tokio's
 * AnyDelimiterCodec): any byte whose bit is set in byteset ends the frame.
 * Both honour delim.keep.
 *
 * length mode (Netty's vocabulary): the frame on the wire is `offset` bytes,
 * the length field, then the body. The body's size is the field's value plus
 * `adjust` (negative when the value also counts header bytes). The emitted
 * frame is the whole wire frame minus its first `strip` bytes
 * (FRAY_STRIP_HEADER, the default of fray_spec_length(), strips the header).
 * strip may reach past the header into the body (Netty's
 * initialBytesToStrip); a frame shorter than strip is FRAY_EBADLEN. An
 * adjustment that makes the body size negative is FRAY_EBADLEN and always
 * fatal.
 *
 * text mode: the frame on the wire is `prefix`, one or more digits in
 * `base` (10 or 16; at most 20 and 16 digits), optionally `ext` and any
 * bytes up to the terminator (at most FRAY_MAX_TEXT_EXT: HTTP's chunk
 * extensions after ';'), `term`, the payload of that many bytes, then
 * `trailer`. The payload is emitted. A wrong byte where a digit, the
 * terminator or the trailer must be is FRAY_EBADLEN, fatal. With
 * zero_no_trailer, a zero length frame ends at its terminator (HTTP's last
 * chunk, after which the trailer section is the handler's to read). */
typedef struct fray_spec {
  fray_mode_t mode;
  size_t max_frame;
  fray_overflow_t on_overflow;
  struct {
    uint8_t bytes[FRAY_MAX_DELIM];
    size_t len; /* 1..FRAY_MAX_DELIM */
    int keep;   /* nonzero: the delimiter stays at the end of the frame
                   (delim, delims and byteset modes) */
  } delim;
  size_t count; /* count mode: 1..max_frame */
  struct {
    fray_lenfield_t field;
    size_t offset;  /* header bytes before the length field */
    int64_t adjust; /* added to the field's value to give the body size */
    size_t strip;   /* bytes cut from the front of the emitted frame */
    size_t width;   /* FRAY_LEN_UBE/ULE: the field's bytes, 1..8 */
  } length;
  struct {
    size_t n; /* 1..FRAY_MAX_DELIMS */
    uint8_t len[FRAY_MAX_DELIMS];
    uint8_t bytes[FRAY_MAX_DELIMS][FRAY_MAX_DELIM];
  } delims;
  uint8_t byteset[32]; /* bit (b & 7) of byte b / 8 set: byte b ends a frame */
  struct {
    uint8_t prefix[FRAY_MAX_TEXT_AFFIX], prefix_len;   /* 0..4 bytes */
    uint8_t base;                                      /* 10 or 16 */
    uint8_t ext;                                       /* 0: no extension */
    uint8_t term[FRAY_MAX_TEXT_AFFIX], term_len;       /* 1..4 bytes */
    uint8_t trailer[FRAY_MAX_TEXT_AFFIX], trailer_len; /* 0..4 bytes */
    int zero_no_trailer;
  } text;
} fray_spec_t;

/* Spec constructors: every other field zero (default maximum, error on
 * overflow). They do not validate; fray_framer_new/set_spec do. */
FRAY_EXTERN fray_spec_t fray_spec_line(void);
FRAY_EXTERN fray_spec_t fray_spec_raw(void);
FRAY_EXTERN fray_spec_t fray_spec_count(size_t count);
/* Copies len bytes of delim; len over FRAY_MAX_DELIM gives a spec that
 * fails validation with FRAY_EINVAL. */
FRAY_EXTERN fray_spec_t fray_spec_delim(const void *delim, size_t len);
FRAY_EXTERN fray_spec_t fray_spec_length(fray_lenfield_t field);
/* A length field of width bytes (1-8), big or little endian. */
FRAY_EXTERN fray_spec_t fray_spec_length_uint(size_t width, int little_endian);
/* An empty delims set; fray_spec_delims_add() appends one delimiter and
 * returns 0, or FRAY_EINVAL when it is empty, over FRAY_MAX_DELIM bytes, or
 * the set is full. */
FRAY_EXTERN fray_spec_t fray_spec_delims(void);
FRAY_EXTERN int fray_spec_delims_add(fray_spec_t *spec, const void *delim, size_t len);
/* The set of the n bytes at bytes. */
FRAY_EXTERN fray_spec_t fray_spec_byteset(const void *bytes, size_t n);
/* Text lengths: a netstring ("5:hello,"), a RESP bulk string
 * ("$5\r\nhello\r\n"; "$-1" is a bad length) and an HTTP/1.1 chunk
 * ("5;ext\r\nhello\r\n", the last chunk "0\r\n" emitted as an empty frame
 * before the trailer section). */
FRAY_EXTERN fray_spec_t fray_spec_netstring(void);
FRAY_EXTERN fray_spec_t fray_spec_resp_bulk(void);
FRAY_EXTERN fray_spec_t fray_spec_http_chunk(void);

/* FRAY_EINVAL with *why set to a static reason, or 0. why may be NULL. */
FRAY_EXTERN int fray_spec_validate(const fray_spec_t *spec, const char **why);

/* What the callbacks see of a frame. data is borrowed: it points into the
 * chunk being fed or into the framer's buffer and is valid only until the
 * callback returns. offset is the stream offset of the frame's first byte as
 * it is on the wire (before any stripping). */
typedef struct fray_frame {
  const uint8_t *data;
  size_t len;
  uint64_t offset;
} fray_frame_t;

/* A framing error. offset is where the offending frame starts in the stream;
 * size is its length on the wire as far as known: for a skipped oversized
 * frame its full size, for a stopped one the bytes seen when the limit was
 * passed (more than max_frame), for FRAY_EBADLEN the decoded body size.
 * fatal is 1 when the framer has stopped (sticky until reset), 0 when it
 * skipped the frame and goes on. reason is a static string. */
typedef struct fray_frame_error {
  int code;
  uint64_t offset;
  uint64_t size;
  int fatal;
  const char *reason;
} fray_frame_error_t;

/* Frame callback: 0 to go on, FRAY_PAUSE to stop after this frame (feed
 * returns the bytes consumed so far, the caller feeds the rest later), or a
 * negative code to abort: the framer stops with FRAY_ECALLBACK (sticky) and
 * feed returns that code. The framer may be reconfigured (set_spec), closed
 * or freed from inside any callback. */
typedef int (*fray_frame_cb)(fray_framer_t *f, const fray_frame_t *frame, void *user_data);

/* Error callback, called once per error. Its return value is ignored for
 * fatal errors; for skipped frames it is read like fray_frame_cb's. */
typedef int (*fray_frame_error_cb)(fray_framer_t *f, const fray_frame_error_t *err,
                                   void *user_data);

/* Clear with fray_framer_callbacks_init(); NULL members are skipped. */
typedef struct fray_framer_callbacks {
  fray_frame_cb on_frame;
  fray_frame_error_cb on_error;
  /* Called by fray_framer_finish() with the bytes of an unfinished frame. */
  fray_frame_cb on_truncated;
} fray_framer_callbacks_t;

FRAY_EXTERN void fray_framer_callbacks_init(fray_framer_callbacks_t *cb);

/* Creates a framer. spec and callbacks are copied; mem may be NULL (the C
 * library allocator); user_data is stored and passed back untouched.
 * Returns 0, FRAY_EINVAL (bad spec) or FRAY_ENOMEM; *out is set to the framer
 * or to NULL on failure. */
FRAY_EXTERN int fray_framer_new(fray_framer_t **out, const fray_spec_t *spec,
                                const fray_framer_callbacks_t *callbacks, const fray_mem_t *mem,
                                void *user_data);

/* Frees the framer and its buffer; NULL is accepted. From inside a callback
 * the free is deferred until the callback's caller (feed/finish) returns,
 * which then returns FRAY_ECLOSED and must not touch the framer again. */
FRAY_EXTERN void fray_framer_free(fray_framer_t *f);

/* Feeds a chunk. Returns the number of bytes of data consumed (framed or
 * buffered: len unless a callback paused or closed), or a negative code:
 * FRAY_ETOOLONG / FRAY_EBADLEN / FRAY_ECALLBACK when framing stopped (also
 * reported through on_error; sticky: later feeds return the same code until
 * fray_framer_reset()), FRAY_ENOMEM (fatal: only free is allowed after it),
 * FRAY_ECLOSED after fray_framer_close() or a free from a callback.
 * data may be NULL when len is 0: that frames what is already buffered (after
 * a set_spec outside a callback, or a pause). */
FRAY_EXTERN fray_ssize_t fray_framer_feed(fray_framer_t *f, const uint8_t *data, size_t len);

/* Declares the end of the stream. Frames any complete frames still buffered,
 * then reports buffered bytes of an unfinished frame through on_truncated
 * and returns FRAY_ETRUNCATED; returns 0 when nothing was left. A stopped
 * framer returns its sticky code. Afterwards feed returns FRAY_ECLOSED until
 * reset. */
FRAY_EXTERN int fray_framer_finish(fray_framer_t *f);

/* Stops the framer: from a callback, delivery ends after the current frame
 * and feed returns the bytes consumed so far; later feeds return
 * FRAY_ECLOSED. Buffered bytes are kept (fray_framer_buffered() tells how
 * many) until reset or free. */
FRAY_EXTERN void fray_framer_close(fray_framer_t *f);

/* Changes the spec. From inside a callback it applies to the bytes right
 * after the frame being delivered, including bytes already fed and not yet
 * framed. Outside a callback it applies at once to what is buffered, which
 * is framed at the next feed (a feed of 0 bytes does it) or finish. Returns
 * 0 or FRAY_EINVAL (spec rejected, the old one stays). */
FRAY_EXTERN int fray_framer_set_spec(fray_framer_t *f, const fray_spec_t *spec);

/* The current spec (borrowed; valid until the next set_spec or free). */
FRAY_EXTERN const fray_spec_t *fray_framer_spec(const fray_framer_t *f);

/* Back to the start state: buffer emptied, errors and close cleared, stream
 * offset 0. Spec, callbacks, allocator and user_data are kept. Not allowed
 * from a callback (FRAY_ESTATE). */
FRAY_EXTERN int fray_framer_reset(fray_framer_t *f);

/* Called with bytes handed back by fray_framer_take_buffered(): borrowed,
 * valid for the call only. A negative return is passed on. */
typedef int (*fray_bytes_cb)(const uint8_t *data, size_t len, void *user_data);

/* Hands the bytes fed and not yet framed back to the caller, for a switch to
 * another protocol (an upgrade, STARTTLS, a proxy that stops framing: what
 * Twisted's clearLineBuffer does). From inside a callback: every byte after
 * the frame being delivered, the buffered ones and the rest of the chunk
 * being fed, in stream order (fn is called once or twice); the framer then
 * closes, and the feed in progress returns the whole chunk as consumed.
 * Outside a callback: the buffered bytes (an unfinished frame), after which
 * the buffer is empty and framing goes on with the next byte fed. fn is not
 * called when there is nothing. Returns 0, fn's negative result (the bytes
 * count as handed back all the same), or FRAY_EINVAL. */
FRAY_EXTERN int fray_framer_take_buffered(fray_framer_t *f, fray_bytes_cb fn, void *user_data);

/* The bytes that frame a payload of len bytes under spec, for senders:
 * what goes before it (a length field, a text length) and after it (the
 * delimiter, the trailer). Line mode ends frames with "\r\n"; delims mode
 * with its first delimiter; byteset mode with its lowest byte. Length mode
 * needs an offset of 0 and a strip of the whole header (the header is then
 * exactly the field), and writes the value the decoder turns back into len
 * (len minus adjust). Returns 0, or FRAY_EINVAL (a count mode len other than
 * count, a len over max_frame, a length that does not fit the field, or a
 * length header the encoder cannot write). */
typedef struct fray_frame_wrap {
  uint8_t head[32];
  size_t head_len;
  uint8_t tail[FRAY_MAX_DELIM];
  size_t tail_len;
} fray_frame_wrap_t;
FRAY_EXTERN int fray_spec_wrap(const fray_spec_t *spec, size_t len, fray_frame_wrap_t *out);

/* Bytes held in the framer's buffer (an unfinished frame). */
FRAY_EXTERN size_t fray_framer_buffered(const fray_framer_t *f);

/* Stream offset: total bytes consumed since creation or reset. */
FRAY_EXTERN uint64_t fray_framer_offset(const fray_framer_t *f);

/* The sticky error (0 when running), the offset it was found at and a static
 * reason string (NULL when running). */
FRAY_EXTERN int fray_framer_error(const fray_framer_t *f, uint64_t *offset, const char **reason);

/* The user_data given to fray_framer_new. */
FRAY_EXTERN void *fray_framer_user_data(const fray_framer_t *f);

/* Largest buffer capacity the framer can ever hold for a spec: the memory
 * bound (max_frame plus a constant per mode), for tests and fuzz oracles. */
FRAY_EXTERN size_t fray_spec_buffer_bound(const fray_spec_t *spec);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_FRAMER_H */
