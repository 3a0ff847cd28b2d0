/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Loading a configuration from disk: which files make it up (the main file and rules.d/ drop-ins in strcmp
 * order), reading each with a size cap, rejecting what is not text (NUL bytes, invalid UTF-8) before any
 * parser sees it, choosing the YAML or JSON loader by suffix, and handing the trees to the schema pass.
 * Also the Config's destructor and lookups.
 *
 * Exit-code semantics live in the return value: -EINVAL means "the configuration is invalid" (diagnosed),
 * any other negative errno means "a file could not be read" (diagnosed with the path).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diag.h"
#include "macro.h"
#include "node.h"
#include "schema.h"
#include "selector-internal.h"
#include "util.h"

#define DEFAULT_MAX_FILE_BYTES ((size_t) 1024 * 1024)

static void template_done(Template *t) {
        free(t->text);
        t->text = NULL;
}

static void step_done(Step *s) {
        template_done(&s->unit);
        for (size_t i = 0; i < s->n_argv; i++)
                template_done(&s->argv[i]);
        free(s->argv);
        free(s->socket);
        free(s->address);
        template_done(&s->server);
        free(s->pattern);
        template_done(&s->url);
        free(s->method);
        for (size_t i = 0; i < s->n_headers; i++) {
                template_done(&s->headers[i].name);
                template_done(&s->headers[i].value);
        }
        free(s->headers);
        template_done(&s->body);
        free(s->expect);
        strv_free_n(s->targets, s->n_targets);
}

static void rule_done(Rule *r) {
        free(r->name);
        selector_free(r->series);
        selector_free(r->detector.errors);
        selector_free(r->detector.total);
        strv_free_n(r->detector.on, r->detector.n_on);
        free(r->timezone);
        for (size_t i = 0; i < r->n_steps; i++)
                step_done(&r->steps[i]);
        free(r->steps);
        free(r->notify);
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_sources; i++) {
                SourceConfig *s = &c->sources[i];
                free(s->name);
                free(s->url);
                strv_free_n(s->units, s->n_units);
                free(s->listen_path);
                for (size_t j = 0; j < s->n_labels; j++) {
                        free(s->labels[j].key);
                        free(s->labels[j].value);
                }
                free(s->labels);
        }
        free(c->sources);
        for (size_t i = 0; i < c->n_notifiers; i++) {
                free(c->notifiers[i].name);
                free(c->notifiers[i].url_ref);
        }
        free(c->notifiers);
        for (size_t i = 0; i < c->n_rules; i++)
                rule_done(&c->rules[i]);
        free(c->rules);
        strv_free_n(c->files, c->n_files);
        free(c);
        return NULL;
}

const Rule *config_find_rule(const Config *c, const char *name) {
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_rules; i++)
                if (streq_ptr(c->rules[i].name, name))
                        return &c->rules[i];
        return NULL;
}

const SourceConfig *config_find_source(const Config *c, const char *name) {
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_sources; i++)
                if (streq_ptr(c->sources[i].name, name))
                        return &c->sources[i];
        return NULL;
}

bool action_has_undo(const Step *s) {
        if (!s)
                return false;
        if (s->action == ACTION_LIMIT)
                return true;
        if (s->action == ACTION_HAPROXY)
                return s->haproxy_state == HAPROXY_STATE_DRAIN || s->haproxy_state == HAPROXY_STATE_MAINT ||
                        (s->haproxy_state == HAPROXY_STATE_NONE && s->weight >= 0);
        return false;
}

static Location whole_file(const char *file) {
        return (Location){ .file = file };
}

/* Problems with a file's contents as a whole (too large) point at its first character, so that every
 * diagnostic about a file that was read has the file:line:col form editors jump to. */
static Location file_start(const char *file) {
        return (Location){ .file = file, .line = 1, .column = 1 };
}

