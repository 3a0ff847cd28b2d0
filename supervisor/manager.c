/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Manager's lifecycle: construction around a validated Config, sources feeding the evaluator, the
 * timers (loop lag, evaluator tick, STATUS=, periodic save), reload with an atomic swap, persistence of
 * learned state, and stop. See manager.h for the contract and the hooks; the HTTP side (status JSON,
 * /metrics, the status page, routes) is in manager-api.c.
 */
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "config-perms.h"
#include "log.h"
#include "manager-private.h"

/* ---- load results ---- */

void reload_result_done(ReloadResult *r) {
        if (!r)
                return;
        free(r->message);
        strv_free_n(r->diagnostics, r->n_diagnostics);
        *r = (ReloadResult){};
}

static int result_add_line(ReloadResult *r, const char *line) {
        char **n;

        n = realloc(r->diagnostics, (r->n_diagnostics + 2) * sizeof(char *));
        if (!n)
                return -ENOMEM;
        r->diagnostics = n;
        n[r->n_diagnostics] = strdup(line);
        if (!n[r->n_diagnostics])
                return -ENOMEM;
        r->n_diagnostics++;
        n[r->n_diagnostics] = NULL;
        return 0;
}

static int result_set_message(ReloadResult *r, const char *fmt, ...) _printf_(2, 3);
static int result_set_message(ReloadResult *r, const char *fmt, ...) {
        StrBuf b = STRBUF_INIT;
        va_list ap;

        va_start(ap, fmt);
        (void) strbuf_vprintf(&b, fmt, ap);
        va_end(ap);
        if (strbuf_failed(&b)) {
                strbuf_done(&b);
                return -ENOMEM;
        }
        free(r->message);
        r->message = strbuf_steal(&b);
        return 0;
}

/* Render diagnostics exactly as `homeostatctl check` prints them, one entry per line. */
static int result_add_diagnostics(ReloadResult *r, const Diagnostics *d) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        FILE *f;
        int k = 0;

        r->n_errors += d->n_errors;
        r->n_warnings += d->n_warnings;
        if (d->n_items == 0)
                return 0;
        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        diagnostics_print(d, f);
        if (fclose(f) != 0 || !buf)
                return -ENOMEM;
        for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                if (nl)
                        *nl = 0;
                if (*line && (k = result_add_line(r, line)) < 0)
                        return k;
        }
        return 0;
}

json_t *reload_result_to_json(const ReloadResult *r) {
        json_t *o, *diags;

        diags = json_array();
        if (!diags)
                return NULL;
        for (size_t i = 0; i < r->n_diagnostics; i++)
                if (json_array_append_new(diags, json_string(r->diagnostics[i])) < 0) {
                        json_decref(diags);
                        return NULL;
                }
        o = json_pack(
                "{s:b,s:s,s:I,s:I,s:o,s:I,s:I}",
                "ok",
                (int) r->ok,
                "message",
                r->message ?: "",
                "errors",
                (json_int_t) r->n_errors,
                "warnings",
                (json_int_t) r->n_warnings,
                "diagnostics",
                diags,
                "rules",
                (json_int_t) r->n_rules,
                "sources",
                (json_int_t) r->n_sources);
        return o;
}

int manager_load_config(const char *path, bool strict_modes, Config **ret, ReloadResult *result) {
        ConfigLoadOptions lo = { .max_file_bytes = 1024 * 1024, .strict = false };
        _cleanup_(config_freep) Config *c = NULL;
        Diagnostics d = {};
        int r, k;

        reload_result_done(result);
        r = config_load(path, &lo, &c, &d);
        k = result_add_diagnostics(result, &d);
        diagnostics_done(&d);
        if (k < 0)
                return k;
        if (r < 0) {
                if (result->n_errors == 0) {
                        /* config_load() promises a diagnostic; do not leave the user without one */
                        char line[1024];
                        snprintf(
                                line,
                                sizeof(line),
                                "%s: error: cannot load configuration: %s",
                                path,
                                strerror(-r));
                        if (result_add_line(result, line) < 0)
                                return -ENOMEM;
                        result->n_errors = 1;
                }
                (void) result_set_message(
                        result,
                        "configuration %s is invalid: %zu error%s",
                        path,
                        result->n_errors,
                        result->n_errors == 1 ? "" : "s");
                return r;
        }

        /* The evaluator has the last word on detector parameters and time zones: build one now, so that
         * what it refuses is a configuration error (exit 1, a failed reload) with the rule named. */
        {
                size_t bad = SIZE_MAX;
                Evaluator *probe = NULL;

                r = evaluator_new_full(c, &(EvaluatorOptions){ .ret_bad_rule = &bad }, &probe);
                evaluator_free(probe);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        _cleanup_strbuf_ StrBuf line = STRBUF_INIT;
                        if (bad < c->n_rules) {
                                const Rule *rule = &c->rules[bad];
                                (void) strbuf_printf(
                                        &line,
                                        "%s:%u:%u: error: rule '%s': the evaluator refuses its %s: %s",
                                        rule->loc.file ?: path,
                                        rule->loc.line,
                                        rule->loc.column,
                                        rule->name,
                                        r == -EINVAL ? "detector parameters" : "time zone",
                                        strerror(-r));
                        } else
                                (void) strbuf_printf(
                                        &line, "%s: error: cannot build the evaluator: %s", path, strerror(-r));
                        if (strbuf_failed(&line) || result_add_line(result, strbuf_str(&line)) < 0)
                                return -ENOMEM;
                        result->n_errors++;
                        (void) result_set_message(result, "configuration %s is invalid: 1 error", path);
                        return -EINVAL;
                }
        }

        if (strict_modes) {
                _cleanup_strv_free_ char **paths = NULL, **problems = NULL;
                size_t n = 0;

                r = config_permission_paths(path, c, &paths);
                if (r < 0)
                        return r;
                while (paths[n])
                        n++;
                r = config_permissions_check((const char *const *) paths, n, 0, &problems);
                if (r < 0) {
                        for (char **p = problems; p && *p; p++) {
                                _cleanup_strbuf_ StrBuf line = STRBUF_INIT;
                                (void) strbuf_printf(&line, "error: %s", *p);
                                if (strbuf_failed(&line) || result_add_line(result, strbuf_str(&line)) < 0)
                                        return -ENOMEM;
                                result->n_errors++;
                        }
                        if (result->n_errors == 0)
                                result->n_errors = 1;
                        (void) result_set_message(
                                result,
                                "configuration %s refused: %zu file%s or director%s writable "
                                "or owned by non-root users",
                                path,
                                result->n_errors,
                                result->n_errors == 1 ? "" : "s",
                                result->n_errors == 1 ? "y" : "ies");
                        return r == -ENOMEM ? r : -EPERM;
                }
        }

        result->ok = true;
        result->n_rules = c->n_rules;
        result->n_sources = c->n_sources;
        (void) result_set_message(
                result,
                "configuration %s: %zu rule%s, %zu source%s%s",
                path,
                c->n_rules,
                c->n_rules == 1 ? "" : "s",
                c->n_sources,
                c->n_sources == 1 ? "" : "s",
                result->n_warnings > 0 ? " (with warnings, see journal)" : "");
        *ret = TAKE_PTR(c);
        return 0;
}

