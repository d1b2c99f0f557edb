# Contract tests of `fray frames` (label cli). Each case runs the real binary
# through tests/frames/check.sh, which compares the exit status, stdout (byte
# for byte against tests/frames/expected/<name>.out) and stderr (an ERE), so a
# wrong frame, a wrong exit code or a vague error message all fail.
#
# fray_frames_case(NAME RC EXPECTED|- STDERR_ERE|- ARGS...)
#   EXPECTED is a file name under tests/frames/expected/ or - for none;
#   STDERR_ERE is a grep -E pattern, ^$ for "stderr must be empty", - for any.
#   Inputs are named relative to tests/frames/input/ by the callers below.
if(NOT FRAY_BUILD_CLI)
  return()
endif()

set(FRAY_FRAMES_DIR ${PROJECT_SOURCE_DIR}/tests/frames)
set(FRAY_FRAMES_IN ${FRAY_FRAMES_DIR}/input)

function(fray_frames_case name rc expected stderr_re)
  if(expected STREQUAL "-")
    set(exp -)
  else()
    set(exp ${FRAY_FRAMES_DIR}/expected/${expected})
  endif()
  add_test(NAME cli.frames.${name}
           COMMAND sh ${FRAY_FRAMES_DIR}/check.sh $<TARGET_FILE:fray_cli> ${rc} ${exp}
                   ${stderr_re} ${ARGN})
  set_tests_properties(cli.frames.${name} PROPERTIES TIMEOUT 30 LABELS cli)
endfunction()

set(I ${FRAY_FRAMES_IN})

# Each format on one known input (line mode over a chat session).
fray_frames_case(line_text 0 line_text.out "^$" --line ${I}/chat.bin)
fray_frames_case(line_hex 0 line_hex.out "^$" --line --format hex ${I}/chat.bin)
fray_frames_case(line_json 0 line_json.out "^$" --line --format json ${I}/chat.bin)
fray_frames_case(line_count 0 line_count.out "^$" --line --format count ${I}/chat.bin)
fray_frames_case(line_stdin 0 line_text.out "^$" <${I}/chat.bin --line -)
fray_frames_case(line_stdin_implicit 0 line_text.out "^$" <${I}/chat.bin --line)
fray_frames_case(option_equals 0 line_hex.out "^$" --line --format=hex ${I}/chat.bin)

# Each mode.
fray_frames_case(delim_http 0 delim_http.out "^$" --delim \\r\\n\\r\\n ${I}/http.bin)
fray_frames_case(delim_keep 0 delim_keep.out "^$"
                 --delim \\r\\n\\r\\n --keep-delim --format hex ${I}/http.bin)
fray_frames_case(delim_crlf_keeps_bare_cr 0 delim_crlf.out "^$" --delim \\r\\n ${I}/chat.bin)
fray_frames_case(delim_nul_hex_escape 3 delim_nul.out "offset 10 \\(4 bytes left\\)"
                 --delim \\x00 --format hex ${I}/nul.bin)
fray_frames_case(count_json 0 count_json.out "^$" --count 4 --format json ${I}/records.bin)
fray_frames_case(length_4be 0 length_4be.out "^$" --length 4be --format hex ${I}/len4be.bin)
fray_frames_case(length_4be_keep_header 0 length_4be_keep.out "^$"
                 --length 4be --keep-header --format hex ${I}/len4be.bin)
fray_frames_case(length_2le 0 length_2le.out "^$" --length 2le ${I}/len2le.bin)
fray_frames_case(length_1 0 length_1.out "^$" --length 1 --format json ${I}/len1.bin)
fray_frames_case(length_8le 0 length_8le.out "^$" --length 8le ${I}/len8le.bin)
fray_frames_case(length_varint 0 length_varint.out "^$" --length varint --format hex ${I}/varint.bin)
fray_frames_case(length_offset_adjust 0 length_offset.out "^$"
                 --length 2be --length-offset 2 --length-adjust -4 ${I}/lenoff.bin)
fray_frames_case(length_offset_keep 0 length_offset_keep.out "^$"
                 --length 2be --length-offset 2 --length-adjust -4 --keep-header --format hex
                 ${I}/lenoff.bin)
# Any field width, any strip (Netty's 24-bit examples, initialBytesToStrip).
fray_frames_case(length_3be 3 length_3be.out "inside a frame at offset 24 \\(4 bytes left\\)"
                 --length 3be --format hex ${I}/len3be.bin)
