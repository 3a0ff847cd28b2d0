/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The logging front end: level filtering, "%m"-style errno rendering, and dispatch to the installed
 * sink (stderr when none). Kept tiny and allocation-free on the stderr path so it works under OOM.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"

static int max_level = LOG_INFO;
static LogSink sink = NULL;
static void *sink_userdata = NULL;
static const char *program_name = NULL;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_sink(LogSink s, void *userdata) {
        sink = s;
        sink_userdata = userdata;
}

void log_set_program_name(const char *name) {
        program_name = name;
}

int log_internalv(int level, int error, const char *const *fields, size_t n_fields, const char *format,
                  va_list ap) {
        char buf[2048];
        int saved = errno;

        if (error != 0)
                errno = abs(error);
        (void) vsnprintf(buf, sizeof(buf), format, ap);
        errno = saved;

        if (level <= max_level) {
                if (sink)
                        sink(level, buf, fields, n_fields, sink_userdata);
                else {
                        if (program_name)
                                fprintf(stderr, "%s: %s\n", program_name, buf);
                        else
                                fprintf(stderr, "%s\n", buf);
                }
        }
        return error != 0 ? -abs(error) : 0;
}

int log_internal(int level, int error, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = log_internalv(level, error, NULL, 0, format, ap);
        va_end(ap);
        return r;
}

int log_fields(int level, int error, const char *const *fields, size_t n_fields, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = log_internalv(level, error, fields, n_fields, format, ap);
        va_end(ap);
        return r;
}
