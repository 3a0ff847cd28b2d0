/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rule language's model: what a validated configuration looks like to the rest of homeostat.
 *
 * rules/ turns YAML or JSON files (the main file plus rules.d/ drop-ins) into one Config. Nothing outside
 * rules/ ever sees raw YAML. A Config is immutable after config_load() returns it: the daemon swaps whole
 * Configs on reload, and the evaluator, remediations and notifiers only read it. Every field carries its
 * effective value: defaults are filled in by the loader (the published defaults in docs/rules.md), so
 * consumers never re-implement defaulting. Durations are usec_t; "unset" optional values are marked
 * explicitly (has_* flags or 0 where 0 cannot be a valid setting, as documented per field).
 *
 * Secrets: a notifier's URL is a secret. The model keeps only where it comes from (url / url_file /
 * url_credential); resolving it is the notifier's job and the value is never printed.
 */
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "time-util.h"

/* Where something was written: file name (owned by the Config's file list), 1-based line and column.
 * line == 0 means "the file as a whole". */
typedef struct Location {
        const char *file;
        unsigned line;
        unsigned column;
} Location;

/* ---- selectors (Prometheus syntax) ---- */

typedef enum MatchOp {
        MATCH_EQUAL,     /* =  */
        MATCH_NOT_EQUAL, /* != */
        MATCH_REGEX,     /* =~ fully anchored POSIX ERE */
        MATCH_NOT_REGEX, /* !~ */
        _MATCH_OP_MAX,
} MatchOp;

typedef struct LabelMatcher {
        char *name;
        MatchOp op;
        char *value;         /* the string or the regex source, escapes resolved */
        regex_t *regex;      /* compiled "^(value)$" for =~ and !~, NULL otherwise */
        size_t name_offset;  /* byte offset of the label name in Selector.text */
        size_t value_offset; /* byte offset of the value's opening quote in Selector.text */
} LabelMatcher;

typedef struct Selector {
        char *text; /* as written, for messages */
        char *metric; /* metric name, or NULL if the selector is only {…} (then a __name__ matcher applies) */
        LabelMatcher *matchers;
        size_t n_matchers;
} Selector;

/* A label of a series. Series label sets are sorted by name and never contain "__name__". */
typedef struct Label {
        const char *name;
        const char *value;
} Label;

/* Parse Prometheus selector syntax: name{label="v",l=~"re",x!="y",z!~"re"} or {__name__="x",...}. Regexes
 * are POSIX extended, fully anchored, compiled here; RE2/PCRE-only syntax is an error that names the POSIX
 * spelling. On a syntax error returns -EINVAL and, when the pointers are not NULL, a malloc'ed message in
 * *ret_error and the byte offset in text where the problem is in *ret_error_offset. */
int selector_parse(const char *text, Selector **ret, char **ret_error, size_t *ret_error_offset);
Selector *selector_free(Selector *s);
static inline void selector_freep(Selector **s) {
        if (*s)
                selector_free(*s);
}

/* Whether a series (metric name plus labels; a missing label counts as "") is selected. */
bool selector_matches(const Selector *s, const char *metric, const Label *labels, size_t n_labels);
/* The value a selector pins for a label (label="v"), or NULL. */
const char *selector_pinned_value(const Selector *s, const char *label);
/* Whether the selector constrains this label at all (=, =~, or pinned via metric name for __name__). */
bool selector_constrains(const Selector *s, const char *label);

/* ---- sources ---- */

typedef enum SourceKind {
        SOURCE_PROMETHEUS,
        SOURCE_SYSTEMD,
        SOURCE_HTTP_PROBE,
        SOURCE_LISTEN,
        _SOURCE_KIND_MAX,
} SourceKind;

typedef struct KeyValue {
        char *key;
        char *value;
} KeyValue;

typedef struct SourceConfig {
        char *name;
        Location loc;
        SourceKind kind;
        char *url;    /* prometheus, http_probe */
        char **units; /* systemd: unit names or globs */
        size_t n_units;
        char *listen_path;    /* listen: unix socket path */
        usec_t interval_usec; /* default 10s */
        usec_t timeout_usec;  /* default min(interval, 5s) */
        uint64_t max_series;  /* default 10000 */
        KeyValue *labels;     /* extra labels added to every series, sorted by key */
        size_t n_labels;
} SourceConfig;

/* ---- notifiers ---- */

typedef enum NotifierKind {
        NOTIFIER_SLACK,
        NOTIFIER_MATTERMOST,
        NOTIFIER_TEAMS,
        NOTIFIER_DISCORD,
        NOTIFIER_WEBHOOK,
        NOTIFIER_ALERTMANAGER,
        _NOTIFIER_KIND_MAX,
} NotifierKind;

typedef enum UrlFrom {
        URL_FROM_LITERAL,    /* url: (the secret is in the rule file) */
        URL_FROM_FILE,       /* url_file: path whose first line is the URL */
        URL_FROM_CREDENTIAL, /* url_credential: name under $CREDENTIALS_DIRECTORY */
        _URL_FROM_MAX,
} UrlFrom;

