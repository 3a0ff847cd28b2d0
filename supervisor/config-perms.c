/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * StrictModes for configuration files; see config-perms.h.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config-perms.h"
#include "strbuf.h"

typedef struct PathList {
        char **items;
        size_t n, alloc;
} PathList;

static void path_list_done(PathList *l) {
        strv_free_n(l->items, l->n);
        *l = (PathList){};
}

static bool path_list_contains(const PathList *l, const char *p) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i], p))
                        return true;
        return false;
}

/* Append a copy (no duplicates), keeping the list NULL-terminated. */
static int path_list_add(PathList *l, const char *p) {
        if (path_list_contains(l, p))
                return 0;
        if (GREEDY_REALLOC(l->items, l->alloc, l->n + 2) < 0)
                return -ENOMEM;
        l->items[l->n] = strdup(p);
        if (!l->items[l->n])
                return -ENOMEM;
        l->n++;
        l->items[l->n] = NULL;
        return 1;
}

static int add_problem(PathList *problems, const char *fmt, ...) _printf_(2, 3);
static int add_problem(PathList *problems, const char *fmt, ...) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        va_list ap;

        va_start(ap, fmt);
        (void) strbuf_vprintf(&b, fmt, ap);
        va_end(ap);
        if (strbuf_failed(&b))
                return -ENOMEM;
        return path_list_add(problems, strbuf_str(&b));
}

/* Make p absolute (lexically, relative to the working directory); no normalization beyond that. */
static char *make_absolute(const char *p) {
        char cwd[PATH_MAX];
        StrBuf b = STRBUF_INIT;

        if (p[0] == '/')
                return strdup(p);
        if (!getcwd(cwd, sizeof(cwd)))
                return NULL;
        (void) strbuf_printf(&b, "%s/%s", streq(cwd, "/") ? "" : cwd, p);
        if (strbuf_failed(&b)) {
                strbuf_done(&b);
                return NULL;
        }
        return strbuf_steal(&b);
}

/* Examine one path. strict: the path itself must not be group/other-writable at all; otherwise (an
 * ancestor) a root-owned sticky directory is accepted. */
static int check_one(const char *path, bool strict, uid_t owner, PathList *problems) {
        struct stat st;
        mode_t w;

        if (stat(path, &st) < 0) {
                int r = -errno;
                if (add_problem(problems, "%s: cannot examine: %s", path, strerror(-r)) < 0)
                        return -ENOMEM;
                return r;
        }
        if (st.st_uid != 0 && st.st_uid != owner) {
                if (add_problem(
                            problems,
                            "%s is owned by uid %u, not root, and homeostatd runs as root (anyone who can "
                            "change it can make homeostatd act as root); fix: chown root %s",
                            path,
                            (unsigned) st.st_uid,
                            path) < 0)
                        return -ENOMEM;
        }
        w = st.st_mode & (S_IWGRP | S_IWOTH);
        if (w != 0) {
                if (!strict && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) && st.st_uid == 0)
                        return 0;
                if (add_problem(
                            problems,
                            "%s is writable by %s (mode %04o), and homeostatd runs as root (anyone who can "
                            "change it can make homeostatd act as root); fix: chmod go-w %s",
                            path,
                            w == (S_IWGRP | S_IWOTH) ? "group and others"
                                    : w == S_IWGRP   ? "its group"
                                                     : "others",
                            (unsigned) (st.st_mode & 07777),
                            path) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* Collect every proper ancestor directory of an absolute path into l. */
static int add_ancestors(PathList *l, const char *abs) {
        _cleanup_free_ char *p = strdup(abs);
        char *slash;
        int r;

        if (!p)
                return -ENOMEM;
        /* strip trailing slashes */
        for (size_t n = strlen(p); n > 1 && p[n - 1] == '/'; n--)
                p[n - 1] = 0;
        while ((slash = strrchr(p, '/'))) {
                if (slash == p) {
                        r = path_list_add(l, "/");
                        return r < 0 ? r : 0;
                }
                *slash = 0;
                r = path_list_add(l, p);
                if (r < 0)
                        return r;
        }
        return 0;
}

int config_permissions_check(const char *const *paths, size_t n_paths, uid_t owner, char ***ret_problems) {
        PathList strict = {}, ancestors = {}, problems = {};
        int r = 0, failure = 0;

        for (size_t i = 0; i < n_paths; i++) {
                _cleanup_free_ char *abs = make_absolute(paths[i]);
                char resolved[PATH_MAX];

                if (!abs) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = path_list_add(&strict, abs);
                if (r < 0)
                        goto finish;
                r = add_ancestors(&ancestors, abs);
                if (r < 0)
                        goto finish;
                if (realpath(abs, resolved)) {
                        r = path_list_add(&strict, resolved);
                        if (r >= 0)
                                r = add_ancestors(&ancestors, resolved);
                        if (r < 0)
                                goto finish;
                }
        }

        for (size_t i = 0; i < strict.n; i++) {
                r = check_one(strict.items[i], true, owner, &problems);
                if (r == -ENOMEM)
                        goto finish;
                if (r < 0 && failure == 0)
                        failure = r;
        }
        for (size_t i = 0; i < ancestors.n; i++) {
                if (path_list_contains(&strict, ancestors.items[i]))
                        continue;
                r = check_one(ancestors.items[i], false, owner, &problems);
                if (r == -ENOMEM)
                        goto finish;
                if (r < 0 && failure == 0)
                        failure = r;
        }
        r = failure < 0 ? failure : problems.n > 0 ? -EPERM : 0;

finish:
        if (r == -ENOMEM)
                path_list_done(&problems);
        if (ret_problems) {
                *ret_problems = problems.items;
                problems = (PathList){};
        }
        path_list_done(&problems);
        path_list_done(&strict);
        path_list_done(&ancestors);
        return r;
}

int config_permission_paths(const char *config_path, const Config *c, char ***ret) {
        PathList l = {};
        struct stat st;
        int r;

        r = path_list_add(&l, config_path);
        if (r < 0)
                goto fail;

        /* rules.d belongs to a directory argument, or sits beside a file argument. */
        if (stat(config_path, &st) >= 0) {
                _cleanup_strbuf_ StrBuf b = STRBUF_INIT;

                if (S_ISDIR(st.st_mode))
                        (void) strbuf_printf(&b, "%s/rules.d", config_path);
                else {
                        const char *slash = strrchr(config_path, '/');
                        if (slash)
                                (void) strbuf_printf(
                                        &b, "%.*s/rules.d", (int) (slash - config_path), config_path);
                        else
                                (void) strbuf_puts(&b, "rules.d");
                }
                if (strbuf_failed(&b)) {
                        r = -ENOMEM;
                        goto fail;
                }
                if (stat(strbuf_str(&b), &st) >= 0 && S_ISDIR(st.st_mode)) {
                        r = path_list_add(&l, strbuf_str(&b));
                        if (r < 0)
                                goto fail;
                }
        }
        for (size_t i = 0; c && i < c->n_files; i++) {
                r = path_list_add(&l, c->files[i]);
                if (r < 0)
                        goto fail;
        }
        if (!l.items) {
                r = -ENOMEM;
                goto fail;
        }
        *ret = l.items;
        return 0;
fail:
        path_list_done(&l);
        return r;
}