fray_frames_case(length_3be_strip0 3 length_3be_strip0.out "offset 24"
                 --length 3be --strip 0 --format hex ${I}/len3be.bin)
fray_frames_case(length_3be_strip_body 1 length_3be_strip5.out
                 "framing error at offset 21: strip longer than the frame \\(EBADLEN"
                 --length 3be --strip 5 ${I}/len3be.bin)
fray_frames_case(length_5le 0 length_5le.out "^$" --length 5le ${I}/len5le.bin)
# Delimiter sets: the earliest wins, the first given on a tie; byte sets.
fray_frames_case(delims 3 delims.out "offset 24 \\(5 bytes left\\)"
                 --delim \\r\\n --delim \\n --delim \\0 --delim \\r\\n.\\r\\n ${I}/delims.bin)
fray_frames_case(delims_tie_keep 3 delims_keep.out "offset 24"
                 --delim \\r\\n.\\r\\n --delim \\r\\n --keep-delim --format json ${I}/delims.bin)
fray_frames_case(byteset 3 byteset.out "offset 12 \\(3 bytes left\\)"
                 --byteset " \\t\\n" ${I}/words.bin)
# Text lengths: the three presets and the general form.
fray_frames_case(netstring 3 netstring.out "offset 27 \\(4 bytes left\\)" --netstring ${I}/netstring.bin)
fray_frames_case(netstring_bad 1 netstring_bad.out
                 "framing error at offset 6: text length has no digits \\(EBADLEN"
                 --netstring ${I}/badnetstring.bin)
fray_frames_case(netstring_skip 3 netstring_skip.out
                 "warning: skipped frame at offset 11 \\(12 bytes\\)"
                 --netstring --max 4 --on-overflow skip ${I}/netstring.bin)
fray_frames_case(resp_bulk 3 resp_bulk.out "offset 36 \\(6 bytes left\\)"
                 --resp-bulk --format json ${I}/resp.bin)
fray_frames_case(http_chunk 0 http_chunk.out "^$" --http-chunk ${I}/chunked.bin)
fray_frames_case(textlen_http 0 http_chunk.out "^$"
                 --textlen base=16,term=\\r\\n,trailer=\\r\\n,ext=\\x3b,zero-no-trailer
                 ${I}/chunked.bin)
fray_frames_case(textlen 0 textlen.out "^$" --textlen "prefix=#,term=|,trailer=." ${I}/textlen.bin)
fray_frames_case(raw_chunks 0 raw_chunks.out "^$" --raw --chunks 100,60 --format hex ${I}/allbytes.bin)
fray_frames_case(text_all_bytes 0 text_all_bytes.out "^$" --count 32 ${I}/allbytes.bin)

# Exit 3: the input ends inside a frame; stderr names offset and bytes left.
fray_frames_case(trunc_line 3 trunc_line.out "inside a frame at offset 10 \\(19 bytes left\\)"
                 --line ${I}/chat_trunc.bin)
fray_frames_case(trunc_count 3 trunc_count.out "inside a frame at offset 6 \\(2 bytes left\\)"
                 --count 3 ${I}/records.bin)
fray_frames_case(trunc_count_format 3 trunc_count_format.out "offset 6"
                 --count 3 --format count ${I}/records.bin)
fray_frames_case(trunc_length 3 trunc_length.out "inside a frame at offset 8 \\(5 bytes left\\)"
                 --length 2be --length-offset 2 --length-adjust -5 ${I}/lenoff.bin)

# Exit 1: framing errors name the offset; skip turns them into warnings.
fray_frames_case(too_long 1 too_long.out "framing error at offset 7: .*ETOOLONG"
                 --line --max 10 ${I}/long.bin)
fray_frames_case(bad_length 1 - "framing error at offset 0: .*EBADLEN"
                 --length 4be ${I}/badlen.bin)
fray_frames_case(too_long_skip 0 too_long_skip.out
                 "warning: skipped frame at offset 7 \\(40 bytes\\)"
                 --line --max 10 --on-overflow skip ${I}/long.bin)
# Skip mode at the end of the stream: the skipped frame is still unfinished.
fray_frames_case(skip_trunc_delim 3 empty.out "inside a skipped frame at offset 0 \\(8 bytes left\\)"
                 --line --max 3 --on-overflow skip ${I}/skip_trunc.bin)