void manager_log_diagnostics(const ReloadResult *r, const char *config_path) {
        _cleanup_strbuf_ StrBuf field = STRBUF_INIT;
        const char *fields[1];

        (void) strbuf_printf(&field, "HOMEOSTAT_CONFIG=%s", config_path);
        fields[0] = strbuf_str(&field);
        for (size_t i = 0; i < r->n_diagnostics; i++) {
                const char *l = r->diagnostics[i];
                int prio = strstr(l, ": warning: ") || startswith(l, "warning: ") ? LOG_WARNING : LOG_ERR;
                log_fields(prio, 0, fields, 1, "%s", l);
        }
}

/* ---- sources and evaluation ---- */

static void copy_truncated(char *dst, size_t size, const char *src) {
        size_t n = src ? strnlen(src, size - 1) : 0;
        if (n > 0)
                memcpy(dst, src, n);
        dst[n] = 0;
}

static void remember_row(Manager *m, const EvalRow *row) {
        RecentRow *r;

        if (!m->recent)
                return;
        r = &m->recent[m->recent_next];
        m->recent_next = (m->recent_next + 1) % MANAGER_RECENT_ROWS;
        m->recent_total++;
        copy_truncated(r->rule, sizeof(r->rule), row->rule ? row->rule->name : NULL);
        copy_truncated(r->series, sizeof(r->series), row->series_key ?: row->subject_key);
        r->t = row->t;
        r->value = row->value;
        r->x = row->x;
        r->verdict = row->verdict;
        r->firing = row->firing;
        r->from_tick = row->from_tick;
        r->transition = row->transition;
}

static void count_row(Manager *m, const EvalRow *row) {
        RuleCounts *rc;

        if (!m->config || row->rule_index >= m->config->n_rules)
                return;
        rc = &m->rule_counts[row->rule_index];
        if (!row->from_tick) {
                rc->rows++;
                if (row->verdict.anomalous)
                        rc->anomalous++;
        }
        switch (row->transition) {
        case EVAL_FIRING:
        case EVAL_ABSENT:
                rc->firing++;
                rc->fired_total++;
                break;
        case EVAL_RESOLVED:
                if (rc->firing > 0)
                        rc->firing--;
                break;
        default:
                break;
        }
}

/* Why: every verdict passes here, so per-rule counts stay exact and the incident layer sees rows in the
 * order the evaluator produced them. Firing and resolution are also logged, with the rule and series as
 * journal fields, so they are findable before any incident machinery exists. */
