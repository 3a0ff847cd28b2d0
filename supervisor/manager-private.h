/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Manager's insides, shared by manager.c (lifecycle, sources, evaluation, reload, persistence) and
 * manager-api.c (status JSON, /metrics, the status page, the API routes). Nothing outside those two files
 * includes this; everyone else goes through manager.h.
 */
#pragma once

#include "loop-lag.h"
#include "manager.h"
#include "source.h"
#include "state-file.h"

/* A running source. Sources keep their own copy of their SourceConfig, so one that is unchanged by a reload
 * simply moves into the new set; m->sources[i] always belongs to m->config->sources[i]. */
typedef struct ManagedSource {
        Manager *manager;
        Source *source;     /* NULL only transiently during a reload */
        bool started;       /* source_start() was called */
        bool reported_down; /* "source is down" was logged; "up again" is due when it recovers */
} ManagedSource;

/* The last verdicts, for GET /api/v1/verdicts (operators asking "what did this rule say just now", and the
 * restart test comparing verdicts across a restart). Fixed-size copies: recording costs two memcpy and no
 * allocation per row. */
#define MANAGER_RECENT_ROWS 512
typedef struct RecentRow {
        char rule[64];
        char series[256]; /* truncated beyond 255 bytes */
        double t, value, x;
        Verdict verdict;
        bool firing;
        bool from_tick;
        EvalTransition transition;
} RecentRow;

typedef struct ManagerExtensionSlot {
        ManagerExtension ext;
        void *userdata;
} ManagerExtensionSlot;

struct Manager {
        /* options (owned copies) */
        char *config_path;
        char *state_dir;
        char *api_socket;
        char *metrics_listen;
        bool user;
        bool dry_run;
        bool strict_modes;

        sd_event *event;
        sd_bus *bus;
        CurlGlue *curl;
        Api *api;

        Config *config; /* the configuration in force */
        Evaluator *evaluator;
        ManagedSource **sources;
        size_t n_sources;
        RuleCounts *rule_counts; /* one per rule of the current config */

        sd_event_source *sig_term, *sig_int, *sig_hup;
        sd_event_source *lag_timer, *tick_timer, *save_timer, *status_timer;
        LoopLag lag;

        int state_dir_fd;
        StateSaver *saver;
        char *restore_message; /* how start-up went with the state file, for status */

        usec_t start_realtime;
        usec_t start_monotonic;

        /* ingestion, carried across evaluator swaps so the counters never go backwards */
        uint64_t samples_received;
        uint64_t push_errors;
        EvaluatorStats carried;

        /* reloads */
        bool reloading;
        bool last_reload_ok;
        bool reloaded_once;
        usec_t last_reload_realtime;
        usec_t last_reload_success_realtime;
        char *last_reload_message;
        size_t last_reload_errors;
        uint64_t reloads_ok, reloads_failed;

        ManagerEvalHook eval_hook;
        void *eval_hook_userdata;
        ManagerExtensionSlot extensions[MANAGER_EXTENSIONS_MAX];
        size_t n_extensions;

        RecentRow *recent; /* ring of MANAGER_RECENT_ROWS */
        size_t recent_next;
        uint64_t recent_total;

        char *last_status;
        bool ready;
};
