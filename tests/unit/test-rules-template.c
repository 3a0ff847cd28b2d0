/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for rules/template.c: template syntax, expansion per target, unit-name grammar, allow-lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "template.h"

static const Label labels[] = {
        { "instance", "web1" },      { "path", "/a b&c" }, { "semi", "web1;shutdown" },
        { "unit", "api-1.service" }, { "nl", "a\r\nb" },
};

static const TemplateVars vars = {
        .rule = "api-latency",
        .series = "http_requests_total{code=\"500\"}",
        .incident = "0123456789abcdef0123456789abcdef",
        .value = 0.52,
        .expected = 0.15,
        .labels = labels,
        .n_labels = ELEMENTSOF(labels),
};

static char *expand(const char *text, TemplateTarget where, int want) {
        Template t = { .text = (char *) text, .templated = true };
        char *out = NULL;
        int r = template_expand(&t, &vars, where, &out);
        if (r != want)
                fail_msg("'%s' as %s: got %d, want %d", text, template_target_to_string(where), r, want);
        return out;
}

static void expect(const char *text, TemplateTarget where, const char *want) {
        char *out = expand(text, where, 0);
        assert_string_equal(out, want);
        free(out);
}

static void test_parse(void **state) {
        TemplateRef *refs = NULL;
        size_t n = 0, off = 0;
        char *err = NULL;

        assert_int_equal(
                template_parse(
                        "x ${labels.unit} ${rule}${series} ${value} ${expected} ${incident} $$ $x",
                        &refs,
                        &n,
                        &err,
                        &off),
                0);
        assert_int_equal(n, 6);
        assert_int_equal(refs[0].kind, TEMPLATE_VAR_LABEL);
        assert_string_equal(refs[0].label, "unit");
        assert_int_equal(refs[0].offset, 2);
        assert_int_equal(refs[1].kind, TEMPLATE_VAR_RULE);
        assert_int_equal(refs[2].kind, TEMPLATE_VAR_SERIES);
        assert_int_equal(refs[5].kind, TEMPLATE_VAR_INCIDENT);
        template_refs_free(refs, n);

        assert_int_equal(template_parse("abc ${labels.unit", NULL, NULL, &err, &off), -EINVAL);
        assert_int_equal(off, 4);
        assert_non_null(strstr(err, "not closed"));
        free(err);
        assert_int_equal(template_parse("${rulez}", NULL, NULL, &err, &off), -EINVAL);
        assert_int_equal(off, 2);
        assert_non_null(strstr(err, "did you mean '${rule}'"));
        free(err);
        assert_int_equal(template_parse("ab${label.x}", NULL, NULL, &err, &off), -EINVAL);
        assert_non_null(strstr(err, "${labels.NAME}"));
        free(err);
        assert_int_equal(template_parse("${labels.a-b}", NULL, NULL, &err, &off), -EINVAL);
        assert_int_equal(off, 9);
        free(err);
        assert_int_equal(template_parse("${labels.}", NULL, NULL, &err, &off), -EINVAL);
        free(err);
        assert_int_equal(template_parse("${}", NULL, NULL, &err, &off), -EINVAL);
        free(err);
        assert_int_equal(template_parse("plain text, $5 and $$", NULL, NULL, NULL, NULL), 0);
}

static void test_expand_values(void **state) {
        expect("${rule}:${incident}", TEMPLATE_BODY, "api-latency:0123456789abcdef0123456789abcdef");
        expect("v=${value} e=${expected}", TEMPLATE_BODY, "v=0.52 e=0.15");
        expect("$$${labels.instance}$$", TEMPLATE_BODY, "$web1$");
        expect("${labels.missing}", TEMPLATE_BODY, "");
        expect("${series}", TEMPLATE_ARGV, "http_requests_total{code=\"500\"}");
        expect("cost: $5", TEMPLATE_ARGV, "cost: $5");

        TemplateVars v = vars;
        Template t = { .text = (char *) "${expected}/${value}", .templated = true };
        char *out = NULL;
        v.expected = NAN;
        v.value = 1e300;
        assert_int_equal(template_expand(&t, &v, TEMPLATE_BODY, &out), 0);
        assert_string_equal(out, "NaN/1e+300");
        free(out);
        v.value = 0.1 + 0.2; /* shortest round trip, not %g's 0.3 */
        t.text = (char *) "${value}";
        assert_int_equal(template_expand(&t, &v, TEMPLATE_BODY, &out), 0);
        assert_string_equal(out, "0.30000000000000004");
        free(out);

        t.text = NULL;
        assert_int_equal(template_expand(&t, &v, TEMPLATE_BODY, &out), 0);
        assert_string_equal(out, "");
        free(out);
        t.text = (char *) "${nope}";
        assert_int_equal(template_expand(&t, &v, TEMPLATE_BODY, &out), -EBADMSG);
        assert_int_equal(template_expand(NULL, &v, TEMPLATE_BODY, &out), -EINVAL);
}