static void on_eval_row(const EvalRow *row, void *userdata) {
        Manager *m = userdata;

        count_row(m, row);
        remember_row(m, row);
        if (row->transition == EVAL_FIRING || row->transition == EVAL_ABSENT ||
            row->transition == EVAL_RESOLVED) {
                _cleanup_strbuf_ StrBuf f1 = STRBUF_INIT, f2 = STRBUF_INIT;
                /* what the state belongs to: the series, a burnrate group, or the selector (absent_for) */
                const char *subject = row->subject_key ?: strempty(row->series_key);
                const char *fields[2];

                (void) strbuf_printf(&f1, "HOMEOSTAT_RULE=%s", row->rule ? row->rule->name : "");
                (void) strbuf_printf(&f2, "HOMEOSTAT_SERIES=%s", subject);
                fields[0] = strbuf_str(&f1);
                fields[1] = strbuf_str(&f2);
                if (row->transition == EVAL_RESOLVED)
                        log_fields(
                                LOG_INFO,
                                0,
                                fields,
                                2,
                                "Rule %s no longer fires for %s",
                                row->rule ? row->rule->name : "?",
                                subject);
                else if (row->transition == EVAL_ABSENT)
                        log_fields(
                                LOG_NOTICE,
                                0,
                                fields,
                                2,
                                "Rule %s fires: no series matches %s",
                                row->rule ? row->rule->name : "?",
                                row->rule && row->rule->series ? row->rule->series->text : "its selector");
                else
                        log_fields(
                                LOG_NOTICE,
                                0,
                                fields,
                                2,
                                "Rule %s fires for %s: %g, expected %g (%g to %g)",
                                row->rule ? row->rule->name : "?",
                                subject,
                                row->x,
                                row->verdict.expected,
                                row->verdict.lower,
                                row->verdict.upper);
        }
        if (m->eval_hook)
                m->eval_hook(m, row, m->eval_hook_userdata);
}

static void on_sample(Source *s, const SampleIn *sample, void *userdata) {
        ManagedSource *ms = userdata;
        Manager *m = ms->manager;
        int r;

        m->samples_received++;
        r = evaluator_push(m->evaluator, sample, on_eval_row, m);
        if (r < 0) {
                if (m->push_errors++ == 0)
                        log_warning_errno(r, "Failed to evaluate a sample of %s: %m", strempty(sample->metric));
        }
}

static ManagedSource *managed_source_free(ManagedSource *ms) {
        if (!ms)
                return NULL;
        source_free(ms->source);
        free(ms);
        return NULL;
}

static int managed_source_create(Manager *m, ManagedSource *ms, const SourceConfig *sc) {
        SourceDeps deps = { .event = m->event, .bus = m->bus, .curl = m->curl };
        return source_new(&deps, sc, on_sample, ms, &ms->source);
}

static int managed_source_new(Manager *m, const SourceConfig *sc, ManagedSource **ret) {
        ManagedSource *ms;
        int r;

        ms = calloc(1, sizeof(*ms));
        if (!ms)
                return -ENOMEM;
        ms->manager = m;
        r = managed_source_create(m, ms, sc);
        if (r < 0) {
                free(ms);
                return r;
        }
        *ret = ms;
        return 0;
}

/* ---- status ---- */

void manager_request_status_update(Manager *m) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;

        if (manager_status_line(m, &b) < 0)
                return;
        if (m->last_status && streq(m->last_status, strbuf_str(&b)))
                return;
        free(m->last_status);
        m->last_status = strdup(strbuf_str(&b));
        (void) sd_notifyf(false, "STATUS=%s", strbuf_str(&b));
}

/* Log sources going down and coming back (sources themselves do not log), with HOMEOSTAT_SOURCE=. */
static void log_source_transitions(Manager *m) {
        static const char *const unknown = "";

        for (size_t i = 0; i < m->n_sources; i++) {
                ManagedSource *ms = m->sources[i];
                SourceStats st;
                _cleanup_strbuf_ StrBuf f = STRBUF_INIT;
                const char *fields[1];

                if (!ms->source)
                        continue;
                source_get_stats(ms->source, &st);
                if (st.collections == 0)
                        continue;
                (void) strbuf_printf(&f, "HOMEOSTAT_SOURCE=%s", source_get_name(ms->source));
                fields[0] = strbuf_str(&f);
                if (!st.up && !ms->reported_down) {
                        ms->reported_down = true;
                        log_fields(
                                LOG_WARNING,
                                0,
                                fields,
                                1,
                                "Source %s is down: %s",
                                source_get_name(ms->source),
                                st.last_error[0] ? st.last_error : unknown);
                } else if (st.up && ms->reported_down) {
                        ms->reported_down = false;
                        log_fields(
                                LOG_INFO, 0, fields, 1, "Source %s is up again", source_get_name(ms->source));
                }
        }
}

/* ---- timers and signals ---- */

static int on_lag_timer(sd_event_source *s, uint64_t scheduled, void *userdata) {
        Manager *m = userdata;
        usec_t t = now(CLOCK_MONOTONIC), next = t + LOOP_LAG_INTERVAL_USEC;

        loop_lag_record(&m->lag, scheduled, t, next);
        if (m->lag.last_lag_usec > LOOP_LAG_THRESHOLD_USEC)
                log_warning(
                        "Event loop lagged %" PRIu64 " ms behind schedule",
                        (uint64_t) (m->lag.last_lag_usec / USEC_PER_MSEC));
        (void) sd_event_source_set_time(s, next);
        return 0;
}

static int on_tick_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        double t = (double) now(CLOCK_REALTIME) / (double) USEC_PER_SEC;
        int r;

        r = evaluator_tick(m->evaluator, t, on_eval_row, m);
        if (r < 0)
                log_debug_errno(r, "evaluator_tick() failed: %m");
        (void) sd_event_source_set_time(s, usec + MANAGER_TICK_INTERVAL_USEC);
        return 0;
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        log_source_transitions(m);
        manager_request_status_update(m);
        (void) sd_event_source_set_time(s, usec + MANAGER_STATUS_INTERVAL_USEC);
        return 0;
}

static int on_save_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) manager_save_state(m, false);
        (void) sd_event_source_set_time(s, usec + MANAGER_SAVE_INTERVAL_USEC);
        return 0;
}

