/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * homeostatd: the per-host supervisor. main() parses the command line and the configuration first
 * (`--check` stops there, exactly like `homeostatctl check`), then blocks the signals it handles before any
 * thread exists (curl's resolver), builds the Manager (manager.h), brings up the API and the sources,
 * tells systemd READY=1, runs the loop, and on SIGTERM says STOPPING=1 and saves its state.
 *
 * Exit codes: 0 clean stop, 1 invalid configuration or command line (RestartPreventExitStatus=1 keeps
 * systemd from restarting into the same error), 2 system failure (cannot read, cannot bind, ...).
 */
#include <getopt.h>
#include <gsl/gsl_errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "config-check.h"
#include "journal-log.h"
#include "log.h"
#include "manager.h"

enum {
        EXIT_OK = 0,
        EXIT_INVALID = 1,
        EXIT_SYSTEM = 2,
};

static const char *arg_config = NULL;
static const char *arg_state_dir = NULL;
static const char *arg_api = NULL;
static const char *arg_metrics_listen = NULL;
static bool arg_user = false;
static bool arg_dry_run = false;
static bool arg_check = false;
static bool arg_strict = false;

static void help(FILE *f) {
        fprintf(f,
                "Usage: homeostatd --config PATH [OPTIONS]\n"
                "       homeostatd --check [--strict] PATH...\n"
                "\n"
                "Per-host anomaly detection and self-healing supervisor.\n"
                "\n"
                "  --config PATH            homeostat.yaml (plus rules.d/ beside it) or a directory holding both\n"
                "  --state-dir DIR          where learned state is kept (created if missing; default: none,\n"
                "                           nothing is persisted)\n"
                "  --api unix:PATH          serve the HTTP API on this unix socket (default: no API; the\n"
                "                           packaged unit uses unix:%s)\n"
                "  --metrics-listen H:P     also serve the read-only API and /metrics over TCP\n"
                "  --user                   talk to the calling user's service manager, not the system's\n"
                "  --dry-run                detect and record, but never act\n"
                "  --check PATH...          validate configurations and exit (same as homeostatctl check)\n"
                "  --strict                 with --check: warnings count as errors\n"
                "  -h --help                show this help\n"
                "  --version                show the version\n"
                "\n"
                "Exit status: 0 ok, 1 invalid configuration, 2 system failure.\n",
                API_DEFAULT_SOCKET);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CONFIG,
                ARG_STATE_DIR,
                ARG_API,
                ARG_METRICS_LISTEN,
                ARG_USER,
                ARG_DRY_RUN,
                ARG_CHECK,
                ARG_STRICT,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "api", required_argument, NULL, ARG_API },
                { "metrics-listen", required_argument, NULL, ARG_METRICS_LISTEN },
                { "user", no_argument, NULL, ARG_USER },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "check", no_argument, NULL, ARG_CHECK },
                { "strict", no_argument, NULL, ARG_STRICT },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(stdout);
                        return 0;
                case ARG_VERSION:
                        printf("homeostatd %s\n", PROJECT_VERSION);
                        return 0;
                case ARG_CONFIG:
                        arg_config = optarg;
                        break;
                case ARG_STATE_DIR:
                        arg_state_dir = optarg;
                        break;
                case ARG_API:
                        arg_api = startswith(optarg, "unix:");
                        if (!arg_api || arg_api[0] != '/') {
                                log_error("--api takes unix:/ABSOLUTE/PATH, not '%s'.", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_METRICS_LISTEN:
                        if (!strchr(optarg, ':')) {
                                log_error(
                                        "--metrics-listen takes HOST:PORT (e.g. 127.0.0.1:9464), not '%s'.",
                                        optarg);
                                return -EINVAL;
                        }
                        arg_metrics_listen = optarg;
                        break;
                case ARG_USER:
                        arg_user = true;
                        break;
                case ARG_DRY_RUN:
                        arg_dry_run = true;
                        break;
                case ARG_CHECK:
                        arg_check = true;
                        break;
                case ARG_STRICT:
                        arg_strict = true;
                        break;
                default:
                        return -EINVAL;
                }

        if (arg_check) {
                if (optind >= argc && !arg_config) {
                        log_error("--check needs at least one PATH.");
                        return -EINVAL;
                }
                return 1;
        }
        if (optind < argc) {
                log_error("Unexpected argument '%s' (did you mean --check?).", argv[optind]);
                return -EINVAL;
        }
        if (!arg_config) {
                log_error("--config PATH is required (see --help).");
                return -EINVAL;
        }
        return 1;
}

/* Block what the loop handles (as signalfd sources) and SIGCHLD (for the state writer child) before any
 * thread starts, so every thread inherits the mask; ignore SIGPIPE (a client that goes away mid-answer). */
static int setup_signals(void) {
        sigset_t ss;

        if (sigemptyset(&ss) < 0 || sigaddset(&ss, SIGTERM) < 0 || sigaddset(&ss, SIGINT) < 0 ||
            sigaddset(&ss, SIGHUP) < 0 || sigaddset(&ss, SIGCHLD) < 0)
                return -errno;
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return -errno;
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
                return -errno;
        return 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        Config *config = NULL;
        ReloadResult res = {};
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_INVALID : EXIT_OK;

        if (arg_check) {
                char **paths = argv + optind;
                size_t n = (size_t) (argc - optind);
                char *one[1];

                if (n == 0) {
                        /* homeostatd --check --config PATH */
                        one[0] = (char *) arg_config;
                        paths = one;
                        n = 1;
                }
                return config_check_main(paths, n, arg_strict);
        }

        r = setup_signals();
        if (r < 0) {
                log_error_errno(r, "Failed to set up signal handling: %m");
                return EXIT_SYSTEM;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                log_error("Failed to initialize libcurl.");
                return EXIT_SYSTEM;
        }

        /* Running as root, configuration that others can write is refused (StrictModes). */
        r = manager_load_config(arg_config, geteuid() == 0, &config, &res);
        manager_log_diagnostics(&res, arg_config);
        if (r < 0) {
                log_error("%s", res.message ?: "invalid configuration");
                (void) sd_notifyf(
                        false,
                        "STATUS=Invalid configuration: %zu error%s (see journal)",
                        res.n_errors,
                        res.n_errors == 1 ? "" : "s");
                reload_result_done(&res);
                return r == -EINVAL || r == -EPERM ? EXIT_INVALID : EXIT_SYSTEM;
        }
        log_info("Loaded %s", res.message);
        reload_result_done(&res);

        r = manager_new(
                &(ManagerOptions){
                        .config_path = arg_config,
                        .state_dir = arg_state_dir,
                        .api_socket = arg_api,
                        .metrics_listen = arg_metrics_listen,
                        .user = arg_user,
                        .dry_run = arg_dry_run,
                        .strict_modes = geteuid() == 0,
                },
                config,
                &m);
        if (r < 0)
                return EXIT_SYSTEM; /* logged */
        r = manager_start(m);
        if (r < 0) {
                (void) sd_notifyf(false, "STATUS=Failed to start: %s", strerror(-r));
                return EXIT_SYSTEM; /* logged */
        }

        r = manager_run(m);
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");
        if (manager_stop(m) < 0 && r >= 0)
                r = -EIO;
        log_info("Stopped.");
        return r < 0 ? EXIT_SYSTEM : EXIT_OK;
}

int main(int argc, char *argv[]) {
        int r;

        gsl_set_error_handler_off();
        (void) journal_log_setup("homeostatd", false);
        r = run(argc, argv);
        curl_global_cleanup();
        return r;
}
