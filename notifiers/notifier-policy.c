/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Pure delivery policy for the notifier outbox; see notifier-policy.h. Every function takes the time it
 * should consider "now" as an argument.
 */
#include <string.h>

#include "notifier-policy.h"
#include "util.h"

static usec_t bucket_capacity(const TokenBucket *b) {
        usec_t cap;

        if (__builtin_mul_overflow((usec_t) b->burst, b->interval_usec, &cap))
                return USEC_INFINITY;
        return cap;
}

/* Credit at `now`, without modifying the bucket. A clock that appears to go backwards (it should not:
 * callers pass CLOCK_MONOTONIC) earns nothing rather than wrapping around. */
static usec_t bucket_credit_at(const TokenBucket *b, usec_t now_usec) {
        usec_t cap = bucket_capacity(b), credit = b->credit_usec;

        if (now_usec > b->last_usec) {
                usec_t earned = now_usec - b->last_usec;
                credit = earned >= cap - MIN(credit, cap) ? cap : credit + earned;
        }
        return MIN(credit, cap);
}

void token_bucket_init(TokenBucket *b, unsigned burst, usec_t interval_usec, usec_t now_usec) {
        *b = (TokenBucket){
                .burst = MAX(burst, 1u),
                .interval_usec = MAX(interval_usec, (usec_t) 1),
                .last_usec = now_usec,
        };
        b->credit_usec = bucket_capacity(b);
}

unsigned token_bucket_available(const TokenBucket *b, usec_t now_usec) {
        return (unsigned) (bucket_credit_at(b, now_usec) / b->interval_usec);
}

usec_t token_bucket_next(const TokenBucket *b, usec_t now_usec) {
        usec_t credit = bucket_credit_at(b, now_usec);

        if (credit >= b->interval_usec)
                return now_usec;
        return now_usec + (b->interval_usec - credit);
}

bool token_bucket_take(TokenBucket *b, usec_t now_usec) {
        usec_t credit = bucket_credit_at(b, now_usec);

        if (credit < b->interval_usec)
                return false;
        b->credit_usec = credit - b->interval_usec;
        b->last_usec = MAX(now_usec, b->last_usec);
        return true;
}

usec_t backoff_delay(unsigned failures, usec_t min_usec, usec_t max_usec, uint64_t random) {
        usec_t d = MAX(min_usec, (usec_t) 1);

        max_usec = MAX(max_usec, d);
        for (unsigned i = 1; i < failures && d < max_usec; i++)
                d = d > max_usec / 2 ? max_usec : d * 2;
        d = MIN(d, max_usec);
        /* Equal jitter: half fixed, half random. */
        return d - d / 2 + random % (d / 2 + 1);
}

DeliveryOutcome delivery_classify(bool transport_ok, long status) {
        if (!transport_ok)
                return DELIVERY_RETRY;
        if (status >= 200 && status <= 299)
                return DELIVERY_OK;
        if (status == 408 || status == 429 || (status >= 500 && status <= 599))
                return DELIVERY_RETRY;
        /* 1xx as a final status, 3xx (redirects are never followed: the URL is a secret and must not be
         * sent elsewhere) and the other 4xx: the request itself is wrong, resending it cannot help. */
        return DELIVERY_PERMANENT;
}

const char *delivery_outcome_to_string(DeliveryOutcome o) {
        static const char *const table[_DELIVERY_OUTCOME_MAX] = {
                [DELIVERY_OK] = "delivered",
                [DELIVERY_RETRY] = "retry",
                [DELIVERY_PERMANENT] = "permanent",
        };
        return o >= 0 && o < _DELIVERY_OUTCOME_MAX ? table[o] : NULL;
}