static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received %s, stopping.", si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        return sd_event_exit(m->event, 0);
}

static int on_reload_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received SIGHUP, reloading %s.", m->config_path);
        (void) manager_reload(m, NULL);
        return 0;
}

static int add_timer(
        Manager *m,
        sd_event_source **s,
        usec_t first,
        usec_t accuracy,
        sd_event_time_handler_t cb,
        const char *description) {
        int r;

        r = sd_event_add_time(m->event, s, CLOCK_MONOTONIC, first, accuracy, cb, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(*s, SD_EVENT_ON);
        (void) sd_event_source_set_description(*s, description);
        return 0;
}

/* ---- bus ---- */

/* Escape a path for a D-Bus address ("unix:path=..."): anything but [A-Za-z0-9/_.-] as %XX. */
static int bus_address_for_path(const char *path, char **ret) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;

        (void) strbuf_puts(&b, "unix:path=");
        for (const char *p = path; *p; p++) {
                char c = *p;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
                    c == '_' || c == '.' || c == '-')
                        (void) strbuf_putc(&b, c);
                else
                        (void) strbuf_printf(&b, "%%%02x", (unsigned) (unsigned char) c);
        }
        if (strbuf_failed(&b))
                return -ENOMEM;
        *ret = strbuf_steal(&b);
        return 0;
}

/* The service manager's bus: with --user, the user manager's private socket first (like systemctl --user,
 * it works without a session bus), then the session bus; otherwise the system bus. */
static int open_bus(Manager *m, sd_bus **ret) {
        sd_bus *b = NULL;
        int r;

        if (m->user) {
                const char *rt = getenv("XDG_RUNTIME_DIR");
                if (rt) {
                        _cleanup_strbuf_ StrBuf p = STRBUF_INIT;
                        _cleanup_free_ char *address = NULL;
                        struct stat st;

                        (void) strbuf_printf(&p, "%s/systemd/private", rt);
                        if (!strbuf_failed(&p) && stat(strbuf_str(&p), &st) >= 0 &&
                            bus_address_for_path(strbuf_str(&p), &address) >= 0) {
                                r = sd_bus_new(&b);
                                if (r >= 0)
                                        r = sd_bus_set_address(b, address);
                                if (r >= 0)
                                        r = sd_bus_start(b);
                                if (r >= 0) {
                                        *ret = b;
                                        return 0;
                                }
                                b = sd_bus_flush_close_unref(b);
                                log_debug_errno(
                                        r, "Cannot connect to %s, trying the session bus: %m", strbuf_str(&p));
                        }
                }
                r = sd_bus_open_user(&b);
        } else
                r = sd_bus_open_system(&b);
        if (r < 0)
                return r;
        *ret = b;
        return 0;
}

/* ---- persistence ---- */

static int restore_state(Manager *m) {
        _cleanup_free_ char *data = NULL, *aside = NULL;
        EvaluatorStats st;
        size_t len = 0;
        FILE *f;
        int r;

        r = state_file_read(m->state_dir_fd, MANAGER_EVALUATOR_STATE_FILE, MANAGER_STATE_FILE_MAX, &data, &len);
        if (r == -ENOENT) {
                m->restore_message = strdup("no saved state, learning from scratch");
                log_info("No saved state in %s, learning from scratch.", m->state_dir);
                return 0;
        }
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                if (len == 0)
                        r = -EBADMSG;
                else {
                        f = fmemopen(data, len, "r");
                        if (!f)
                                return -errno;
                        r = evaluator_load(m->evaluator, f);
                        fclose(f);
                }
        }
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
                evaluator_get_stats(m->evaluator, &st);
                (void) strbuf_printf(
                        &b,
                        "restored learned state for %" PRIu64 " series from %s/%s",
                        st.series,
                        m->state_dir,
                        MANAGER_EVALUATOR_STATE_FILE);
                log_info(
                        "Restored learned state for %" PRIu64 " series from %s/%s.",
                        st.series,
                        m->state_dir,
                        MANAGER_EVALUATOR_STATE_FILE);
                m->restore_message = strbuf_steal(&b);
                return 0;
        }

        /* Corrupt, unknown version, unreadable: keep it for inspection and learn from scratch. Incidents,
         * undo obligations, guards and silences live in other files and are not affected. */
        int k = state_file_move_aside(
                m->state_dir_fd, MANAGER_EVALUATOR_STATE_FILE, now(CLOCK_REALTIME), &aside);
        if (k < 0)
                log_error_errno(
                        k,
                        "Saved state %s/%s cannot be used (%s) and cannot be moved aside: %m; learning "
                        "from scratch.",
                        m->state_dir,
                        MANAGER_EVALUATOR_STATE_FILE,
                        strerror(-r));
        else
                log_warning(
                        "Saved state %s/%s cannot be used (%s%s); moved it to %s, learning from scratch.",
                        m->state_dir,
                        MANAGER_EVALUATOR_STATE_FILE,
                        strerror(-r),
                        r == -EPROTONOSUPPORT   ? ", unknown format version"
                                : r == -EBADMSG ? ", corrupt"
                                                : "",
                        aside);
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        (void) strbuf_printf(
                &b,
                "saved state unusable (%s), moved to %s; learning from scratch",
                strerror(-r),
                aside ?: "(could not move)");
        m->restore_message = strbuf_steal(&b);
        return 0;
}

