/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What homeostatd tells the world about itself: the STATUS= line, GET /api/v1/status (JSON), GET /metrics
 * (Prometheus text exposition 0.0.4, checked with `promtool check metrics`), the status page at GET /
 * (plain enough to read with curl in a terminal), and POST /api/v1/reload. All of it is computed on demand
 * from the Manager's counters; nothing here changes state except the reload route.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "fmt-double.h"
#include "manager-private.h"

static double usec_to_sec(usec_t u) {
        return (double) u / (double) USEC_PER_SEC;
}

static json_t *json_timestamp_or_null(usec_t t) {
        char buf[TIMESTAMP_MAX];
        if (t == 0)
                return json_null();
        return json_string(format_timestamp(buf, sizeof(buf), t));
}

static void total_stats(Manager *m, EvaluatorStats *ret) {
        EvaluatorStats st;

        evaluator_get_stats(m->evaluator, &st);
        ret->samples = m->carried.samples + st.samples;
        ret->skipped_nonfinite = m->carried.skipped_nonfinite + st.skipped_nonfinite;
        ret->skipped_out_of_order = m->carried.skipped_out_of_order + st.skipped_out_of_order;
        ret->rows = m->carried.rows + st.rows;
        ret->series = st.series;
}

static uint64_t firing_total(Manager *m) {
        uint64_t n = 0;
        for (size_t i = 0; i < m->config->n_rules; i++)
                n += m->rule_counts[i].firing;
        return n;
}

int manager_status_line(Manager *m, StrBuf *out) {
        const Config *c = m->config;
        EvaluatorStats st;

        total_stats(m, &st);
        (void) strbuf_printf(
                out,
                "%" PRIu64 " series, %zu rule%s, %zu source%s, %" PRIu64 " firing",
                st.series,
                c->n_rules,
                c->n_rules == 1 ? "" : "s",
                c->n_sources,
                c->n_sources == 1 ? "" : "s",
                firing_total(m));
        for (size_t i = 0; i < m->n_extensions; i++)
                if (m->extensions[i].ext.status_summary) {
                        (void) strbuf_puts(out, ", ");
                        m->extensions[i].ext.status_summary(m, out, m->extensions[i].userdata);
                }
        if (m->reloaded_once && !m->last_reload_ok)
                (void) strbuf_printf(
                        out,
                        "; reload failed: %zu error%s (see journal)",
                        m->last_reload_errors,
                        m->last_reload_errors == 1 ? "" : "s");
        else if (m->reloaded_once) {
                char buf[TIMESTAMP_MAX];
                (void) strbuf_printf(
                        out, "; reloaded %s", format_timestamp(buf, sizeof(buf), m->last_reload_realtime));
        }
        if (m->dry_run)
                (void) strbuf_puts(out, "; dry run");
        return strbuf_failed(out) ? -ENOMEM : 0;
}

/* ---- status JSON ---- */