/* Check that the bytes are text, then parse and validate them as one file of the configuration. */
static int add_buffer(
        ConfigBuilder *b, Diagnostics *diags, const char *file, const char *data, size_t len, bool is_main) {
        _cleanup_(node_freep) Node *root = NULL;
        LoadLimits limits = { .max_depth = LOAD_MAX_DEPTH, .max_alias_nodes = LOAD_MAX_ALIAS_NODES };
        SourceText src;
        const char *nul;
        size_t bad;
        int r;

        r = source_text_init(&src, file, data, len, !endswith(file, ".json"));
        if (r < 0)
                return r;
        nul = memchr(data, 0, len);
        if (nul) {
                diag_error(
                        diags,
                        source_text_location(&src, (size_t) (nul - data)),
                        "file contains a NUL byte: this is not a text file");
                config_builder_mark_incomplete(b);
                source_text_done(&src);
                return 0;
        }
        if (!utf8_is_valid(data, len, &bad)) {
                diag_error(
                        diags,
                        source_text_location(&src, bad),
                        "file is not valid UTF-8 (byte 0x%02x); save it as UTF-8",
                        (unsigned char) data[bad]);
                config_builder_mark_incomplete(b);
                source_text_done(&src);
                return 0;
        }
        if (endswith(file, ".json"))
                r = json_load_document(&src, &limits, diags, &root);
        else
                r = yaml_load_document(&src, &limits, diags, &root);
        if (r == -ENOMEM) {
                source_text_done(&src);
                return r;
        }
        if (r >= 0)
                r = config_builder_add_document(b, root, is_main);
        else {
                config_builder_mark_incomplete(b);
                r = 0; /* diagnosed */
        }
        source_text_done(&src);
        return r;
}

/* Read one file and add it. Returns 0 (possibly with errors diagnosed) or a negative errno if it could not
 * be read at all (diagnosed with its path). */
static int add_file(ConfigBuilder *b, Diagnostics *diags, const char *path, size_t max_bytes, bool is_main) {
        _cleanup_free_ char *data = NULL;
        const char *name;
        size_t size = 0;
        int r;

        struct stat st;

        r = config_builder_add_file_name(b, path, &name);
        if (r < 0)
                return r;
        /* Never block on a FIFO or read a device. */
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
                r = S_ISDIR(st.st_mode) ? -EISDIR : -EOPNOTSUPP;
                diag_error(
                        diags,
                        whole_file(name),
                        "cannot read: %s",
                        S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file");
                return r;
        }
        r = read_full_file(path, max_bytes, &data, &size);
        if (r == -EFBIG) {
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
                        diag_error(
                                diags,
                                file_start(name),
                                "file is too large: %llu bytes, the limit is %zu bytes",
                                (unsigned long long) st.st_size,
                                max_bytes);
                else
                        diag_error(
                                diags, file_start(name), "file is larger than the limit of %zu bytes", max_bytes);
                config_builder_mark_incomplete(b);
                return 0;
        }
        if (r < 0) {
                diag_error(diags, whole_file(name), "cannot read: %s", strerror(-r));
                return r;
        }
        return add_buffer(b, diags, name, data, size, is_main);
}