static void on_save_done(StateSaver *s, int error, void *userdata) {
        Manager *m = userdata;

        if (error < 0)
                log_error_errno(
                        error, "Failed to save learned state to %s/%s: %m", m->state_dir, state_saver_name(s));
        else
                log_debug("Saved learned state to %s/%s.", m->state_dir, state_saver_name(s));
}

/* Runs in the writer child (periodic saves) or in-process (stop): the evaluator as it was at fork(). */
static int write_evaluator_state(FILE *f, void *userdata) {
        Manager *m = userdata;
        return evaluator_save(m->evaluator, f);
}

int manager_save_state(Manager *m, bool final) {
        StateSaverStats st;
        int r;

        for (size_t i = 0; i < m->n_extensions; i++)
                if (m->extensions[i].ext.save)
                        m->extensions[i].ext.save(m, final, m->extensions[i].userdata);

        if (!m->saver)
                return 0;
        if (!final) {
                /* The child serializes its snapshot; the loop pays for fork() only. */
                r = state_saver_save_func(m->saver, write_evaluator_state, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to start saving learned state: %m");
                return 0;
        }
        r = state_saver_save_func_sync(m->saver, write_evaluator_state, m);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Failed to save learned state to %s/%s: %m",
                        m->state_dir,
                        MANAGER_EVALUATOR_STATE_FILE);
        state_saver_get_stats(m->saver, &st);
        log_info(
                "Saved learned state to %s/%s (%zu bytes in %" PRIu64 " ms).",
                m->state_dir,
                MANAGER_EVALUATOR_STATE_FILE,
                st.last_size,
                (uint64_t) (st.last_write_usec / USEC_PER_MSEC));
        return 0;
}

/* ---- construction ---- */

static int strdup_opt(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int manager_new(const ManagerOptions *o, Config *config, Manager **ret) {
        _cleanup_(config_freep) Config *c = config;
        _cleanup_(manager_freep) Manager *m = NULL;
        usec_t t;
        int r;

        if (!o || !o->config_path || !c)
                return -EINVAL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return log_oom();
        m->state_dir_fd = -EBADF;
        if (strdup_opt(o->config_path, &m->config_path) < 0 || strdup_opt(o->state_dir, &m->state_dir) < 0 ||
            strdup_opt(o->api_socket, &m->api_socket) < 0 ||
            strdup_opt(o->metrics_listen, &m->metrics_listen) < 0)
                return log_oom();
        m->user = o->user;
        m->dry_run = o->dry_run;
        m->strict_modes = o->strict_modes;
        m->start_realtime = now(CLOCK_REALTIME);
        m->start_monotonic = now(CLOCK_MONOTONIC);
        m->last_reload_ok = true;
        loop_lag_init(&m->lag);

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to enable the watchdog: %m");

        r = sd_event_add_signal(m->event, &m->sig_term, SIGTERM, on_stop_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sig_int, SIGINT, on_stop_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sig_hup, SIGHUP, on_reload_signal, m);
        if (r < 0)
                return log_error_errno(r, "Failed to install signal handlers: %m");

        r = open_bus(m, &m->bus);
        if (r < 0) {
                log_warning_errno(
                        r,
                        "Cannot connect to the %s service manager's bus, systemd sources will not work: %m",
                        m->user ? "user" : "system");
                m->bus = NULL;
        } else {
                r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0)
                        return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        }

        r = curl_glue_new(m->event, &m->curl);
        if (r < 0)
                return log_error_errno(r, "Failed to set up libcurl: %m");

        m->config = TAKE_PTR(c);
        r = evaluator_new(m->config, &m->evaluator);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the evaluator: %m");
        m->rule_counts = calloc(MAX(m->config->n_rules, (size_t) 1), sizeof(RuleCounts));
        m->recent = calloc(MANAGER_RECENT_ROWS, sizeof(RecentRow));
        if (!m->rule_counts || !m->recent)
                return log_oom();

        if (m->state_dir) {
                r = state_dir_open(m->state_dir, true, &m->state_dir_fd);
                if (r < 0)
                        return log_error_errno(r, "Cannot create or open state directory %s: %m", m->state_dir);
                r = state_dir_remove_temporaries(m->state_dir_fd);
                if (r > 0)
                        log_info(
                                "Removed %d temporary file%s left in %s by an interrupted save.",
                                r,
                                r == 1 ? "" : "s",
                                m->state_dir);
                r = state_saver_new(m->event, m->state_dir_fd, MANAGER_EVALUATOR_STATE_FILE, &m->saver);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up state saving: %m");
                state_saver_set_callback(m->saver, on_save_done, m);
                r = restore_state(m);
                if (r < 0)
                        return log_error_errno(r, "Failed to restore state: %m");
        }

        t = now(CLOCK_MONOTONIC);
        r = add_timer(m, &m->lag_timer, t + LOOP_LAG_INTERVAL_USEC, USEC_PER_MSEC, on_lag_timer, "loop-lag");
        if (r >= 0)
                r = add_timer(
                        m,
                        &m->tick_timer,
                        t + MANAGER_TICK_INTERVAL_USEC,
                        50 * USEC_PER_MSEC,
                        on_tick_timer,
                        "evaluator-tick");
        if (r >= 0)
                r = add_timer(
                        m,
                        &m->status_timer,
                        t + MANAGER_STATUS_INTERVAL_USEC,
                        USEC_PER_SEC,
                        on_status_timer,
                        "status");
        if (r >= 0 && m->saver)
                r = add_timer(
                        m,
                        &m->save_timer,
                        t + MANAGER_SAVE_INTERVAL_USEC,
                        10 * USEC_PER_SEC,
                        on_save_timer,
                        "state-save");
        if (r < 0)
                return log_error_errno(r, "Failed to set up timers: %m");
        m->lag.next_due_usec = t + LOOP_LAG_INTERVAL_USEC;

        *ret = TAKE_PTR(m);
        return 0;
}

