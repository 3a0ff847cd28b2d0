/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * burnrate: SLO error-budget burn, multiwindow and multi-burn-rate (the Google SRE workbook's alerting).
 *
 * Input: x = errors per second, x2 = events per second (the evaluator sums and rate-transforms the rule's
 * `errors` and `total` series). The budget is the allowed error ratio 1 - objective; the burn rate over a
 * window is (errors / events) / (1 - objective). A window pair [long, short, factor] fires when both windows
 * burn at least `factor` times the budget (defaults [1h, 5m, 14.4] and [6h, 30m, 6]: 2 % of a 30-day budget
 * in an hour, 5 % in six hours); the sample is anomalous when any pair fires.
 *
 * Windows. Each distinct window length tau keeps exponentially time-decayed sums of errors and events,
 * integrating the rates over each interval exactly: S <- S e^(-dt/tau) + rate * tau (1 - e^(-dt/tau)). For a
 * constant rate this equals the sliding-window count (rate * tau), the memory is two doubles per window
 * whatever the sampling, and gaps decay naturally. The first sample only starts the clock (it has no
 * interval behind it).
 *
 * p. In the window's own model errors are Poisson; under "burning exactly at the pair's factor" the error
 * count has mean lambda = events * (1 - objective) * factor, and p = P(X >= errors) (regularized incomplete
 * gamma; the Chernoff bound where p is far below the score's range). A pair's p is the larger of its two
 * windows' (both must be convincing), the verdict's p the smallest over pairs. So a pair just at its factor
 * scores about 0, and the score grows with how sure the burn is given the traffic -- a busy service burning
 * 20x scores 1, a service with three requests an hour does not.
 *
 * Expected is the error rate the budget allows at the current traffic, x2 (1 - objective); the band is
 * [0, x2 (1 - objective) * smallest factor].
 *
 * Warm-up default: the longest short window (30 min by default) and 2 samples.
 */
#include <errno.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_sf_gamma.h>

#include "detector-internal.h"

typedef struct BurnState {
        double last_t;
        double first_t;
        uint64_t n;
        double sums[]; /* errors[n_tau] then events[n_tau] */
} BurnState;

static int burnrate_prepare(DetectorParams *p) {
        size_t n = 0;
        double max_short = 0;

        for (size_t i = 0; i < p->n_windows; i++) {
                double w[2] = { p->windows[i].long_seconds, p->windows[i].short_seconds };
                uint8_t *slot[2] = { &p->derived.pair_long[i], &p->derived.pair_short[i] };
                for (size_t j = 0; j < 2; j++) {
                        size_t k;
                        for (k = 0; k < n; k++)
                                if (feq(p->derived.burn_tau[k], w[j]))
                                        break;
                        if (k == n)
                                p->derived.burn_tau[n++] = w[j];
                        *slot[j] = (uint8_t) k;
                }
                max_short = MAX(max_short, p->windows[i].short_seconds);
        }
        p->derived.n_tau = n;
        p->derived.state_size = sizeof(BurnState) + 2 * n * sizeof(double);
        p->derived.warmup_samples = 2;
        p->derived.warmup_seconds = max_short;
        return 0;
}

static void burnrate_init(const DetectorParams *p, void *state) {
        BurnState *s = state;
        s->last_t = NAN;
}

/* P(X >= e) for X ~ Poisson(lambda), e real: the regularized lower incomplete gamma P(e, lambda). Where the
 * Chernoff bound exp(-(e ln(e/lambda) - e + lambda)) is already below 1e-20 the score is saturated anyway,
 * and the bound is used instead, which also keeps GSL away from its underflow error path. */
static double poisson_tail(double e, double lambda) {
        if (!(lambda > 0))
                return e > 0 ? 1e-300 : 1;
        if (!(e > lambda))
                return 1;
        double chernoff = exp(-(e * log(e / lambda) - e + lambda));
        if (chernoff < 1e-20)
                return MAX(chernoff, 1e-300);
        gsl_sf_result res;
        if (gsl_sf_gamma_inc_P_e(e, lambda, &res) == GSL_SUCCESS && res.val > 0)
                return MIN(res.val, 1.0);
        return chernoff;
}

int detector_burnrate_update(const DetectorParams *p, void *state, const DetectorSample *sample, Verdict *v) {
        BurnState *s = state;
        size_t nt = p->derived.n_tau;
        double *err = s->sums, *tot = s->sums + nt;
        double x = sample->x, x2 = sample->x2, t = sample->t;
        double budget = 1 - p->objective;

        if (!isfinite(x) || !isfinite(x2) || !isfinite(t) || x < 0 || x2 < 0) {
                verdict_skipped(v);
                return DETECTOR_SKIPPED_NONFINITE;
        }
        if (s->n > 0 && !(t > s->last_t)) {
                verdict_skipped(v);
                return DETECTOR_SKIPPED_OUT_OF_ORDER;
        }
        if (s->n == 0)
                s->first_t = t;
        else {
                double dt = t - s->last_t;
                for (size_t i = 0; i < nt; i++) {
                        double tau = p->derived.burn_tau[i], d = exp(-dt / tau), in = tau * (1 - d);
                        err[i] = err[i] * d + x * in;
                        tot[i] = tot[i] * d + x2 * in;
                }
        }
        s->last_t = t;
        s->n++;

        double pmin = 1, min_factor = INFINITY;
        bool fire = false;
        for (size_t j = 0; j < p->n_windows; j++) {
                size_t l = p->derived.pair_long[j], sh = p->derived.pair_short[j];
                double f = p->windows[j].factor;
                double burn_l = tot[l] > 0 ? err[l] / tot[l] / budget : 0;
                double burn_s = tot[sh] > 0 ? err[sh] / tot[sh] / budget : 0;
                if (burn_l >= f && burn_s >= f)
                        fire = true;
                double pj = MAX(
                        poisson_tail(err[l], tot[l] * budget * f),
                        poisson_tail(err[sh], tot[sh] * budget * f));
                pmin = MIN(pmin, pj);
                min_factor = MIN(min_factor, f);
        }
        *v = (Verdict){
                .p = pmin,
                .score = detector_score_from_p(pmin),
                .anomalous = fire,
                .expected = x2 * budget,
                .lower = 0,
                .upper = x2 * budget * min_factor,
        };
        if (s->n == 1 || !detector_is_warm(p, s->n, t - s->first_t))
                verdict_warming(v);
        return DETECTOR_OK;
}

static size_t burnrate_describe(const DetectorParams *p, FieldDesc out[static FIELDS_MAX]) {
        size_t nt = p->derived.n_tau;
        out[0] = (FieldDesc) FIELD(BurnState, last_t, FIELD_F64);
        out[1] = (FieldDesc) FIELD(BurnState, first_t, FIELD_F64);
        out[2] = (FieldDesc) FIELD(BurnState, n, FIELD_U64);
        out[3] = (FieldDesc){ "errors", FIELD_F64, offsetof(BurnState, sums), nt };
        out[4] = (FieldDesc){ "events", FIELD_F64, offsetof(BurnState, sums) + nt * sizeof(double), nt };
        return 5;
}

static int burnrate_check(const DetectorParams *p, const void *state) {
        const BurnState *s = state;
        if (s->n == 0)
                return 0;
        if (!isfinite(s->last_t) || !isfinite(s->first_t) || s->first_t > s->last_t)
                return -EBADMSG;
        for (size_t i = 0; i < 2 * p->derived.n_tau; i++)
                if (!(s->sums[i] >= 0) || !isfinite(s->sums[i]))
                        return -EBADMSG;
        return 0;
}

const DetectorKind detector_burnrate = {
        .name = "burnrate",
        .prepare = burnrate_prepare,
        .init = burnrate_init,
        .update = detector_burnrate_update,
        .describe = burnrate_describe,
        .check = burnrate_check,
};