fray_frames_case(skip_trunc_delim_warns 3 - "warning: skipped frame at offset 0 \\(8 bytes\\)"
                 --line --max 3 --on-overflow skip ${I}/skip_trunc.bin)
fray_frames_case(skip_length 3 skip_length.out "inside a frame at offset 9 \\(1 bytes left\\)"
                 --length 1 --max 2 --on-overflow skip ${I}/skip_len.bin)
fray_frames_case(skip_length_warns 3 - "warning: skipped frame at offset 0 \\(5 bytes\\).*EBADLEN"
                 --length 1 --max 2 --on-overflow skip ${I}/skip_len.bin)
fray_frames_case(skip_length_trunc 3 empty.out "inside a skipped frame at offset 0"
                 --length 1 --max 2 --on-overflow skip ${I}/skip_len_trunc.bin)
fray_frames_case(empty_input 0 empty.out "^$" --line ${I}/empty.bin)
fray_frames_case(empty_input_count 0 zero.out "^$" --line --format count ${I}/empty.bin)

# Exit 2: usage errors name the offending value.
fray_frames_case(usage_unknown_escape 2 - "'\\\\q'" --delim \\q ${I}/chat.bin)
fray_frames_case(usage_bad_hex_escape 2 - "'\\\\xZ1'" --delim a\\xZ1 ${I}/chat.bin)
# Last argument: a trailing backslash would escape the list separator after it.
fray_frames_case(usage_trailing_backslash 2 - "unknown escape at .\\\\." ${I}/chat.bin --delim ab\\)
fray_frames_case(usage_long_delim 2 - "longer than 16" --delim 0123456789abcdefg ${I}/chat.bin)
fray_frames_case(usage_count_zero 2 - "--count.*'0'" --count 0 ${I}/chat.bin)
fray_frames_case(usage_count_negative 2 - "--count.*'-3'" --count -3 ${I}/chat.bin)
fray_frames_case(usage_count_text 2 - "--count.*'ten'" --count ten ${I}/chat.bin)
fray_frames_case(usage_max_zero 2 - "--max.*'0'" --line --max 0 ${I}/chat.bin)
fray_frames_case(usage_max_huge 2 - "--max.*'99999999999999999999999'"
                 --line --max 99999999999999999999999 ${I}/chat.bin)
fray_frames_case(usage_bad_field 2 - "'9be'" --length 9be ${I}/chat.bin)
fray_frames_case(usage_bad_field_order 2 - "'3xe'" --length 3xe ${I}/chat.bin)
fray_frames_case(usage_strip_text 2 - "--strip.*'x'" --length 1 --strip x ${I}/chat.bin)
fray_frames_case(usage_strip_too_long 2 - "--strip '99999999': strip longer"
                 --length 2be --strip 99999999 ${I}/chat.bin)
fray_frames_case(usage_strip_keep_header 2 - "--keep-header and --strip 1"
                 --length 1 --strip 1 --keep-header ${I}/chat.bin)
fray_frames_case(usage_strip_line 2 - "--strip applies to --length only" --line --strip 1 ${I}/chat.bin)
fray_frames_case(usage_delims_full 2 - "--delim 'i': at most 8"
                 --delim a --delim b --delim c --delim d --delim e --delim f --delim g --delim h
                 --delim i ${I}/chat.bin)
fray_frames_case(usage_delim_and_line 2 - "--line and --delim" --line --delim a ${I}/chat.bin)
fray_frames_case(usage_byteset_empty 2 - "--byteset '' is empty" --byteset= ${I}/chat.bin)
fray_frames_case(usage_byteset_escape 2 - "--byteset 'a\\\\q'" --byteset a\\q ${I}/chat.bin)
fray_frames_case(usage_textlen_base 2 - "--textlen 'base=7': base is 10 or 16" --textlen base=7 ${I}/chat.bin)
fray_frames_case(usage_textlen_key 2 - "unknown key 'foo'" --textlen term=:,foo=1 ${I}/chat.bin)
fray_frames_case(usage_textlen_noterm 2 - "--textlen 'base=16': text terminator"
                 --textlen base=16 ${I}/chat.bin)
fray_frames_case(usage_textlen_long 2 - "'abcde' is longer than 4 bytes"
                 --textlen prefix=abcde,term=: ${I}/chat.bin)
