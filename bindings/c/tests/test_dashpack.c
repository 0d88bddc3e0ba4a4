/* Links against libdashpack.a: packages a fixture, inspects it, and checks the
 * error paths. Built with -std=c99 -Wall -Wextra -Werror -pedantic; run under
 * valgrind by scripts/test. Usage: test_dashpack FIXTURES_DIR WORK_DIR */
#include "dashpack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                      \
  do {                                                                   \
    checks++;                                                            \
    if (!(cond)) {                                                       \
      failures++;                                                        \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                    \
  } while (0)

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Whether the file at `path` contains `needle` (files here are small). */
static int file_contains(const char *path, const char *needle) {
  static char text[65536];
  size_t len;
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  len = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[len] = '\0';
  return strstr(text, needle) != NULL;
}

int main(int argc, char **argv) {
  char input[4096], broken_path[4096], out[4096], mpd[4096], seg[4096];
  char enc_out[4096], enc_mpd[4096];
  char od_out[4096], od_mpd[4096], od_file[4096], od_m3u8[4096], vtt[4096], subs[4200];
  char unknown[4096];
  const char *inputs[1];
  DashpackOptions opts;
  DashpackMediaInfo *info = NULL;
  char *error = NULL;
  unsigned int w = 0, h = 0;
  int rc;
  FILE *src, *dst;
  char buf[3000];
  size_t n;

  if (argc != 3) {
    fprintf(stderr, "usage: %s FIXTURES_DIR WORK_DIR\n", argv[0]);
    return 2;
  }
  snprintf(input, sizeof input, "%s/h264_aac.mp4", argv[1]);
  snprintf(out, sizeof out, "%s/c-out", argv[2]);
  snprintf(mpd, sizeof mpd, "%s/c-out/manifest.mpd", argv[2]);
  snprintf(seg, sizeof seg, "%s/c-out/video-1/seg-6.m4s", argv[2]);

  /* Package with options. */
  dashpack_options_default(&opts);
  CHECK(opts.segment_duration == 4.0 && opts.mpd_name == NULL && opts.force == 0);
  opts.segment_duration = 2.0;
  opts.mpd_name = "manifest.mpd";
  opts.force = 1;
  inputs[0] = input;
  rc = dashpack_package(inputs, 1, out, &opts, &error);
  CHECK(rc == DASHPACK_OK);
  CHECK(error == NULL);
  CHECK(exists(mpd));
  CHECK(exists(seg));

  /* Without force an existing folder is refused with a message. */
  rc = dashpack_package(inputs, 1, out, NULL, &error);
  CHECK(rc == DASHPACK_ERR_OUTPUT_EXISTS);
  CHECK(error != NULL && strstr(error, "not empty") != NULL);
  dashpack_string_free(error);
  error = NULL;

  /* Encrypted: cbcs with one key for all tracks, ClearKey signalled in the MPD. */
  snprintf(enc_out, sizeof enc_out, "%s/c-enc", argv[2]);
  snprintf(enc_mpd, sizeof enc_mpd, "%s/c-enc/stream.mpd", argv[2]);
  dashpack_options_default(&opts);
  CHECK(opts.encryption_keys == NULL && opts.encryption_keys_count == 0);
  CHECK(opts.encryption_scheme == NULL && opts.clear_lead == 0.0);
  CHECK(opts.struct_size == sizeof(DashpackOptions));
  opts.force = 1;
  const char *good_key[] = {"0123456789abcdef0123456789abcdef:00112233445566778899aabbccddeeff"};
  const char *bad_key[] = {"0123456789abcdef0123456789abcdef:0011223344556677"};
  opts.encryption_keys = good_key;
  opts.encryption_keys_count = 1;
  opts.encryption_scheme = "cbcs";
  opts.clearkey_license_url = "https://license.example/clearkey";
  inputs[0] = input;
  rc = dashpack_package(inputs, 1, enc_out, &opts, &error);
  CHECK(rc == DASHPACK_OK);
  CHECK(file_contains(enc_mpd, "value=\"cbcs\" cenc:default_KID=\"01234567-89ab-cdef-0123-456789abcdef\""));
  CHECK(file_contains(enc_mpd, "https://license.example/clearkey"));
  CHECK(!file_contains(enc_mpd, "00112233445566778899aabbccddeeff"));
  /* A malformed key is refused, and the message does not repeat it. */
  opts.encryption_keys = bad_key;
  rc = dashpack_package(inputs, 1, enc_out, &opts, &error);
  CHECK(rc == DASHPACK_ERR_INVALID_ARGUMENT);
  CHECK(error != NULL && strstr(error, "32 hex digits") != NULL && strstr(error, "0011223344556677") == NULL);
  dashpack_string_free(error);
  error = NULL;
  opts.encryption_keys = NULL;
  opts.encryption_keys_count = 0;
  opts.encryption_scheme = "ctr";
  CHECK(dashpack_package(inputs, 1, enc_out, &opts, NULL) == DASHPACK_ERR_INVALID_ARGUMENT);
  dashpack_options_default(&opts);
  opts.segment_duration = 2.0;
  opts.mpd_name = "manifest.mpd";
  opts.force = 1;

  /* On-demand with HLS, a subtitle file and an input language. */
  snprintf(od_out, sizeof od_out, "%s/c-od", argv[2]);
  snprintf(od_mpd, sizeof od_mpd, "%s/c-od/stream.mpd", argv[2]);
  snprintf(od_file, sizeof od_file, "%s/c-od/video-1/media.mp4", argv[2]);
  snprintf(od_m3u8, sizeof od_m3u8, "%s/c-od/master.m3u8", argv[2]);
  snprintf(vtt, sizeof vtt, "%s/c-en.vtt", argv[2]);
  snprintf(subs, sizeof subs, "%s:en", vtt);
  dst = fopen(vtt, "wb");
  CHECK(dst != NULL);
  if (dst) {
    fputs("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n", dst);
    fclose(dst);
  }
  dashpack_options_default(&opts);
  CHECK(opts.profile == DASHPACK_PROFILE_LIVE && opts.hls == 0 && opts.subtitles == NULL);
  opts.force = 1;
  opts.profile = DASHPACK_PROFILE_ON_DEMAND;
  opts.hls = 1;
  const char *sub_list[] = {subs};
  const char *langs[] = {"fra"};
  opts.subtitles = sub_list;
  opts.subtitles_count = 1;
  opts.input_languages = langs;
  opts.input_languages_count = 1;
  rc = dashpack_package(inputs, 1, od_out, &opts, &error);
  CHECK(rc == DASHPACK_OK);
  CHECK(file_contains(od_mpd, "isoff-on-demand") && file_contains(od_mpd, "indexRange="));
  CHECK(file_contains(od_mpd, "contentType=\"text\"") && file_contains(od_mpd, "lang=\"fr\""));
  CHECK(exists(od_file) && exists(od_m3u8));
  opts.profile = 7;
  CHECK(dashpack_package(inputs, 1, od_out, &opts, NULL) == DASHPACK_ERR_INVALID_ARGUMENT);

  /* Tracks left out on purpose; an audio or video track that cannot be carried fails. */
  dashpack_options_default(&opts);
  opts.force = 1;
  const char *skip_audio[] = {"audio"};
  const char *skip_bad[] = {"sound"};
  opts.skip_tracks = skip_audio;
  opts.skip_tracks_count = 1;
  CHECK(dashpack_package(inputs, 1, od_out, &opts, NULL) == DASHPACK_OK);
  CHECK(!file_contains(od_mpd, "contentType=\"audio\""));
  opts.skip_tracks = skip_bad;
  CHECK(dashpack_package(inputs, 1, od_out, &opts, NULL) == DASHPACK_ERR_INVALID_ARGUMENT);
  /* A count with a NULL array, and a struct from another header, are refused. */
  opts.skip_tracks = NULL;
  CHECK(dashpack_package(inputs, 1, od_out, &opts, NULL) == DASHPACK_ERR_INVALID_ARGUMENT);
  opts.skip_tracks_count = 0;
  /* Closed captions in the video's SEI, with a language for CC1. */
  char captioned[4096];
  snprintf(captioned, sizeof captioned, "%s/h264_cea608.mp4", argv[1]);
  const char *cc_inputs[] = {captioned};
  const char *cc_langs[] = {"CC1=en"};
  const char *cc_bad[] = {"CC1"};
  opts.caption_languages = cc_langs;
  opts.caption_languages_count = 1;
  CHECK(dashpack_package(cc_inputs, 1, od_out, &opts, NULL) == DASHPACK_OK);
  CHECK(file_contains(od_mpd, "urn:scte:dash:cc:cea-608:2015\" value=\"CC1=eng\""));
  opts.caption_languages = cc_bad;
  CHECK(dashpack_package(cc_inputs, 1, od_out, &opts, NULL) == DASHPACK_ERR_INVALID_ARGUMENT);
  opts.caption_languages = NULL;
  opts.caption_languages_count = 0;
  /* A ladder that does not parse, and (this library is built without the transcode
   * feature) any ladder, are refused rather than ignored. */
  opts.ladder = "1080";
  CHECK(dashpack_package(inputs, 1, od_out, &opts, NULL) == DASHPACK_ERR_INVALID_ARGUMENT);
  opts.ladder = "auto";
  rc = dashpack_package(inputs, 1, od_out, &opts, &error);
  CHECK(rc == DASHPACK_ERR_INVALID_ARGUMENT && error != NULL && strstr(error, "transcode") != NULL);
  dashpack_string_free(error);
  error = NULL;
  opts.ladder = NULL;
  /* A struct from a newer, larger header (fields this library does not know) and one
   * too small to hold even the segment duration are refused. */
  opts.struct_size = sizeof(DashpackOptions) + 8;
  rc = dashpack_package(inputs, 1, od_out, &opts, &error);
  CHECK(rc == DASHPACK_ERR_INVALID_ARGUMENT && error != NULL && strstr(error, "newer dashpack.h") != NULL);
  dashpack_string_free(error);
  error = NULL;
  opts.struct_size = 8;
  rc = dashpack_package(inputs, 1, od_out, &opts, &error);
  CHECK(rc == DASHPACK_ERR_INVALID_ARGUMENT && error != NULL && strstr(error, "struct_size") != NULL);
  dashpack_string_free(error);
  error = NULL;
  opts.struct_size = sizeof(DashpackOptions);
  snprintf(unknown, sizeof unknown, "%s/malformed/unknown-codecs.mp4", argv[1]);
  inputs[0] = unknown;
  rc = dashpack_package(inputs, 1, od_out, &opts, &error);
  CHECK(rc == DASHPACK_ERR_UNSUPPORTED && error != NULL && strstr(error, "cannot be carried"));
  dashpack_string_free(error);
  error = NULL;
  inputs[0] = input;
  dashpack_options_default(&opts);
  opts.segment_duration = 2.0;
  opts.mpd_name = "manifest.mpd";
  opts.force = 1;

  /* Inspect. */
  rc = dashpack_inspect(input, &info, &error);
  CHECK(rc == DASHPACK_OK && info != NULL);
  CHECK(dashpack_media_info_track_count(info) == 2);
  CHECK(dashpack_media_info_duration(info) > 11.9 && dashpack_media_info_duration(info) < 12.1);
  CHECK(dashpack_track_is_video(info, 0) == 1);
  CHECK(strcmp(dashpack_track_codecs(info, 0), "avc1.64000C") == 0);
  CHECK(dashpack_track_samples(info, 0) == 300);
  dashpack_track_dimensions(info, 0, &w, &h);
  CHECK(w == 320 && h == 180);
  CHECK(dashpack_track_is_video(info, 1) == 0);
  CHECK(strcmp(dashpack_track_codecs(info, 1), "mp4a.40.2") == 0);
  CHECK(dashpack_track_sample_rate(info, 1) == 48000);
  CHECK(dashpack_track_channels(info, 1) == 1);
  CHECK(dashpack_track_codecs(info, 7) == NULL);
  CHECK(dashpack_track_is_video(info, 7) == -1);
  dashpack_media_info_free(info);

  /* A truncated input: invalid input, with file, box and offset in the message. */
  snprintf(broken_path, sizeof broken_path, "%s/c-broken.mp4", argv[2]);
  src = fopen(input, "rb");
  dst = fopen(broken_path, "wb");
  CHECK(src != NULL && dst != NULL);
  if (src && dst) {
    n = fread(buf, 1, sizeof buf, src);
    fwrite(buf, 1, n, dst);
  }
  if (src) fclose(src);
  if (dst) fclose(dst);
  inputs[0] = broken_path;
  rc = dashpack_package(inputs, 1, out, &opts, &error);
  CHECK(rc == DASHPACK_ERR_INVALID_INPUT);
  CHECK(error != NULL && strstr(error, "c-broken.mp4") != NULL && strstr(error, "moov at byte") != NULL);
  dashpack_string_free(error);
  error = NULL;
  CHECK(exists(mpd)); /* the earlier output survives a failed run */

  /* NULL pointers are refused, not dereferenced. */
  CHECK(dashpack_package(NULL, 1, out, NULL, &error) == DASHPACK_ERR_INVALID_ARGUMENT);
  dashpack_string_free(error);
  error = NULL;
  CHECK(dashpack_package(inputs, 1, NULL, NULL, NULL) == DASHPACK_ERR_INVALID_ARGUMENT);
  CHECK(dashpack_inspect(input, NULL, NULL) == DASHPACK_ERR_INVALID_ARGUMENT);
  CHECK(dashpack_inspect(NULL, &info, NULL) == DASHPACK_ERR_INVALID_ARGUMENT && info == NULL);
  CHECK(dashpack_media_info_track_count(NULL) == 0);
  dashpack_media_info_free(NULL);
  dashpack_string_free(NULL);
  dashpack_options_init(NULL, sizeof(DashpackOptions));

  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
