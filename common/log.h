/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Logging for the programs (not for library code, which returns errors instead). Messages go to stderr
 * by default; the daemon installs a journal sink when it runs under systemd so that structured fields
 * (HOMEOSTAT_RULE=, HOMEOSTAT_INCIDENT=, ...) reach the journal. The log functions return the negative
 * errno they were given, so "return log_error_errno(r, ...)" logs and returns in one step.
 */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "macro.h"

/* A sink receives one formatted message with its priority and optional extra journal fields
 * ("KEY=value" strings, n_fields of them). */
typedef void (*LogSink)(int priority, const char *message, const char *const *fields, size_t n_fields,
                        void *userdata);

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_sink(LogSink sink, void *userdata);
void log_set_program_name(const char *name);

/* Returns -abs(error) if error != 0, else 0. */
int log_internalv(int level, int error, const char *const *fields, size_t n_fields, const char *format,
                  va_list ap) _printf_(5, 0);
int log_internal(int level, int error, const char *format, ...) _printf_(3, 4);
int log_fields(int level, int error, const char *const *fields, size_t n_fields, const char *format, ...)
        _printf_(5, 6);

#define log_full_errno(level, error, ...)                                                    \
        __extension__({                                                                      \
                int _level = (level), _e = (error);                                          \
                _level <= log_get_max_level() ? log_internal(_level, _e, __VA_ARGS__) :      \
                                                (_e != 0 ? -abs(_e) : 0);                    \
        })

#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_oom() log_error_errno(-ENOMEM, "Out of memory.")