static int cmp_dirent(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_dropin(const struct dirent *d) {
        return d->d_name[0] != '.' &&
                (endswith(d->d_name, ".yaml") || endswith(d->d_name, ".yml") || endswith(d->d_name, ".json"));
}

static int join(const char *dir, const char *name, char **ret) {
        if (asprintf(ret, "%s%s%s", dir, (*dir && !endswith(dir, "/")) ? "/" : "", name) < 0)
                return -ENOMEM;
        return 0;
}

static int add_dropins(ConfigBuilder *b, Diagnostics *diags, const char *dir, size_t max_bytes) {
        struct dirent **list = NULL;
        struct stat st;
        int n, r = 0;

        if (stat(dir, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                r = -errno;
                diag_error(diags, whole_file(dir), "cannot read drop-in directory: %s", strerror(-r));
                return r;
        }
        if (!S_ISDIR(st.st_mode)) {
                diag_error(diags, whole_file(dir), "cannot read drop-in directory: %s", strerror(ENOTDIR));
                return -ENOTDIR;
        }
        n = scandir(dir, &list, is_dropin, cmp_dirent);
        if (n < 0) {
                r = -errno;
                diag_error(diags, whole_file(dir), "cannot read drop-in directory: %s", strerror(-r));
                return r;
        }
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                int k = join(dir, list[i]->d_name, &path);
                if (k == 0)
                        k = add_file(b, diags, path, max_bytes, false);
                if (k == -ENOMEM || (k < 0 && r == 0))
                        r = k;
                free(list[i]);
                if (r == -ENOMEM) {
                        for (int j = i + 1; j < n; j++)
                                free(list[j]);
                        break;
                }
        }
        free(list);
        return r;
}

/* Common ending: cross-file checks, sorted diagnostics, the verdict. */
static int
        finish(ConfigBuilder *b,
               Diagnostics *diags,
               const ConfigLoadOptions *opts,
               size_t errors_before,
               size_t warnings_before,
               int read_error,
               Config **ret) {
        _cleanup_(config_freep) Config *c = NULL;
        int r;

        r = config_builder_finish(b, &c);
        if (r < 0)
                return r;
        diagnostics_sort(diags, c->files, c->n_files);
        if (read_error < 0)
                return read_error;
        if (diags->n_errors > errors_before || (opts && opts->strict && diags->n_warnings > warnings_before))
                return -EINVAL;
        *ret = TAKE_PTR(c);
        return 0;
}

int config_load(const char *path, const ConfigLoadOptions *opts, Config **ret, Diagnostics *diags) {
        _cleanup_(config_builder_freep) ConfigBuilder *b = NULL;
        _cleanup_free_ char *base = NULL, *main_file = NULL, *dropins = NULL;
        size_t max_bytes = opts && opts->max_file_bytes > 0 ? opts->max_file_bytes : DEFAULT_MAX_FILE_BYTES;
        size_t errors_before = diags->n_errors, warnings_before = diags->n_warnings;
        struct stat st;
        int r, read_error = 0;

        if (!path || !*path || !ret)
                return -EINVAL;
        if (stat(path, &st) < 0) {
                r = -errno;
                diag_error(diags, whole_file(path), "cannot read: %s", strerror(-r));
                return r == -EINVAL ? -EIO : r;
        }
        r = config_builder_new(diags, &b);
        if (r < 0)
                return r;

        /* Keep the path as the user wrote it (diagnostics are relative when the argument was), minus
         * trailing slashes. */
        base = strdup(path);
        if (!base)
                return -ENOMEM;
        for (size_t l = strlen(base); l > 1 && base[l - 1] == '/'; l--)
                base[l - 1] = 0;
        if (S_ISDIR(st.st_mode)) {
                if (join(base, "homeostat.yaml", &main_file) < 0 || join(base, "rules.d", &dropins) < 0)
                        return -ENOMEM;
        } else {
                const char *slash = strrchr(base, '/');
                main_file = strdup(base);
                if (!main_file)
                        return -ENOMEM;
                if (slash) {
                        _cleanup_free_ char *dir = strndup(base, (size_t) (slash - base) + 1);
                        if (!dir || join(dir, "rules.d", &dropins) < 0)
                                return -ENOMEM;
                } else if (!(dropins = strdup("rules.d")))
                        return -ENOMEM;
        }

        r = add_file(b, diags, main_file, max_bytes, true);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* Without the main file there is nothing to check; report just that. */
                Config *unused = NULL;
                r = finish(b, diags, opts, errors_before, warnings_before, r == -EINVAL ? -EIO : r, &unused);
                config_free(unused);
                return r;
        }
        r = add_dropins(b, diags, dropins, max_bytes);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                read_error = r == -EINVAL ? -EIO : r;
        return finish(b, diags, opts, errors_before, warnings_before, read_error, ret);
}

int config_load_buffer(
        const char *filename,
        const char *data,
        size_t len,
        const ConfigLoadOptions *opts,
        Config **ret,
        Diagnostics *diags) {
        _cleanup_(config_builder_freep) ConfigBuilder *b = NULL;
        size_t max_bytes = opts && opts->max_file_bytes > 0 ? opts->max_file_bytes : DEFAULT_MAX_FILE_BYTES;
        size_t errors_before = diags->n_errors, warnings_before = diags->n_warnings;
        const char *name;
        int r;

        if (!filename || (!data && len > 0) || !ret)
                return -EINVAL;
        r = config_builder_new(diags, &b);
        if (r < 0)
                return r;
        r = config_builder_add_file_name(b, filename, &name);
        if (r < 0)
                return r;
        if (len > max_bytes)
                diag_error(
                        diags,
                        file_start(name),
                        "file is too large: %zu bytes, the limit is %zu bytes",
                        len,
                        max_bytes);
        else {
                r = add_buffer(b, diags, name, data ?: "", len, true);
                if (r < 0)
                        return r;
        }
        return finish(b, diags, opts, errors_before, warnings_before, 0, ret);
}