/* The write group of the API: members of `homeostat` may POST (reload, silences). */
static gid_t lookup_write_group(void) {
        struct group *g;

        errno = 0;
        g = getgrnam("homeostat");
        if (!g) {
                log_info("Group homeostat does not exist; only root may change things through the API.");
                return (gid_t) -1;
        }
        return g->gr_gid;
}

int manager_start(Manager *m) {
        const Config *c = m->config;
        int r;

        if (m->api_socket || m->metrics_listen) {
                r = api_new(m->event, &m->api);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the API: %m");
                api_set_write_group(m->api, lookup_write_group());
                r = manager_api_register(m, m->api);
                if (r < 0)
                        return log_error_errno(r, "Failed to register API routes: %m");
        }
        if (m->api_socket) {
                r = api_listen_unix(m->api, m->api_socket);
                if (r == -EADDRINUSE)
                        return log_error_errno(
                                r,
                                "Another process (another homeostatd?) is listening on %s; refusing "
                                "to take it over.",
                                m->api_socket);
                if (r == -EEXIST)
                        return log_error_errno(
                                r, "%s exists and is not a socket; not replacing it.", m->api_socket);
                if (r < 0)
                        return log_error_errno(r, "Cannot listen on %s: %m", m->api_socket);
                log_info("API listening on unix:%s", m->api_socket);
        }
        if (m->metrics_listen) {
                r = api_listen_tcp(m->api, m->metrics_listen);
                if (r < 0)
                        return log_error_errno(r, "Cannot listen on %s: %m", m->metrics_listen);
                log_info(
                        "Read-only API and /metrics listening on %s (port %u)",
                        m->metrics_listen,
                        api_tcp_port(m->api));
        }

        m->sources = calloc(MAX(c->n_sources, (size_t) 1), sizeof(ManagedSource *));
        if (!m->sources)
                return log_oom();
        for (size_t i = 0; i < c->n_sources; i++) {
                r = managed_source_new(m, &c->sources[i], &m->sources[i]);
                if (r < 0)
                        return log_error_errno(r, "Cannot set up source %s: %m", c->sources[i].name);
                m->n_sources++;
        }
        for (size_t i = 0; i < m->n_sources; i++) {
                m->sources[i]->started = true;
                r = source_start(m->sources[i]->source);
                if (r < 0)
                        return log_error_errno(r, "Cannot start source %s: %m", c->sources[i].name);
        }

        m->ready = true;
        _cleanup_strbuf_ StrBuf status = STRBUF_INIT;
        (void) manager_status_line(m, &status);
        free(m->last_status);
        m->last_status = strdup(strbuf_str(&status));
        (void) sd_notifyf(false, "READY=1\nSTATUS=%s", strbuf_str(&status));
        log_info(
                "homeostatd %s started: %zu rule%s, %zu source%s%s.",
                PROJECT_VERSION,
                c->n_rules,
                c->n_rules == 1 ? "" : "s",
                c->n_sources,
                c->n_sources == 1 ? "" : "s",
                m->dry_run ? ", dry run" : "");
        return 0;
}

int manager_run(Manager *m) {
        return sd_event_loop(m->event);
}

int manager_stop(Manager *m) {
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping: saving state");
        /* No more samples while the final state is written. */
        for (size_t i = 0; i < m->n_sources; i++)
                m->sources[i] = managed_source_free(m->sources[i]);
        m->n_sources = 0;
        return manager_save_state(m, true);
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_sources; i++)
                managed_source_free(m->sources[i]);
        free(m->sources);
        api_free(m->api);
        evaluator_free(m->evaluator);
        config_free(m->config);
        free(m->rule_counts);
        free(m->recent);
        state_saver_free(m->saver);
        safe_close(m->state_dir_fd);
        sd_event_source_disable_unref(m->sig_term);
        sd_event_source_disable_unref(m->sig_int);
        sd_event_source_disable_unref(m->sig_hup);
        sd_event_source_disable_unref(m->lag_timer);
        sd_event_source_disable_unref(m->tick_timer);
        sd_event_source_disable_unref(m->save_timer);
        sd_event_source_disable_unref(m->status_timer);
        curl_glue_free(m->curl);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        free(m->config_path);
        free(m->state_dir);
        free(m->api_socket);
        free(m->metrics_listen);
        free(m->restore_message);
        free(m->last_reload_message);
        free(m->last_status);
        free(m);
        return NULL;
}

/* ---- reload ---- */

static void record_reload(Manager *m, bool ok, const ReloadResult *res) {
        m->reloaded_once = true;
        m->last_reload_ok = ok;
        m->last_reload_realtime = now(CLOCK_REALTIME);
        m->last_reload_errors = res->n_errors;
        if (ok) {
                m->reloads_ok++;
                m->last_reload_success_realtime = m->last_reload_realtime;
        } else
                m->reloads_failed++;
        free(m->last_reload_message);
        m->last_reload_message = res->message ? strdup(res->message) : NULL;
}