typedef struct NotifierConfig {
        char *name;
        Location loc;
        NotifierKind kind;
        UrlFrom url_from;
        char *url_ref; /* the URL itself (LITERAL: a secret, never log it), the file path, or credential name */
} NotifierConfig;

/* ---- detectors ---- */

typedef enum DetectorKind {
        DETECTOR_EWMA,
        DETECTOR_SEASONAL,
        DETECTOR_THRESHOLD,
        DETECTOR_CUSUM,
        DETECTOR_BURNRATE,
        DETECTOR_TREND,
        _DETECTOR_KIND_MAX,
} DetectorKind;

typedef enum Direction {
        DIRECTION_BOTH,
        DIRECTION_UP,
        DIRECTION_DOWN,
        _DIRECTION_MAX,
} Direction;

typedef struct BurnWindow {
        usec_t long_usec;
        usec_t short_usec;
        double factor;
} BurnWindow;

#define BURN_WINDOWS_MAX 8
#define SEASONAL_PERIODS_MAX 2

typedef struct DetectorSpec {
        DetectorKind kind;
        Location loc;
        double threshold;        /* robust sigmas; default 4 */
        Direction direction;     /* default both */
        usec_t warmup_usec;      /* warm-up as a duration (0 if given as a count or unset) */
        uint64_t warmup_samples; /* warm-up as a sample count (0 if given as a duration or unset) */
        bool has_warmup;         /* false: the detector kind's own default applies */

        usec_t halflife_usec; /* ewma; default 30m */

        usec_t periods_usec[SEASONAL_PERIODS_MAX]; /* seasonal; n_periods == 0: detect from the data */
        size_t n_periods;
        usec_t resolution_usec; /* seasonal phase bin width; 0: the detector's default */

        double drift; /* cusum, in sigmas; default 0.5 */

        double above, below; /* threshold */
        bool has_above, has_below;

        Selector *errors; /* burnrate */
        Selector *total;
        double objective; /* percent, e.g. 99.9 */
        BurnWindow windows[BURN_WINDOWS_MAX];
        size_t n_windows; /* default [[1h,5m,14.4],[6h,30m,6]] */
        char **on;        /* labels joining errors and total */
        size_t n_on;

        double limit; /* trend */
        bool has_limit;
        usec_t horizon_usec;
        usec_t window_usec;
} DetectorSpec;

/* ---- remediation steps ---- */

typedef enum ActionKind {
        ACTION_RESTART,
        ACTION_RELOAD,
        ACTION_TRY_RESTART,
        ACTION_STOP,
        ACTION_START,
        ACTION_KILL,
        ACTION_LIMIT,
        ACTION_EXEC,
        ACTION_HAPROXY,
        ACTION_REDIS,
        ACTION_MEMCACHED,
        ACTION_HTTP,
        _ACTION_KIND_MAX,
} ActionKind;

typedef enum HaproxyState {
        HAPROXY_STATE_NONE, /* weight is set instead */
        HAPROXY_STATE_DRAIN,
        HAPROXY_STATE_MAINT,
        HAPROXY_STATE_READY,
        _HAPROXY_STATE_MAX,
} HaproxyState;

/* A string that may contain ${labels.NAME}, ${rule}, ${series}, ${value}, ${expected}, ${incident}.
 * Parsed and checked at load time; expanded at run time by template_expand() (template.h). */
typedef struct Template {
        char *text;     /* as written */
        bool templated; /* contains at least one ${…} */
} Template;

typedef struct HttpHeader {
        Template name;
        Template value;
} HttpHeader;

typedef struct Step {
        Location loc;
        ActionKind action;
        usec_t verify_usec; /* default 5m */
        usec_t settle_usec; /* default 5s */

        Template unit; /* systemd actions and limit */
        int signal;    /* kill; default SIGTERM */

        /* limit: any of these, has_* says which were given */
        bool has_cpu_quota, has_memory_high, has_io_weight, has_tasks_max;
        uint64_t cpu_quota_per_sec_usec; /* CPUQuota=50% -> 500000 */
        uint64_t memory_high_bytes;
        uint64_t io_weight; /* 1..10000 */
        uint64_t tasks_max;
        usec_t max_hold_usec; /* limit, haproxy; default 1h */

        Template *argv; /* exec */
        size_t n_argv;
        usec_t timeout_usec; /* exec default 30s; http default 10s */

        char *socket;    /* haproxy, redis, memcached: unix socket path */
        char *address;   /* haproxy, redis, memcached: host:port */
        Template server; /* haproxy backend/server */
        HaproxyState haproxy_state;
        int weight; /* haproxy; -1 when state is used */

        unsigned db;   /* redis; default 0 */
        char *pattern; /* redis: delete keys matching (SCAN MATCH); NULL: FLUSHDB */

        Template url; /* http */
        char *method; /* default POST */
        HttpHeader *headers;
        size_t n_headers;
        Template body;    /* text NULL when absent */
        unsigned *expect; /* accepted statuses; n_expect == 0: any 2xx */
        size_t n_expect;

        char **targets; /* allow-list of globs for templated targets */
        size_t n_targets;
} Step;