bool delivery_honours_retry_after(long status) {
        return status == 429 || status == 503;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static int parse_fixed_digits(const char *s, size_t n, unsigned *ret) {
        unsigned v = 0;

        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        *ret = v;
        return 0;
}

/* IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"), the one format RFC 9110 requires senders to use.
 * The obsolete RFC 850 and asctime forms are rejected; the caller falls back to its own back-off. */
static int parse_imf_fixdate(const char *s, size_t len, usec_t *ret_usec) {
        static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
        static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        unsigned day, year, hour, minute, second, month = 0;
        bool day_ok = false;

        /* "Sun, 06 Nov 1994 08:49:37 GMT" is exactly 29 bytes. */
        if (len != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
            s[19] != ':' || s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(days); i++)
                if (memcmp(s, days[i], 3) == 0)
                        day_ok = true;
        if (!day_ok)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(months); i++)
                if (memcmp(s + 8, months[i], 3) == 0)
                        month = (unsigned) i + 1;
        if (month == 0)
                return -EINVAL;
        if (parse_fixed_digits(s + 5, 2, &day) < 0 || parse_fixed_digits(s + 12, 4, &year) < 0 ||
            parse_fixed_digits(s + 17, 2, &hour) < 0 || parse_fixed_digits(s + 20, 2, &minute) < 0 ||
            parse_fixed_digits(s + 23, 2, &second) < 0)
                return -EINVAL;
        if (day < 1 || day > 31 || year < 1970 || hour > 23 || minute > 59 || second > 60)
                return -EINVAL;

        int64_t days_since = days_from_civil(year, month, day);
        if (days_since < 0)
                return -EINVAL;
        *ret_usec = ((usec_t) days_since * 86400 + hour * 3600 + minute * 60 + second) * USEC_PER_SEC;
        return 0;
}

int retry_after_parse(const char *value, usec_t now_realtime_usec, usec_t *ret_delay_usec) {
        const char *s = value, *e;
        size_t len;

        if (!value)
                return -EINVAL;
        while (is_blank(*s))
                s++;
        e = s + strlen(s);
        while (e > s && is_blank(e[-1]))
                e--;
        len = (size_t) (e - s);
        if (len == 0)
                return -EINVAL;

        if (s[0] >= '0' && s[0] <= '9') {
                char buf[32];
                uint64_t secs;
                int r;

                if (len >= sizeof(buf))
                        return -ERANGE;
                memcpy(buf, s, len);
                buf[len] = 0;
                r = safe_atou64(buf, &secs);
                if (r < 0)
                        return r;
                if (secs > UINT64_MAX / USEC_PER_SEC)
                        return -ERANGE;
                *ret_delay_usec = secs * USEC_PER_SEC;
                return 0;
        }

        usec_t when;
        int r = parse_imf_fixdate(s, len, &when);
        if (r < 0)
                return r;
        *ret_delay_usec = when > now_realtime_usec ? when - now_realtime_usec : 0;
        return 0;
}

OutboxMode outbox_mode_for_kind(NotifierKind kind) {
        switch (kind) {
        case NOTIFIER_WEBHOOK:
                return OUTBOX_EACH;
        case NOTIFIER_ALERTMANAGER:
                return OUTBOX_STATE;
        case NOTIFIER_SLACK:
        case NOTIFIER_MATTERMOST:
        case NOTIFIER_TEAMS:
        case NOTIFIER_DISCORD:
        default:
                return OUTBOX_CHAT;
        }
}

size_t outbox_plan(
        OutboxMode mode,
        const OutboxEntry *q,
        size_t n,
        const OutboxPolicy *p,
        const TokenBucket *bucket,
        usec_t now_usec,
        usec_t retry_at_usec,
        size_t *ret_pick,
        usec_t *ret_not_before) {
        size_t k = 0, cap;
        usec_t not_before;

        if (n == 0) {
                *ret_not_before = USEC_INFINITY;
                return 0;
        }

        not_before = MAX(now_usec, retry_at_usec);
        switch (mode) {
        case OUTBOX_EACH:
                ret_pick[k++] = 0;
                break;
        case OUTBOX_CHAT:
        case OUTBOX_STATE:
        default:
                cap = mode == OUTBOX_CHAT ? MAX(p->max_batch, (size_t) 1) : n;
                for (size_t i = 0; i < n && k < cap; i++)
                        if (streq(q[i].incident_id, q[0].incident_id))
                                ret_pick[k++] = i;
                if (mode == OUTBOX_CHAT) {
                        usec_t grouped = q[0].queued_usec + p->group_wait_usec;
                        not_before = MAX(not_before, grouped);
                        if (bucket)
                                not_before = MAX(not_before, token_bucket_next(bucket, not_before));
                }
                break;
        }
        *ret_not_before = not_before;
        return k;
}
