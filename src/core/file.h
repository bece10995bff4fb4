/* file.h: the library's one whole-file reader (private to the library). */
#ifndef FRUGAL_CORE_FILE_H
#define FRUGAL_CORE_FILE_H

#include <stddef.h>

/* Reads the whole file at path into a malloc'd buffer with a NUL after the
 * last byte; *n_out (may be NULL) gets the byte count. Refuses files larger
 * than max bytes. NULL on failure with the message set: FR_EIO ("cannot open
 * PATH: reason", read errors), FR_EFORMAT (too large), FR_ENOMEM. Reads in
 * growing chunks, so it also works on pipes and never trusts a size it has
 * not read. */
char *fr_read_file(const char *path, size_t max, size_t *n_out);

#endif
