/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for notifiers/notifier-url.c: the three URL sources (literal, url_file, systemd credential), URL
 * checks, redaction and the Alertmanager endpoint — and that no error message ever contains the URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "notifier-url.h"
#include "util.h"

#define SECRET "T00000000/B00000000/XXXXsecretXXXX"
#define SLACK_URL "https://hooks.slack.com/services/" SECRET

static char tmpdir[] = "/tmp/test-notifier-url-XXXXXX";

static int setup(void **state) {
        assert_non_null(mkdtemp(tmpdir));
        return 0;
}

static int teardown(void **state) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static void write_file(const char *name, const char *content) {
        char path[512];
        FILE *f;
        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static char *path_of(const char *name) {
        char *p;
        assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
        return p;
}

static void assert_no_secret(const char *s) {
        if (s && (strstr(s, "secret") || strstr(s, "T00000000") || strstr(s, "/services/")))
                fail_msg("message leaks the URL: %s", s);
}

static int resolve(UrlFrom from, const char *ref, const char *creds, char **url, char **err) {
        NotifierConfig c = {
                .name = (char *) "ops", .kind = NOTIFIER_SLACK, .url_from = from, .url_ref = (char *) ref
        };
        *url = NULL;
        *err = NULL;
        int r = notifier_url_resolve(&c, creds, url, err);
        if (r < 0) {
                assert_null(*url);
                assert_non_null(*err);
                assert_no_secret(*err);
        } else
                assert_null(*err);
        return r;
}

static void test_literal(void **state) {
        char *url, *err;

        assert_int_equal(resolve(URL_FROM_LITERAL, SLACK_URL, NULL, &url, &err), 0);
        assert_string_equal(url, SLACK_URL);
        free(url);

        assert_int_equal(resolve(URL_FROM_LITERAL, "ftp://x/" SECRET, NULL, &url, &err), -EINVAL);
        assert_string_equal(err, "url: the URL's scheme must be http or https");
        free(err);
        assert_int_equal(resolve(URL_FROM_LITERAL, "hooks.slack.com/" SECRET, NULL, &url, &err), -EINVAL);
        free(err);
        assert_int_equal(
                resolve(URL_FROM_LITERAL, "https://hooks.slack.com/" SECRET " x", NULL, &url, &err), -EINVAL);
        assert_string_equal(err, "url: the URL contains whitespace or control characters");
        free(err);
        assert_int_equal(resolve(URL_FROM_LITERAL, "", NULL, &url, &err), -EINVAL);
        free(err);
        assert_int_equal(resolve(URL_FROM_LITERAL, "http://:80/" SECRET, NULL, &url, &err), -EINVAL);
        free(err);
}

static void test_url_file(void **state) {
        char *url, *err, *p;

        write_file("plain", SLACK_URL "\n");
        p = path_of("plain");
        assert_int_equal(resolve(URL_FROM_FILE, p, NULL, &url, &err), 0);
        assert_string_equal(url, SLACK_URL);
        free(url);

        /* CRLF, blanks around it, later lines ignored. */
        write_file("plain", "  " SLACK_URL " \r\n# rotated 2026-11-01\nhttps://old.example/\n");
        assert_int_equal(resolve(URL_FROM_FILE, p, NULL, &url, &err), 0);
        assert_string_equal(url, SLACK_URL);
        free(url);

        /* Re-read every time: a rotated secret is picked up. */
        write_file("plain", "http://127.0.0.1:9/new");
        assert_int_equal(resolve(URL_FROM_FILE, p, NULL, &url, &err), 0);
        assert_string_equal(url, "http://127.0.0.1:9/new");
        free(url);

        write_file("plain", "\n" SLACK_URL "\n");
        assert_int_equal(resolve(URL_FROM_FILE, p, NULL, &url, &err), -EINVAL);
        assert_true(strstr(err, "first line is empty") != NULL);
        assert_true(strstr(err, p) != NULL); /* the path is named */
        free(err);

        write_file("plain", "gopher://h/" SECRET "\n");
        assert_int_equal(resolve(URL_FROM_FILE, p, NULL, &url, &err), -EINVAL);
        assert_true(strstr(err, "scheme must be http or https") != NULL);
        free(err);
        free(p);

        p = path_of("missing");
        assert_int_equal(resolve(URL_FROM_FILE, p, NULL, &url, &err), -ENOENT);
        assert_true(strstr(err, "No such file") != NULL);
        free(err);
        free(p);

        /* A huge file (a wrong path, e.g. a log) is refused. */
        {
                char *big = malloc(100 * 1024 + 1);
                memset(big, 'a', 100 * 1024);
                big[100 * 1024] = 0;
                write_file("big", big);
                free(big);
        }
        p = path_of("big");
        assert_int_equal(resolve(URL_FROM_FILE, p, NULL, &url, &err), -EFBIG);
        free(err);
        free(p);

        p = path_of("");
        assert_int_equal(resolve(URL_FROM_FILE, p, NULL, &url, &err), -EISDIR);
        free(err);
        free(p);
}

static void test_credential(void **state) {
        char *url, *err;

        write_file("ops-webhook", SLACK_URL);
        assert_int_equal(resolve(URL_FROM_CREDENTIAL, "ops-webhook", tmpdir, &url, &err), 0);
        assert_string_equal(url, SLACK_URL);
        free(url);

        /* Missing credential: the error names the credential, and how to provide it. */
        assert_int_equal(resolve(URL_FROM_CREDENTIAL, "chat-hook", tmpdir, &url, &err), -ENOENT);
        assert_true(strstr(err, "credential \"chat-hook\" not found") != NULL);
        assert_true(strstr(err, "LoadCredential=chat-hook") != NULL);
        free(err);

        /* No $CREDENTIALS_DIRECTORY at all. */
        unsetenv("CREDENTIALS_DIRECTORY");
        assert_int_equal(resolve(URL_FROM_CREDENTIAL, "ops-webhook", NULL, &url, &err), -ENXIO);
        assert_true(strstr(err, "$CREDENTIALS_DIRECTORY is not set") != NULL);
        free(err);

        /* ... and from the environment. */
        setenv("CREDENTIALS_DIRECTORY", tmpdir, 1);
        assert_int_equal(resolve(URL_FROM_CREDENTIAL, "ops-webhook", NULL, &url, &err), 0);
        free(url);
        unsetenv("CREDENTIALS_DIRECTORY");

        /* Names that would escape the directory. */
        assert_int_equal(resolve(URL_FROM_CREDENTIAL, "../ops-webhook", tmpdir, &url, &err), -EINVAL);
        free(err);
        assert_int_equal(resolve(URL_FROM_CREDENTIAL, "..", tmpdir, &url, &err), -EINVAL);
        free(err);
        assert_int_equal(resolve(URL_FROM_CREDENTIAL, "", tmpdir, &url, &err), -EINVAL);
        free(err);
        assert_true(notifier_credential_name_is_valid("ops.webhook-1"));
        assert_false(notifier_credential_name_is_valid("a/b"));

        /* A credential holding garbage. */
        write_file("bad", "not a url at all\n");
        assert_int_equal(resolve(URL_FROM_CREDENTIAL, "bad", tmpdir, &url, &err), -EINVAL);
        assert_true(strstr(err, "credential \"bad\"") != NULL);
        free(err);

        /* Unknown source. */
        assert_int_equal(resolve((UrlFrom) 42, "x", tmpdir, &url, &err), -EINVAL);
        free(err);
}

static void assert_redacted(const char *url, const char *expected) {
        char *r = NULL;
        assert_int_equal(notifier_url_redact(url, &r), 0);
        assert_string_equal(r, expected);
        assert_no_secret(r);
        free(r);
}

static void test_redact(void **state) {
        assert_redacted(SLACK_URL, "https://hooks.slack.com/…");
        assert_redacted("https://discord.com/api/webhooks/123/" SECRET, "https://discord.com/…");
        assert_redacted(
                "https://user:secretpw@chat.example.com:8443/hooks/x", "https://chat.example.com:8443/…");
        assert_redacted(
                "https://prod-1.westeurope.logic.azure.com:443/workflows/x?sig=secret",
                "https://prod-1.westeurope.logic.azure.com:443/…");
        assert_redacted("http://127.0.0.1:9093", "http://127.0.0.1:9093");
        assert_redacted("http://127.0.0.1:9093/", "http://127.0.0.1:9093");
        assert_redacted("http://[::1]:8080/" SECRET, "http://[::1]:8080/…");
        assert_redacted("http://h/?token=secret", "http://h/…");
        assert_redacted("http://h/#secret", "http://h/…");
        assert_redacted("not a url " SECRET, "(invalid URL)");
        assert_redacted(NULL, "(invalid URL)");
}

static void assert_endpoint(NotifierKind k, const char *url, const char *expected) {
        char *e = NULL;
        assert_int_equal(notifier_url_endpoint(k, url, &e), 0);
        assert_string_equal(e, expected);
        free(e);
}

static void test_endpoint(void **state) {
        assert_endpoint(NOTIFIER_ALERTMANAGER, "http://127.0.0.1:9093", "http://127.0.0.1:9093/api/v2/alerts");
        assert_endpoint(NOTIFIER_ALERTMANAGER, "http://127.0.0.1:9093/", "http://127.0.0.1:9093/api/v2/alerts");
        assert_endpoint(NOTIFIER_ALERTMANAGER, "http://h/alertmanager/", "http://h/alertmanager/api/v2/alerts");
        assert_endpoint(NOTIFIER_ALERTMANAGER, "http://h/api/v2/alerts", "http://h/api/v2/alerts");
        assert_endpoint(NOTIFIER_SLACK, SLACK_URL, SLACK_URL);
        assert_endpoint(NOTIFIER_WEBHOOK, "http://h/x/", "http://h/x/");
}

static void test_check(void **state) {
        const char *reason = NULL;
        char *long_url;

        assert_int_equal(notifier_url_check("http://h", &reason), 0);
        assert_null(reason);
        assert_int_equal(notifier_url_check("HTTPS://H/x", NULL), 0);
        assert_int_equal(notifier_url_check("file:///etc/passwd", &reason), -EINVAL);
        assert_string_equal(reason, "the URL's scheme must be http or https");
        assert_int_equal(notifier_url_check("http://h/\xff", &reason), -EINVAL);
        assert_int_equal(notifier_url_check(NULL, &reason), -EINVAL);

        long_url = malloc(NOTIFIER_URL_MAX + 32);
        snprintf(long_url, NOTIFIER_URL_MAX + 32, "http://h/");
        memset(long_url + 9, 'a', NOTIFIER_URL_MAX);
        long_url[NOTIFIER_URL_MAX + 9] = 0;
        assert_int_equal(notifier_url_check(long_url, &reason), -EINVAL);
        assert_string_equal(reason, "the URL is too long");
        free(long_url);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_literal),    cmocka_unit_test(test_url_file),
                cmocka_unit_test(test_credential), cmocka_unit_test(test_redact),
                cmocka_unit_test(test_endpoint),   cmocka_unit_test(test_check),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