fray_frames_case(usage_textlen_ext 2 - "ext is one byte, got 'ab'" --textlen term=:,ext=ab ${I}/chat.bin)
fray_frames_case(usage_keep_delim_text 2 - "--keep-delim applies to --delim and --byteset only, not --netstring"
                 --netstring --keep-delim ${I}/chat.bin)
fray_frames_case(usage_bad_adjust 2 - "'-x'" --length 1 --length-adjust -x ${I}/chat.bin)
fray_frames_case(usage_missing_file 2 - "/nonexistent/capture.bin" --line /nonexistent/capture.bin)
fray_frames_case(usage_unknown_option 2 - "'--bogus'" --line --bogus ${I}/chat.bin)
fray_frames_case(usage_bad_format 2 - "'xml'" --line --format xml ${I}/chat.bin)
fray_frames_case(usage_bad_overflow 2 - "'drop'" --line --on-overflow drop ${I}/chat.bin)
fray_frames_case(usage_bad_chunks 2 - "'0'" --line --chunks 1,0,3 ${I}/chat.bin)
fray_frames_case(usage_huge_chunks 2 - "'1073741825'" --line --chunks 1073741825 ${I}/chat.bin)
fray_frames_case(usage_no_mode 2 - "no mode" ${I}/chat.bin)
fray_frames_case(usage_two_modes 2 - "--line and --count" --line --count 3 ${I}/chat.bin)
fray_frames_case(usage_missing_value 2 - "--count needs a value" --count)
fray_frames_case(usage_keep_delim_line 2 - "--keep-delim" --line --keep-delim ${I}/chat.bin)
fray_frames_case(usage_length_opt_line 2 - "--length-offset" --line --length-offset 2 ${I}/chat.bin)
fray_frames_case(usage_two_files 2 - "one input" --line ${I}/chat.bin ${I}/http.bin)
fray_frames_case(help 0 - "^$" --help)
# The help teaches: it must carry the three worked examples.
add_test(NAME cli.frames.help_examples
         COMMAND sh -c "\"$1\" frames --help | grep -q 'chat line protocol' && \"$1\" frames --help | grep -q 'HTTP headers' && \"$1\" frames --help | grep -q 'length prefix' && \"$1\" frames --help | grep -q 'initialBytesToStrip' && \"$1\" frames --help | grep -q 'chunked HTTP body' && \"$1\" frames --help | grep -q 'whichever comes first' && \"$1\" frames --help | grep -q 'zero-no-trailer'"
                 sh $<TARGET_FILE:fray_cli>)
set_tests_properties(cli.frames.help_examples PROPERTIES TIMEOUT 30 LABELS cli)

# The same output whatever the read sizes, file or pipe, every mode/format.
add_test(NAME cli.frames.chunking
         COMMAND sh ${FRAY_FRAMES_DIR}/chunks.sh $<TARGET_FILE:fray_cli> ${FRAY_FRAMES_IN}
                 ${PROJECT_SOURCE_DIR}/corpus/captures)
set_tests_properties(cli.frames.chunking PROPERTIES TIMEOUT 300 LABELS cli)

# The Python-driven tests are skipped, visibly, when python3 is missing.
find_program(FRAY_PYTHON3 python3)
if(FRAY_PYTHON3)
  set(FRAY_FRAMES_PY ${FRAY_PYTHON3})
else()
  set(FRAY_FRAMES_PY sh ${FRAY_FRAMES_DIR}/skip.sh "python3 not found")
endif()

# JSON output is valid JSON for any bytes and decodes back to them, and the
# text output decodes back through the escape grammar.
add_test(NAME cli.frames.json_roundtrip
         COMMAND ${FRAY_FRAMES_PY} ${FRAY_FRAMES_DIR}/roundtrip.py $<TARGET_FILE:fray_cli>)
set_tests_properties(cli.frames.json_roundtrip PROPERTIES TIMEOUT 120 LABELS cli
                     SKIP_RETURN_CODE 77)

# Differential test against Python's asynchat (delim and count modes).
add_test(NAME cli.frames.asynchat
         COMMAND ${FRAY_FRAMES_PY} ${PROJECT_SOURCE_DIR}/scripts/asynchat_ref.py diff
                 --fray $<TARGET_FILE:fray_cli>)
set_tests_properties(cli.frames.asynchat PROPERTIES TIMEOUT 600 LABELS cli
                     SKIP_RETURN_CODE 77)