/* After a failed reload: a new listen source that was created took its path over from the old source at
 * the same path (source.h), and freeing the new one removed that path; recreate those old sources so that
 * the path works again. Every other old source never stopped. */
static void restore_taken_over_sources(Manager *m, const Config *newc, size_t n_attempted, const bool *reused) {
        for (size_t j = 0; j < m->n_sources; j++) {
                const SourceConfig *oc = &m->config->sources[j];
                ManagedSource *old = m->sources[j];
                bool taken = false;
                int r;

                if (reused[j] || oc->kind != SOURCE_LISTEN || !oc->listen_path)
                        continue;
                for (size_t i = 0; i < n_attempted; i++)
                        if (newc->sources[i].kind == SOURCE_LISTEN &&
                            streq_ptr(newc->sources[i].listen_path, oc->listen_path))
                                taken = true;
                if (!taken)
                        continue;
                old->source = source_free(old->source);
                r = managed_source_create(m, old, oc);
                if (r >= 0)
                        r = source_start(old->source);
                old->started = r >= 0;
                if (r < 0)
                        log_error_errno(r, "Cannot restart source %s after a failed reload: %m", oc->name);
        }
}

/* Send READY=1 (ending RELOADING=1) with a fresh STATUS=. */
static void notify_ready(Manager *m) {
        _cleanup_strbuf_ StrBuf status = STRBUF_INIT;

        (void) manager_status_line(m, &status);
        free(m->last_status);
        m->last_status = strdup(strbuf_str(&status));
        (void) sd_notifyf(false, "READY=1\nSTATUS=%s", strbuf_str(&status));
}

static void finish_result(ReloadResult *res, ReloadResult *ret) {
        if (ret)
                *ret = *res;
        else
                reload_result_done(res);
}

/* Why: the one place where a new configuration replaces the running one. Everything that can fail
 * (parsing, StrictModes, the evaluator, sources that must bind) happens before the swap, and a failure
 * puts back exactly what ran before; after the swap nothing can fail in a way that needs the old state. */