static void test_expand_targets(void **state) {
        /* Units: systemd's grammar. */
        expect("${labels.unit}", TEMPLATE_UNIT, "api-1.service");
        expect("api@${labels.instance}.service", TEMPLATE_UNIT, "api@web1.service");
        free(expand("${labels.path}.service", TEMPLATE_UNIT, -EINVAL));
        free(expand("${labels.instance}", TEMPLATE_UNIT, -EINVAL)); /* no suffix */
        free(expand("${labels.missing}", TEMPLATE_UNIT, -EINVAL));  /* empty */

        /* HAProxy: no ';', no white space, exactly backend/server. */
        expect("api/${labels.instance}", TEMPLATE_SERVER, "api/web1");
        free(expand("api/${labels.semi}", TEMPLATE_SERVER, -EINVAL));
        free(expand("api/${labels.path}", TEMPLATE_SERVER, -EINVAL));
        free(expand("${labels.instance}", TEMPLATE_SERVER, -EINVAL));

        /* URLs: substituted values are percent-encoded, literal text stays. */
        expect("http://127.0.0.1:8080/p?x=${labels.path}&r=${rule}",
               TEMPLATE_URL,
               "http://127.0.0.1:8080/p?x=%2Fa%20b%26c&r=api-latency");
        expect("https://h/${series}", TEMPLATE_URL, "https://h/http_requests_total%7Bcode%3D%22500%22%7D");
        free(expand("ftp://h/${rule}", TEMPLATE_URL, -EINVAL));
        free(expand("http://${labels.missing}/", TEMPLATE_URL, -EINVAL));

        /* Headers: no CR/LF; bodies as they are. */
        expect("X ${labels.instance}", TEMPLATE_HEADER, "X web1");
        free(expand("${labels.nl}", TEMPLATE_HEADER, -EINVAL));
        expect("${labels.nl}", TEMPLATE_BODY, "a\r\nb");
        expect("${labels.semi}", TEMPLATE_ARGV, "web1;shutdown");
}

static void test_unit_names(void **state) {
        const char *good[] = { "api.service", "worker@1.service", "a-b_c:d.socket", "x\\x2d.mount",
                               "foo.timer",   "user-1000.slice",  "dev-sda.device" };
        const char *bad[] = {
                "",           "api",          "api.servic",    ".service",      "a b.service", "a/b.service",
                "@x.service", "foo@.service", "a@b@c.service", "api.service;rm"
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (!unit_name_is_valid(good[i]))
                        fail_msg("%s should be valid", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (unit_name_is_valid(bad[i]))
                        fail_msg("%s should be invalid", bad[i]);
        char long_name[300];
        memset(long_name, 'a', 250);
        memcpy(long_name + 250, ".service", 9);
        assert_false(unit_name_is_valid(long_name));
        long_name[240] = 0;
        memcpy(long_name + 240, ".service", 9);
        assert_true(unit_name_is_valid(long_name));

        assert_true(unit_glob_is_valid("worker@*.service"));
        assert_true(unit_glob_is_valid("api-?.service"));
        assert_true(unit_glob_is_valid("*"));
        assert_true(unit_glob_is_valid("api.*"));
        assert_false(unit_glob_is_valid("api"));
        assert_false(unit_glob_is_valid("a b*.service"));
}

static void test_targets(void **state) {
        char *globs[] = { (char *) "api-*.service", (char *) "worker@[0-9].service" };
        Step s = { .targets = globs, .n_targets = 2 };
        Step none = {};
        assert_true(step_target_allowed(&s, "api-1.service"));
        assert_true(step_target_allowed(&s, "worker@3.service"));
        assert_false(step_target_allowed(&s, "db.service"));
        assert_false(step_target_allowed(&s, "worker@10.service"));
        assert_false(step_target_allowed(&s, NULL));
        assert_true(step_target_allowed(&none, "anything.service"));
        assert_false(step_target_allowed(NULL, "x"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),          cmocka_unit_test(test_expand_values),
                cmocka_unit_test(test_expand_targets), cmocka_unit_test(test_unit_names),
                cmocka_unit_test(test_targets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