static json_t *rules_json(Manager *m) {
        const Config *c = m->config;
        json_t *a = json_array();

        for (size_t i = 0; a && i < c->n_rules; i++) {
                const Rule *r = &c->rules[i];
                const RuleCounts *rc = &m->rule_counts[i];
                json_t *o = json_pack(
                        "{s:s,s:s,s:s,s:o,s:I,s:I,s:I,s:I}",
                        "name",
                        r->name,
                        "detector",
                        strempty(detector_kind_to_string(r->detector.kind)),
                        "mode",
                        strempty(rule_mode_to_string(r->mode)),
                        "series",
                        r->series && r->series->text ? json_string(r->series->text) : json_null(),
                        "firing",
                        (json_int_t) rc->firing,
                        "fired_total",
                        (json_int_t) rc->fired_total,
                        "verdicts",
                        (json_int_t) rc->rows,
                        "anomalous",
                        (json_int_t) rc->anomalous);
                if (!o || json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

static json_t *sources_json(Manager *m) {
        json_t *a = json_array();

        for (size_t i = 0; a && i < m->n_sources; i++) {
                const SourceConfig *sc = &m->config->sources[i];
                SourceStats st = {};
                json_t *o;

                if (m->sources[i]->source)
                        source_get_stats(m->sources[i]->source, &st);
                o = json_pack(
                        "{s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:o}",
                        "name",
                        sc->name,
                        "kind",
                        strempty(source_kind_to_string(sc->kind)),
                        "up",
                        (int) st.up,
                        "series",
                        (json_int_t) st.series,
                        "collections",
                        (json_int_t) st.collections,
                        "failures",
                        (json_int_t) st.failures,
                        "samples",
                        (json_int_t) st.samples,
                        "dropped_max_series",
                        (json_int_t) st.dropped_max_series,
                        "last_duration_seconds",
                        usec_to_sec(st.last_duration_usec),
                        "last_bytes",
                        (json_int_t) st.last_bytes,
                        "last_error",
                        st.last_error[0] ? json_string(st.last_error) : json_null());
                if (!o || json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

json_t *manager_status_json(Manager *m) {
        const Config *c = m->config;
        _cleanup_strbuf_ StrBuf line = STRBUF_INIT;
        usec_t mono = now(CLOCK_MONOTONIC);
        StateSaverStats ss = {};
        EvaluatorStats st;
        char host[256] = "";
        json_t *o;

        total_stats(m, &st);
        (void) gethostname(host, sizeof(host) - 1);
        (void) manager_status_line(m, &line);
        if (m->saver)
                state_saver_get_stats(m->saver, &ss);

        o = json_pack(
                "{s:s,s:s,s:i,s:o,s:f,s:s,s:o,s:b,s:b,s:I,s:I,s:I,s:s}",
                "version",
                PROJECT_VERSION,
                "host",
                host,
                "pid",
                (int) getpid(),
                "started_at",
                json_timestamp_or_null(m->start_realtime),
                "uptime_seconds",
                usec_to_sec(mono - m->start_monotonic),
                "config",
                m->config_path,
                "state_dir",
                m->state_dir ? json_string(m->state_dir) : json_null(),
                "dry_run",
                (int) m->dry_run,
                "user",
                (int) m->user,
                "rule_count",
                (json_int_t) c->n_rules,
                "source_count",
                (json_int_t) c->n_sources,
                "series_count",
                (json_int_t) st.series,
                "status",
                strbuf_str(&line));
        if (!o)
                return NULL;

        if (json_object_set_new(
                    o,
                    "samples",
                    json_pack(
                            "{s:I,s:I,s:I,s:I,s:I,s:I}",
                            "received",
                            (json_int_t) m->samples_received,
                            "evaluated",
                            (json_int_t) st.samples,
                            "skipped_nonfinite",
                            (json_int_t) st.skipped_nonfinite,
                            "skipped_out_of_order",
                            (json_int_t) st.skipped_out_of_order,
                            "errors",
                            (json_int_t) m->push_errors,
                            "verdicts",
                            (json_int_t) st.rows)) < 0 ||
            json_object_set_new(
                    o,
                    "loop_lag",
                    json_pack(
                            "{s:f,s:f,s:f,s:b,s:f}",
                            "current_seconds",
                            usec_to_sec(loop_lag_current(&m->lag, mono)),
                            "max_seconds",
                            usec_to_sec(loop_lag_max(&m->lag, mono, LOOP_LAG_WINDOW_USEC)),
                            "max_ever_seconds",
                            usec_to_sec(m->lag.max_ever_usec),
                            "lagging",
                            (int) loop_lag_is_lagging(&m->lag, mono),
                            "window_seconds",
                            usec_to_sec(LOOP_LAG_WINDOW_USEC))) < 0 ||
            json_object_set_new(
                    o,
                    "last_reload",
                    json_pack(
                            "{s:b,s:o,s:o,s:s,s:I,s:I,s:I}",
                            "ok",
                            (int) m->last_reload_ok,
                            "at",
                            json_timestamp_or_null(m->reloaded_once ? m->last_reload_realtime : 0),
                            "last_success_at",
                            json_timestamp_or_null(m->last_reload_success_realtime),
                            "message",
                            m->last_reload_message ?: "",
                            "errors",
                            (json_int_t) (m->reloaded_once ? m->last_reload_errors : 0),
                            "succeeded",
                            (json_int_t) m->reloads_ok,
                            "failed",
                            (json_int_t) m->reloads_failed)) < 0 ||
            json_object_set_new(
                    o,
                    "state",
                    json_pack(
                            "{s:o,s:s,s:o,s:I,s:I,s:o,s:f,s:f,s:I,s:b}",
                            "file",
                            m->state_dir ? json_sprintf("%s/%s", m->state_dir, MANAGER_EVALUATOR_STATE_FILE)
                                         : json_null(),
                            "restore",
                            m->restore_message ?: "",
                            "last_save_at",
                            json_timestamp_or_null(ss.last_ok_realtime_usec),
                            "saves_ok",
                            (json_int_t) ss.saves_ok,
                            "saves_failed",
                            (json_int_t) ss.saves_failed,
                            "last_error",
                            ss.last_error < 0 ? json_string(strerror(-ss.last_error)) : json_null(),
                            "last_fork_seconds",
                            usec_to_sec(ss.last_fork_usec),
                            "last_write_seconds",
                            usec_to_sec(ss.last_write_usec),
                            "bytes",
                            (json_int_t) ss.last_size,
                            "in_flight",
                            (int) ss.in_flight)) < 0 ||
            json_object_set_new(o, "rules", rules_json(m)) < 0 ||
            json_object_set_new(o, "sources", sources_json(m)) < 0) {
                json_decref(o);
                return NULL;
        }
        for (size_t i = 0; i < m->n_extensions; i++)
                if (m->extensions[i].ext.status_json)
                        m->extensions[i].ext.status_json(m, o, m->extensions[i].userdata);
        return o;
}

/* ---- /metrics ---- */

static void family(StrBuf *b, const char *name, const char *type, const char *help) {
        (void) strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_label_value(StrBuf *b, const char *v) {
        for (const char *p = v; *p; p++) {
                if (*p == '\\')
                        (void) strbuf_puts(b, "\\\\");
                else if (*p == '"')
                        (void) strbuf_puts(b, "\\\"");
                else if (*p == '\n')
                        (void) strbuf_puts(b, "\\n");
                else
                        (void) strbuf_putc(b, *p);
        }
}

static void put_double(StrBuf *b, double v) {
        if (isnan(v))
                (void) strbuf_puts(b, "NaN");
        else if (isinf(v))
                (void) strbuf_puts(b, v > 0 ? "+Inf" : "-Inf");
        else {
                char buf[FMT_DOUBLE_MAX];
                (void) strbuf_append(b, buf, fmt_double(buf, v)); /* shortest round trip: no lost seconds */
        }
}

/* One sample line: name{label="value"} v  (label may be NULL). */
static void sample(StrBuf *b, const char *name, const char *label, const char *value, double v) {
        (void) strbuf_puts(b, name);
        if (label) {
                (void) strbuf_printf(b, "{%s=\"", label);
                put_label_value(b, value);
                (void) strbuf_puts(b, "\"}");
        }
        (void) strbuf_putc(b, ' ');
        put_double(b, v);
        (void) strbuf_putc(b, '\n');
}

static void sample_u64(StrBuf *b, const char *name, const char *label, const char *value, uint64_t v) {
        (void) strbuf_puts(b, name);
        if (label) {
                (void) strbuf_printf(b, "{%s=\"", label);
                put_label_value(b, value);
                (void) strbuf_puts(b, "\"}");
        }
        (void) strbuf_printf(b, " %" PRIu64 "\n", v);
}

static void metrics_sources(Manager *m, StrBuf *b) {
        static const struct {
                const char *name, *type, *help;
        } fams[] = {
                { "homeostat_source_up", "gauge", "Whether the last collection of the source succeeded." },
                { "homeostat_source_collections_total", "counter", "Scrapes, probes or polls attempted." },
                { "homeostat_source_failures_total", "counter", "Collections that failed." },
                { "homeostat_source_samples_total", "counter", "Samples the source emitted." },
                { "homeostat_source_dropped_samples_total", "counter", "Samples dropped because of max_series." },
                { "homeostat_source_series",
                  "gauge",
                  "Distinct series the source has seen (bounded by max_series)." },
                { "homeostat_source_scrape_duration_seconds", "gauge", "Duration of the last collection." },
                { "homeostat_source_scrape_bytes", "gauge", "Size of the last response body." },
        };

        for (size_t f = 0; f < ELEMENTSOF(fams); f++) {
                family(b, fams[f].name, fams[f].type, fams[f].help);
                for (size_t i = 0; i < m->n_sources; i++) {
                        const SourceConfig *sc = &m->config->sources[i];
                        SourceStats st = {};

                        if (m->sources[i]->source)
                                source_get_stats(m->sources[i]->source, &st);
                        switch (f) {
                        case 0:
                                sample_u64(b, fams[f].name, "source", sc->name, st.up ? 1 : 0);
                                break;
                        case 1:
                                sample_u64(b, fams[f].name, "source", sc->name, st.collections);
                                break;
                        case 2:
                                sample_u64(b, fams[f].name, "source", sc->name, st.failures);
                                break;
                        case 3:
                                sample_u64(b, fams[f].name, "source", sc->name, st.samples);
                                break;
                        case 4:
                                sample_u64(b, fams[f].name, "source", sc->name, st.dropped_max_series);
                                break;
                        case 5:
                                sample_u64(b, fams[f].name, "source", sc->name, st.series);
                                break;
                        case 6:
                                sample(b, fams[f].name, "source", sc->name, usec_to_sec(st.last_duration_usec));
                                break;
                        default:
                                sample_u64(b, fams[f].name, "source", sc->name, st.last_bytes);
                                break;
                        }
                }
        }
}

static void metrics_rules(Manager *m, StrBuf *b) {
        const Config *c = m->config;

        family(b, "homeostat_rule_firing_series", "gauge", "Series for which the rule fires now.");
        for (size_t i = 0; i < c->n_rules; i++)
                sample_u64(
                        b, "homeostat_rule_firing_series", "rule", c->rules[i].name, m->rule_counts[i].firing);
        family(b, "homeostat_rule_fired_total", "counter", "Times the rule started firing for a series.");
        for (size_t i = 0; i < c->n_rules; i++)
                sample_u64(
                        b, "homeostat_rule_fired_total", "rule", c->rules[i].name, m->rule_counts[i].fired_total);
        family(b, "homeostat_rule_verdicts_total", "counter", "Verdicts the rule's detector produced.");
        for (size_t i = 0; i < c->n_rules; i++)
                sample_u64(
                        b, "homeostat_rule_verdicts_total", "rule", c->rules[i].name, m->rule_counts[i].rows);
        family(b, "homeostat_rule_anomalous_verdicts_total", "counter", "Verdicts that were anomalous.");
        for (size_t i = 0; i < c->n_rules; i++)
                sample_u64(
                        b,
                        "homeostat_rule_anomalous_verdicts_total",
                        "rule",
                        c->rules[i].name,
                        m->rule_counts[i].anomalous);
}

int manager_metrics(Manager *m, StrBuf *b) {
        const Config *c = m->config;
        usec_t mono = now(CLOCK_MONOTONIC);
        StateSaverStats ss = {};
        EvaluatorStats st;
        ApiStats as = {};

        total_stats(m, &st);
        if (m->saver)
                state_saver_get_stats(m->saver, &ss);
        if (m->api)
                api_get_stats(m->api, &as);

        family(b, "homeostat_build_info", "gauge", "Build information; always 1.");
        sample(b, "homeostat_build_info", "version", PROJECT_VERSION, 1);
        family(b, "homeostat_start_time_seconds", "gauge", "When homeostatd started, seconds since the epoch.");
        sample(b, "homeostat_start_time_seconds", NULL, NULL, usec_to_sec(m->start_realtime));
        family(b, "homeostat_dry_run", "gauge", "1 when homeostatd runs with --dry-run.");
        sample_u64(b, "homeostat_dry_run", NULL, NULL, m->dry_run);

        family(b, "homeostat_loop_lag_seconds", "gauge", "How late the event loop's 250 ms lag timer ran last.");
        sample(b, "homeostat_loop_lag_seconds", NULL, NULL, usec_to_sec(loop_lag_current(&m->lag, mono)));
        family(b, "homeostat_loop_lag_max_seconds", "gauge", "Largest event loop lag within the last 10 s.");
        sample(b,
               "homeostat_loop_lag_max_seconds",
               NULL,
               NULL,
               usec_to_sec(loop_lag_max(&m->lag, mono, LOOP_LAG_WINDOW_USEC)));
        family(b,
               "homeostat_loop_lagging",
               "gauge",
               "1 while the loop lagged more than 1 s within 10 s (no actions run).");
        sample_u64(b, "homeostat_loop_lagging", NULL, NULL, loop_lag_is_lagging(&m->lag, mono));

        family(b, "homeostat_series", "gauge", "Series the evaluator holds.");
        sample_u64(b, "homeostat_series", NULL, NULL, st.series);
        family(b, "homeostat_rules", "gauge", "Rules in the running configuration.");
        sample_u64(b, "homeostat_rules", NULL, NULL, c->n_rules);
        family(b, "homeostat_sources", "gauge", "Sources in the running configuration.");
        sample_u64(b, "homeostat_sources", NULL, NULL, c->n_sources);
        family(b, "homeostat_samples_received_total", "counter", "Samples received from all sources.");
        sample_u64(b, "homeostat_samples_received_total", NULL, NULL, m->samples_received);
        family(b, "homeostat_samples_evaluated_total", "counter", "Samples the evaluator ingested.");
        sample_u64(b, "homeostat_samples_evaluated_total", NULL, NULL, st.samples);
        family(b, "homeostat_samples_skipped_total", "counter", "Samples not evaluated, by reason.");
        sample_u64(b, "homeostat_samples_skipped_total", "reason", "nonfinite", st.skipped_nonfinite);
        sample_u64(b, "homeostat_samples_skipped_total", "reason", "out_of_order", st.skipped_out_of_order);
        sample_u64(b, "homeostat_samples_skipped_total", "reason", "error", m->push_errors);
        family(b, "homeostat_verdicts_total", "counter", "Verdicts produced (one per sample and matching rule).");
        sample_u64(b, "homeostat_verdicts_total", NULL, NULL, st.rows);

        metrics_sources(m, b);
        metrics_rules(m, b);

        family(b,
               "homeostat_config_last_reload_successful",
               "gauge",
               "Whether the last configuration reload succeeded.");
        sample_u64(b, "homeostat_config_last_reload_successful", NULL, NULL, m->last_reload_ok);
        family(b,
               "homeostat_config_last_reload_success_timestamp_seconds",
               "gauge",
               "When the running configuration was loaded, seconds since the epoch.");
        sample(b,
               "homeostat_config_last_reload_success_timestamp_seconds",
               NULL,
               NULL,
               usec_to_sec(m->last_reload_success_realtime ?: m->start_realtime));
        family(b, "homeostat_config_reloads_total", "counter", "Configuration reloads, by result.");
        sample_u64(b, "homeostat_config_reloads_total", "result", "success", m->reloads_ok);
        sample_u64(b, "homeostat_config_reloads_total", "result", "failure", m->reloads_failed);

        family(b, "homeostat_state_saves_total", "counter", "Saves of learned state, by result.");
        sample_u64(b, "homeostat_state_saves_total", "result", "success", ss.saves_ok);
        sample_u64(b, "homeostat_state_saves_total", "result", "failure", ss.saves_failed);
        family(b,
               "homeostat_state_last_save_timestamp_seconds",
               "gauge",
               "When learned state was last saved (0: never).");
        sample(b,
               "homeostat_state_last_save_timestamp_seconds",
               NULL,
               NULL,
               usec_to_sec(ss.last_ok_realtime_usec));
        family(b,
               "homeostat_state_save_blocked_seconds",
               "gauge",
               "Event loop time the last periodic save took (fork of the writer child).");
        sample(b, "homeostat_state_save_blocked_seconds", NULL, NULL, usec_to_sec(ss.last_fork_usec));
        family(b,
               "homeostat_state_save_duration_seconds",
               "gauge",
               "Duration of the last save (serialize, write, fsync).");
        sample(b, "homeostat_state_save_duration_seconds", NULL, NULL, usec_to_sec(ss.last_write_usec));
        family(b, "homeostat_state_size_bytes", "gauge", "Size of the last saved learned state.");
        sample_u64(b, "homeostat_state_size_bytes", NULL, NULL, ss.last_size);

        family(b, "homeostat_api_requests_total", "counter", "HTTP API requests answered.");
        sample_u64(b, "homeostat_api_requests_total", NULL, NULL, as.requests);
        family(b, "homeostat_api_refused_writes_total", "counter", "HTTP API writes refused (403).");
        sample_u64(b, "homeostat_api_refused_writes_total", NULL, NULL, as.refused_writes);

        for (size_t i = 0; i < m->n_extensions; i++)
                if (m->extensions[i].ext.metrics)
                        m->extensions[i].ext.metrics(m, b, m->extensions[i].userdata);
        return strbuf_failed(b) ? -ENOMEM : 0;
}

/* ---- the status page ---- */

static void html_escaped(StrBuf *b, const char *s) {
        for (const char *p = s; p && *p; p++) {
                switch (*p) {
                case '<':
                        (void) strbuf_puts(b, "&lt;");
                        break;
                case '>':
                        (void) strbuf_puts(b, "&gt;");
                        break;
                case '&':
                        (void) strbuf_puts(b, "&amp;");
                        break;
                case '"':
                        (void) strbuf_puts(b, "&quot;");
                        break;
                default:
                        (void) strbuf_putc(b, *p);
                }
        }
}

static void html_printf(StrBuf *b, const char *fmt, ...) _printf_(2, 3);
static void html_printf(StrBuf *b, const char *fmt, ...) {
        _cleanup_strbuf_ StrBuf t = STRBUF_INIT;
        va_list ap;

        va_start(ap, fmt);
        (void) strbuf_vprintf(&t, fmt, ap);
        va_end(ap);
        html_escaped(b, strbuf_str(&t));
}

int manager_status_html(Manager *m, StrBuf *b) {
        const Config *c = m->config;
        usec_t mono = now(CLOCK_MONOTONIC);
        char host[256] = "", dur[DURATION_MAX], ts[TIMESTAMP_MAX];
        _cleanup_strbuf_ StrBuf line = STRBUF_INIT;
        EvaluatorStats st;

        total_stats(m, &st);
        (void) gethostname(host, sizeof(host) - 1);
        (void) manager_status_line(m, &line);

        (void) strbuf_puts(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>homeostatd on ");
        html_escaped(b, host);
        (void) strbuf_puts(b, "</title></head>\n<body><pre>\n");
        html_printf(
                b,
                "homeostatd %s on %s, up %s\n",
                PROJECT_VERSION,
                host,
                format_duration(dur, sizeof(dur), (mono - m->start_monotonic) / USEC_PER_SEC * USEC_PER_SEC));
        html_printf(b, "%s\n\n", strbuf_str(&line));
        html_printf(b, "configuration  %s\n", m->config_path);
        if (m->reloaded_once)
                html_printf(
                        b,
                        "last reload    %s at %s: %s\n",
                        m->last_reload_ok ? "ok" : "FAILED",
                        format_timestamp(ts, sizeof(ts), m->last_reload_realtime),
                        strempty(m->last_reload_message));
        html_printf(
                b,
                "samples        %" PRIu64 " received, %" PRIu64 " evaluated, %" PRIu64 " skipped\n",
                m->samples_received,
                st.samples,
                st.skipped_nonfinite + st.skipped_out_of_order + m->push_errors);
        html_printf(
                b,
                "loop lag       %.1f ms now, %.1f ms max in 10 s%s\n",
                (double) loop_lag_current(&m->lag, mono) / 1000.0,
                (double) loop_lag_max(&m->lag, mono, LOOP_LAG_WINDOW_USEC) / 1000.0,
                loop_lag_is_lagging(&m->lag, mono) ? " (LAGGING: no actions run)" : "");
        if (m->state_dir) {
                StateSaverStats ss = {};
                if (m->saver)
                        state_saver_get_stats(m->saver, &ss);
                html_printf(
                        b,
                        "state          %s, last saved %s\n",
                        m->state_dir,
                        ss.last_ok_realtime_usec ? format_timestamp(ts, sizeof(ts), ss.last_ok_realtime_usec)
                                                 : "never");
        }

        html_printf(b, "\nsources (%zu)\n", m->n_sources);
        html_printf(
                b, "  %-24s %-11s %-4s %8s %10s  %s\n", "NAME", "KIND", "UP", "SERIES", "FAILURES", "LAST ERROR");
        for (size_t i = 0; i < m->n_sources; i++) {
                const SourceConfig *sc = &m->config->sources[i];
                SourceStats ss = {};
                if (m->sources[i]->source)
                        source_get_stats(m->sources[i]->source, &ss);
                html_printf(
                        b,
                        "  %-24s %-11s %-4s %8" PRIu64 " %10" PRIu64 "  %s\n",
                        sc->name,
                        strempty(source_kind_to_string(sc->kind)),
                        ss.up ? "yes" : "no",
                        ss.series,
                        ss.failures,
                        ss.last_error);
        }
        html_printf(b, "\nrules (%zu)\n", c->n_rules);
        html_printf(b, "  %-24s %-10s %-10s %7s %7s\n", "NAME", "DETECTOR", "MODE", "FIRING", "FIRED");
        for (size_t i = 0; i < c->n_rules; i++)
                html_printf(
                        b,
                        "  %-24s %-10s %-10s %7" PRIu64 " %7" PRIu64 "\n",
                        c->rules[i].name,
                        strempty(detector_kind_to_string(c->rules[i].detector.kind)),
                        strempty(rule_mode_to_string(c->rules[i].mode)),
                        m->rule_counts[i].firing,
                        m->rule_counts[i].fired_total);
        (void) strbuf_puts(
                b,
                "\n<a href=\"/metrics\">/metrics</a>  <a href=\"/api/v1/status\">/api/v1/status</a>\n"
                "</pre></body></html>\n");
        return strbuf_failed(b) ? -ENOMEM : 0;
}

/* ---- recent verdicts ---- */

static json_t *json_number_or_null(double v) {
        /* JSON has no NaN/Inf (and json_real(NAN) is NULL): "no value yet" is null */
        return isfinite(v) ? json_real(v) : json_null();
}

static const char *transition_to_string(EvalTransition t) {
        static const char *const names[] = {
                [EVAL_NONE] = "none",       [EVAL_PENDING] = "pending",   [EVAL_FIRING] = "firing",
                [EVAL_CLEARED] = "cleared", [EVAL_RESOLVED] = "resolved", [EVAL_ABSENT] = "absent",
        };
        return (size_t) t < ELEMENTSOF(names) && names[t] ? names[t] : "unknown";
}

json_t *manager_recent_verdicts_json(Manager *m, const char *rule, const char *series) {
        json_t *a = json_array(), *o;

        if (!a)
                return NULL;
        for (size_t k = 0; k < MANAGER_RECENT_ROWS && k < m->recent_total; k++) {
                /* oldest first */
                size_t i = (m->recent_total < MANAGER_RECENT_ROWS ? 0 : m->recent_next) + k;
                const RecentRow *r = &m->recent[i % MANAGER_RECENT_ROWS];

                if ((rule && !streq(rule, r->rule)) || (series && !streq(series, r->series)))
                        continue;
                o = json_pack(
                        "{s:s,s:s,s:f,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:b,s:b,s:s,s:b}",
                        "rule",
                        r->rule,
                        "series",
                        r->series,
                        "t",
                        r->t,
                        "value",
                        json_number_or_null(r->value),
                        "x",
                        json_number_or_null(r->x),
                        "score",
                        json_number_or_null(r->verdict.score),
                        "p",
                        json_number_or_null(r->verdict.p),
                        "expected",
                        json_number_or_null(r->verdict.expected),
                        "lower",
                        json_number_or_null(r->verdict.lower),
                        "upper",
                        json_number_or_null(r->verdict.upper),
                        "anomalous",
                        (int) r->verdict.anomalous,
                        "warming_up",
                        (int) r->verdict.warming_up,
                        "firing",
                        (int) r->firing,
                        "transition",
                        transition_to_string(r->transition),
                        "from_tick",
                        (int) r->from_tick);
                if (!o || json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return json_pack("{s:o,s:I}", "verdicts", a, "capacity", (json_int_t) MANAGER_RECENT_ROWS);
}

/* ---- routes ---- */

static int reply_strbuf(ApiResponse *resp, const char *content_type, StrBuf *b) {
        size_t len = b->len;
        char *s;

        if (strbuf_failed(b))
                return -ENOMEM;
        s = strbuf_steal(b);
        if (!s)
                return -ENOMEM;
        return api_reply_text(resp, 200, content_type, s, len);
}

static int h_root(const ApiRequest *req, ApiResponse *resp, void *userdata) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        int r = manager_status_html(userdata, &b);
        if (r < 0)
                return r;
        return reply_strbuf(resp, "text/html; charset=utf-8", &b);
}

static int h_metrics(const ApiRequest *req, ApiResponse *resp, void *userdata) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        int r = manager_metrics(userdata, &b);
        if (r < 0)
                return r;
        return reply_strbuf(resp, "text/plain; version=0.0.4; charset=utf-8", &b);
}

static int h_status(const ApiRequest *req, ApiResponse *resp, void *userdata) {
        json_t *j = manager_status_json(userdata);
        if (!j)
                return -ENOMEM;
        return api_reply_json(resp, 200, j);
}

static int h_verdicts(const ApiRequest *req, ApiResponse *resp, void *userdata) {
        json_t *j = manager_recent_verdicts_json(
                userdata, api_request_query(req, "rule"), api_request_query(req, "series"));
        if (!j)
                return -ENOMEM;
        return api_reply_json(resp, 200, j);
}

static int h_reload(const ApiRequest *req, ApiResponse *resp, void *userdata) {
        Manager *m = userdata;
        ReloadResult res = {};
        unsigned status;
        json_t *j;
        int r;

        log_info(
                "Reload requested through the API (peer uid %d, pid %d).",
                (int) req->peer_uid,
                (int) req->peer_pid);
        r = manager_reload(m, &res);
        status = r >= 0 ? 200 : (r == -EINVAL || r == -EPERM) ? 422 : r == -EBUSY ? 409 : 500;
        j = reload_result_to_json(&res);
        reload_result_done(&res);
        if (!j)
                return -ENOMEM;
        return api_reply_json(resp, status, j);
}

int manager_api_register(Manager *m, Api *api) {
        int r;

        r = api_add_route(api, "GET", "/", 0, h_root, m);
        if (r >= 0)
                r = api_add_route(api, "GET", "/metrics", 0, h_metrics, m);
        if (r >= 0)
                r = api_add_route(api, "GET", "/api/v1/status", 0, h_status, m);
        if (r >= 0)
                r = api_add_route(api, "GET", "/api/v1/verdicts", 0, h_verdicts, m);
        if (r >= 0)
                r = api_add_route(api, "POST", "/api/v1/reload", 0, h_reload, m);
        return r;
}