int manager_reload(Manager *m, ReloadResult *ret) {
        ReloadResult res = {};
        _cleanup_(config_freep) Config *newc = NULL;
        Evaluator *newe = NULL;
        ManagedSource **fresh = NULL;
        RuleCounts *counts = NULL;
        bool *reused = NULL;
        size_t n_new = 0, kept = 0;
        EvaluatorStats est;
        Config *oldc;
        int r;

        if (m->reloading) {
                (void) result_set_message(&res, "a reload is already in progress");
                finish_result(&res, ret);
                return -EBUSY;
        }
        m->reloading = true;
        (void) sd_notify(false, "RELOADING=1\nSTATUS=Reloading configuration");

        r = manager_load_config(m->config_path, m->strict_modes, &newc, &res);
        if (r < 0)
                goto fail;

        r = evaluator_new(newc, &newe);
        if (r < 0) {
                (void) result_set_message(&res, "cannot build the evaluator: %s", strerror(-r));
                goto fail;
        }

        n_new = newc->n_sources;
        fresh = calloc(MAX(n_new, (size_t) 1), sizeof(ManagedSource *));
        reused = calloc(MAX(m->n_sources, (size_t) 1), sizeof(bool));
        counts = calloc(MAX(newc->n_rules, (size_t) 1), sizeof(RuleCounts));
        if (!fresh || !reused || !counts) {
                r = -ENOMEM;
                (void) result_set_message(&res, "out of memory");
                goto fail;
        }

        /* An old source with the same name and settings keeps running. */
        for (size_t i = 0; i < n_new; i++)
                for (size_t j = 0; j < m->n_sources; j++)
                        if (!reused[j] && m->sources[j]->source &&
                            source_config_equal(&m->config->sources[j], &newc->sources[i])) {
                                reused[j] = true;
                                fresh[i] = m->sources[j];
                                kept++;
                                break;
                        }

        /* Create the new and changed sources while the old ones keep running (a new listen source takes its
         * path over from an old one, see source.h); the old ones go only once everything is built. */
        for (size_t i = 0; i < n_new; i++) {
                char line[700];

                if (fresh[i])
                        continue;
                r = managed_source_new(m, &newc->sources[i], &fresh[i]);
                if (r >= 0)
                        continue;
                (void) result_set_message(
                        &res, "cannot set up source %s: %s", newc->sources[i].name, strerror(-r));
                snprintf(
                        line,
                        sizeof(line),
                        "%s: error: source %s: cannot set it up: %s",
                        m->config_path,
                        newc->sources[i].name,
                        strerror(-r));
                (void) result_add_line(&res, line);
                res.n_errors++;
                /* roll back: what was created for the new configuration goes, the old sources stay */
                for (size_t k = 0; k < n_new; k++) {
                        bool is_old = false;
                        for (size_t j = 0; j < m->n_sources; j++)
                                if (fresh[k] == m->sources[j])
                                        is_old = true;
                        if (!is_old)
                                managed_source_free(fresh[k]);
                }
                restore_taken_over_sources(m, newc, i + 1, reused);
                goto fail;
        }

        /* Everything is built; from here on nothing needs the old configuration back. */
        r = evaluator_adopt(newe, m->evaluator);
        if (r < 0)
                log_warning_errno(
                        r, "Carrying learned state over to the new rules failed, some rules start fresh: %m");

        /* Per-rule counters follow the rule name; "firing" only where the learned state carried over. */
        for (size_t i = 0; i < newc->n_rules; i++)
                for (size_t j = 0; j < m->config->n_rules; j++)
                        if (streq(m->config->rules[j].name, newc->rules[i].name)) {
                                counts[i] = m->rule_counts[j];
                                if (m->config->rules[j].fingerprint != newc->rules[i].fingerprint)
                                        counts[i].firing = 0;
                                break;
                        }
        /* Ingestion totals never go backwards. */
        evaluator_get_stats(m->evaluator, &est);
        m->carried.samples += est.samples;
        m->carried.skipped_nonfinite += est.skipped_nonfinite;
        m->carried.skipped_out_of_order += est.skipped_out_of_order;
        m->carried.rows += est.rows;

        for (size_t j = 0; j < m->n_sources; j++)
                if (!reused[j])
                        managed_source_free(m->sources[j]);
        free(m->sources);
        m->sources = TAKE_PTR(fresh);
        m->n_sources = n_new;
        evaluator_free(m->evaluator);
        m->evaluator = TAKE_PTR(newe);
        free(m->rule_counts);
        m->rule_counts = TAKE_PTR(counts);
        oldc = m->config;
        m->config = TAKE_PTR(newc);

        for (size_t i = 0; i < m->n_extensions; i++)
                if (m->extensions[i].ext.config_changed)
                        m->extensions[i].ext.config_changed(m, oldc, m->config, m->extensions[i].userdata);
        config_free(oldc);

        /* Start what is new (kept sources are running already). */
        for (size_t i = 0; i < m->n_sources; i++) {
                if (m->sources[i]->started)
                        continue;
                m->sources[i]->started = true;
                r = source_start(m->sources[i]->source);
                if (r < 0)
                        log_error_errno(r, "Cannot start source %s: %m", m->config->sources[i].name);
        }

        free(reused);
        res.ok = true;
        res.n_rules = m->config->n_rules;
        res.n_sources = m->n_sources;
        (void) result_set_message(
                &res,
                "configuration reloaded: %zu rule%s, %zu source%s (%zu kept running)%s",
                res.n_rules,
                res.n_rules == 1 ? "" : "s",
                res.n_sources,
                res.n_sources == 1 ? "" : "s",
                kept,
                res.n_warnings > 0 ? ", with warnings (see journal)" : "");
        manager_log_diagnostics(&res, m->config_path);
        log_info("Reload of %s: %s", m->config_path, res.message);
        record_reload(m, true, &res);
        m->reloading = false;
        notify_ready(m);
        finish_result(&res, ret);
        return 0;

fail:
        evaluator_free(newe);
        free(fresh);
        free(reused);
        free(counts);
        if (res.n_errors == 0)
                res.n_errors = 1;
        res.ok = false;
        res.n_rules = m->config->n_rules;
        res.n_sources = m->n_sources;
        manager_log_diagnostics(&res, m->config_path);
        log_error(
                "Reload of %s failed, the running configuration stays: %s",
                m->config_path,
                res.message ?: "invalid configuration");
        (void) result_set_message(
                &res, "reload failed: %zu error%s (see journal)", res.n_errors, res.n_errors == 1 ? "" : "s");
        record_reload(m, false, &res);
        m->reloading = false;
        notify_ready(m);
        finish_result(&res, ret);
        return r < 0 ? r : -EINVAL;
}

/* ---- hooks and accessors ---- */

void manager_set_eval_hook(Manager *m, ManagerEvalHook hook, void *userdata) {
        m->eval_hook = hook;
        m->eval_hook_userdata = userdata;
}

int manager_add_extension(Manager *m, const ManagerExtension *ext, void *userdata) {
        if (!m || !ext)
                return -EINVAL;
        if (m->n_extensions >= MANAGER_EXTENSIONS_MAX)
                return -ENOSPC;
        m->extensions[m->n_extensions++] = (ManagerExtensionSlot){ .ext = *ext, .userdata = userdata };
        return 0;
}

sd_event *manager_get_event(Manager *m) {
        return m->event;
}

sd_bus *manager_get_bus(Manager *m) {
        return m->bus;
}

CurlGlue *manager_get_curl(Manager *m) {
        return m->curl;
}

Api *manager_get_api(Manager *m) {
        return m->api;
}

const Config *manager_get_config(Manager *m) {
        return m->config;
}

Evaluator *manager_get_evaluator(Manager *m) {
        return m->evaluator;
}

int manager_get_state_dir_fd(Manager *m) {
        return m->state_dir_fd;
}

bool manager_is_dry_run(Manager *m) {
        return m->dry_run;
}

bool manager_is_user(Manager *m) {
        return m->user;
}

bool manager_loop_lagging(Manager *m) {
        return loop_lag_is_lagging(&m->lag, now(CLOCK_MONOTONIC));
}

usec_t manager_loop_lag_usec(Manager *m) {
        return loop_lag_current(&m->lag, now(CLOCK_MONOTONIC));
}

int manager_get_rule_counts(Manager *m, size_t rule_index, RuleCounts *ret) {
        if (rule_index >= m->config->n_rules)
                return -ENOENT;
        *ret = m->rule_counts[rule_index];
        return 0;
}