/* ---- rules ---- */

typedef enum Transform {
        TRANSFORM_AUTO, /* counters become per-second rates */
        TRANSFORM_RATE,
        TRANSFORM_RAW,
        _TRANSFORM_MAX,
} Transform;

typedef enum RuleMode {
        RULE_MODE_REMEDIATE,
        RULE_MODE_OBSERVE,
        _RULE_MODE_MAX,
} RuleMode;

typedef struct Guard {
        usec_t cooldown_usec;       /* default 10m */
        unsigned max_actions;       /* default 3 ... */
        usec_t per_usec;            /* ... per 1h */
        unsigned breaker_after;     /* default 3 failed recoveries ... */
        usec_t breaker_window_usec; /* ... within 6h */
} Guard;

typedef struct Rule {
        char *name; /* [a-z0-9_.-]+, identity across reloads */
        Location loc;
        Selector *series; /* NULL only for burnrate */
        DetectorSpec detector;
        usec_t for_usec;           /* default 0 */
        usec_t recover_for_usec;   /* default 0 */
        usec_t reopen_within_usec; /* default 10m */
        usec_t absent_for_usec;    /* 0: not set */
        Transform transform;
        char *timezone; /* default "UTC" */
        Step *steps;
        size_t n_steps;
        Guard guard;
        usec_t grace_usec; /* default 2m */
        size_t *notify;    /* indices into Config.notifiers */
        size_t n_notify;
        RuleMode mode;
        /* Hash of everything that shapes detector state (series selector, transform, timezone, detector
         * kind and parameters). Equal fingerprints across a reload mean learned state carries over. */
        uint64_t fingerprint;
} Rule;

typedef struct Config {
        SourceConfig *sources;
        size_t n_sources;
        NotifierConfig *notifiers;
        size_t n_notifiers;
        Rule *rules;
        size_t n_rules;
        char **files; /* every file read, in order; Location.file points here */
        size_t n_files;
} Config;

/* ---- diagnostics ---- */

typedef enum Severity {
        SEVERITY_ERROR,
        SEVERITY_WARNING,
} Severity;

typedef struct Diagnostic {
        Location loc;
        Severity severity;
        char *message;
        char *file; /* owned copy of loc.file, so diagnostics outlive a failed Config */
} Diagnostic;

typedef struct Diagnostics {
        Diagnostic *items;
        size_t n_items;
        size_t n_errors;
        size_t n_warnings;
} Diagnostics;

void diagnostics_done(Diagnostics *d);
/* Print as "file:line:col: error: message" (or warning:), one per line, in order. */
void diagnostics_print(const Diagnostics *d, FILE *f);

typedef struct ConfigLoadOptions {
        size_t max_file_bytes; /* default 1 MiB */
        bool strict;           /* warnings count as errors */
} ConfigLoadOptions;

/* Load a configuration: PATH is a file (plus rules.d/ beside it, if present) or a directory (its
 * homeostat.yaml plus rules.d/ *.yaml|*.yml|*.json in lexical order). Every problem found goes into
 * diags. Returns 0 and a Config on success (warnings possible); -EINVAL when the configuration is invalid
 * (at least one error, or a warning under strict); another negative errno when a file could not be read
 * (a diagnostic says which). *ret is set only on success. Touches nothing on the host but reading files. */
int config_load(const char *path, const ConfigLoadOptions *opts, Config **ret, Diagnostics *diags);

/* Parse one file's contents as a complete configuration (no drop-ins): for tests and the fuzzer. */
int config_load_buffer(
        const char *filename,
        const char *data,
        size_t len,
        const ConfigLoadOptions *opts,
        Config **ret,
        Diagnostics *diags);

Config *config_free(Config *c);
static inline void config_freep(Config **c) {
        if (*c)
                config_free(*c);
}

/* Lookups. */
const Rule *config_find_rule(const Config *c, const char *name);
const SourceConfig *config_find_source(const Config *c, const char *name);

/* Names for enums, as written in rule files ("ewma", "try-restart", ...). */
const char *detector_kind_to_string(DetectorKind k);
const char *action_kind_to_string(ActionKind k);
const char *source_kind_to_string(SourceKind k);
const char *notifier_kind_to_string(NotifierKind k);
const char *direction_to_string(Direction d);
const char *haproxy_state_to_string(HaproxyState s);
const char *transform_to_string(Transform t);
const char *rule_mode_to_string(RuleMode m);

/* Whether an action undoes itself when the incident resolves (drain, limit). */
bool action_has_undo(const Step *s);
