/* A program built against the previous layout of DashpackOptions (the fields up to
 * `profile`, before `skip_tracks` and `decryption_keys` were added): the library fills
 * only its struct, never a byte past it, serves it with the newer fields at their
 * defaults, and refuses a struct claiming to be larger than its own.
 * Usage: previous_layout FIXTURES_DIR WORK_DIR */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* What the previous dashpack.h declared. */
typedef struct DashpackOptions {
  size_t struct_size;
  double segment_duration;
  const char *mpd_name;
  int32_t timeline;
  int32_t force;
  const char *const *encryption_keys;
  size_t encryption_keys_count;
  const char *encryption_scheme;
  double clear_lead;
  const char *clearkey_license_url;
  int32_t clearkey_inline;
  const char *const *pssh;
  size_t pssh_count;
  int32_t hls;
  const char *const *subtitles;
  size_t subtitles_count;
  const char *const *input_languages;
  size_t input_languages_count;
  int32_t profile;
} DashpackOptions;
void dashpack_options_init(DashpackOptions *options, size_t size);
int32_t dashpack_package(const char *const *inputs, size_t n_inputs, const char *output_dir,
                         const DashpackOptions *options, char **error_out);
void dashpack_string_free(char *s);
#define dashpack_options_default(options) dashpack_options_init((options), sizeof *(options))

static int failures = 0;
#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      failures++;                                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
    }                                                                                \
  } while (0)

int main(int argc, char **argv) {
  struct {
    DashpackOptions o;
    unsigned char after[64];
  } b;
  char input[4096], out[4096], mpd[8192], *error = NULL;
  const char *inputs[1];
  struct stat st;
  size_t i;
  int32_t rc;
  if (argc != 3) return 2;
  memset(b.after, 0xab, sizeof b.after);
  dashpack_options_default(&b.o);
  CHECK(b.o.struct_size == sizeof(DashpackOptions));
  CHECK(b.o.segment_duration == 4.0 && b.o.profile == 0 && b.o.hls == 0);
  for (i = 0; i < sizeof b.after; i++) CHECK(b.after[i] == 0xab);

  snprintf(input, sizeof input, "%s/h264_aac.mp4", argv[1]);
  snprintf(out, sizeof out, "%s/previous-layout", argv[2]);
  snprintf(mpd, sizeof mpd, "%s/stream.mpd", out);
  inputs[0] = input;
  b.o.segment_duration = 2.0;
  b.o.hls = 1;
  rc = dashpack_package(inputs, 1, out, &b.o, &error);
  if (rc != 0) fprintf(stderr, "package: %d %s\n", rc, error ? error : "");
  CHECK(rc == 0 && stat(mpd, &st) == 0);
  snprintf(mpd, sizeof mpd, "%s/master.m3u8", out);
  CHECK(stat(mpd, &st) == 0);
  dashpack_string_free(error);
  error = NULL;

  /* A size larger than the library's own: from a newer header, refused. */
  b.o.struct_size = sizeof(DashpackOptions) + 4096;
  b.o.force = 1;
  rc = dashpack_package(inputs, 1, out, &b.o, &error);
  CHECK(rc != 0 && error != NULL && strstr(error, "newer dashpack.h") != NULL);
  dashpack_string_free(error);

  printf("previous layout: %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
