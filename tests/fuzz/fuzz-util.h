/* fuzz-util.h: what the fuzz targets share (docs/FUZZING.md).
 *
 * Each target defines LLVMFuzzerTestOneInput() (and may define
 * LLVMFuzzerInitialize()). Built with clang -fsanitize=fuzzer it is a
 * libFuzzer binary (make fuzz); linked with fuzz-main.c it replays the
 * checked-in corpus and crash files (make check). */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

/* Once per process: SIGPIPE ignored, as the daemons ignore it (a peer
 * that closes must not kill us); peer input may make the code log
 * warnings (dropped here), but a critical or an error is a bug in our
 * code and aborts, so that libFuzzer and the replay both report it. */
void fuzz_init (void);

/* A small deterministic generator, seeded from the input itself, so that
 * the same input always splits the same way. */
typedef struct {
  guint64 state;
} FuzzRng;

void fuzz_rng_init (FuzzRng *rng, const uint8_t *data, size_t size);
guint32 fuzz_rng_next (FuzzRng *rng);

/* Dispatch what is ready in the default main context, without blocking,
 * until nothing is (bounded by max_rounds). */
void fuzz_iterate (guint max_rounds);

/* Read and discard whatever fd has (non-blocking). */
void fuzz_drain (int fd);

/* Write all of data to a non-blocking socket in at most
 * FUZZ_FEED_MAX_PIECES pieces (most ending at a newline; where they end
 * comes from rng), dispatching the main context (and draining the
 * socket's replies) between pieces and whenever the socket is full. */
#define FUZZ_FEED_MAX_PIECES 16
void fuzz_feed (int fd, const uint8_t *data, size_t size, FuzzRng *rng);

/* A listening unix socket in a private directory, made once per process.
 * Returns its path; *listen_fd is the socket (non-blocking). */
const char *fuzz_listen_socket (const char *name, int *listen_fd);

/* accept() a connection that connect() has already made; -1 if none. */
int fuzz_accept (int listen_fd);

/* A pipe whose read end holds length bytes and then EOF (length at most
 * the pipe's capacity, 64 KiB). Returns the read end. */
int fuzz_pipe_with (gsize length);
