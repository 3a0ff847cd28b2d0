/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The detector front door: parameter defaults and validation, dispatch to the kinds, the score, and the
 * state serialization that all kinds share.
 *
 * Binary state format (version 4), little-endian:
 *   0  "HSD"            magic
 *   3  u8  version      4; 3 (without the seasonal novelty test's pair envelope and hold-off times) and 2
 *                       (also without the tail calibration's time of the last counted exceedance past the
 *                       boundary) are read too, so an upgrade keeps what was learned; 1 (seasonal state
 *                       before the run, confirmation and novelty tests) is not
 *   4  u8  type         DetectorType
 *   5  u8[3]            zero
 *   8  u64 params hash  detector_params_prepare()'s identity of the parameters
 *   16 u32 length       of the payload
 *   20 u32 checksum     of the payload (low 32 bits of hash_bytes)
 *   24 payload          the kind's fields in its describe() order: f64/u64 as 8 bytes, f32/u32/i32 as 4;
 *                       a field added in a later version than the blob's is absent (on load it gets its
 *                       initial value, or one the kind's migrate() derives from the fields the blob has)
 * Doubles travel as their bit patterns, so NaN and Inf survive and a round trip gives bit-identical state.
 */
#include <errno.h>
#include <float.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sf_gamma.h>
#include <inttypes.h>
#include <stdlib.h>

#include "detector-internal.h"
#include "fmt-double.h"
#include "hashmap.h"
#include "tail-fit-table.h"
#include "strbuf.h"

#define STATE_MAGIC "HSD"
#define STATE_VERSION 4
#define STATE_VERSION_MIN 2
#define STATE_HEADER_SIZE 24

static const DetectorKind *const kinds[_DETECTOR_TYPE_MAX] = {
        [DETECTOR_TYPE_EWMA] = &detector_ewma,           [DETECTOR_TYPE_SEASONAL] = &detector_seasonal,
        [DETECTOR_TYPE_THRESHOLD] = &detector_threshold, [DETECTOR_TYPE_CUSUM] = &detector_cusum,
        [DETECTOR_TYPE_BURNRATE] = &detector_burnrate,   [DETECTOR_TYPE_TREND] = &detector_trend,
};

const char *detector_type_to_string(DetectorType t) {
        if ((unsigned) t >= _DETECTOR_TYPE_MAX)
                return NULL;
        return kinds[t]->name;
}

void detector_params_init(DetectorParams *p, DetectorType type) {
        *p = (DetectorParams){
                .type = type,
                .threshold = 4,
                .direction = DETECTOR_DIRECTION_BOTH,
                .halflife_seconds = type == DETECTOR_TYPE_CUSUM ? 6 * 3600 : 1800,
                .drift = 0.5,
                .objective = 0.999,
                .horizon_seconds = 86400,
                .window_seconds = 6 * 3600,
        };
        if (type == DETECTOR_TYPE_BURNRATE) {
                p->windows[0].long_seconds = 3600;
                p->windows[0].short_seconds = 300;
                p->windows[0].factor = 14.4;
                p->windows[1].long_seconds = 6 * 3600;
                p->windows[1].short_seconds = 1800;
                p->windows[1].factor = 6;
                p->n_windows = 2;
        }
}

static bool positive_finite(double v) {
        return isfinite(v) && v > 0;
}

int detector_params_validate(const DetectorParams *p) {
        if (!p || (unsigned) p->type >= _DETECTOR_TYPE_MAX)
                return -EINVAL;
        if (!positive_finite(p->threshold) || p->threshold > 1000)
                return -EINVAL;
        if ((unsigned) p->direction > DETECTOR_DIRECTION_DOWN)
                return -EINVAL;
        if (p->has_warmup && (!isfinite(p->warmup_seconds) || p->warmup_seconds < 0))
                return -EINVAL;

        switch (p->type) {
        case DETECTOR_TYPE_EWMA:
        case DETECTOR_TYPE_CUSUM:
                if (!positive_finite(p->halflife_seconds))
                        return -EINVAL;
                if (p->type == DETECTOR_TYPE_CUSUM && (!isfinite(p->drift) || p->drift < 0 || p->drift > 100))
                        return -EINVAL;
                break;
        case DETECTOR_TYPE_SEASONAL:
                if (p->n_periods > DETECTOR_PERIODS_MAX)
                        return -EINVAL;
                for (size_t i = 0; i < p->n_periods; i++)
                        if (!feq(p->periods_seconds[i], 86400) && !feq(p->periods_seconds[i], 604800))
                                return -EINVAL;
                if (p->n_periods == 2 && feq(p->periods_seconds[0], p->periods_seconds[1]))
                        return -EINVAL;
                if (!feq(p->resolution_seconds, 0) &&
                    (!positive_finite(p->resolution_seconds) || p->resolution_seconds < 60 ||
                     p->resolution_seconds > 6 * 3600))
                        return -EINVAL;
                break;
        case DETECTOR_TYPE_THRESHOLD:
                if (!p->has_above && !p->has_below)
                        return -EINVAL;
                if ((p->has_above && isnan(p->above)) || (p->has_below && isnan(p->below)))
                        return -EINVAL;
                if (p->has_above && p->has_below && !(p->below < p->above))
                        return -EINVAL;
                break;
        case DETECTOR_TYPE_BURNRATE:
                if (!(p->objective > 0 && p->objective < 1))
                        return -EINVAL;
                if (p->n_windows == 0 || p->n_windows > DETECTOR_BURN_WINDOWS_MAX)
                        return -EINVAL;
                for (size_t i = 0; i < p->n_windows; i++)
                        if (!positive_finite(p->windows[i].long_seconds) ||
                            !positive_finite(p->windows[i].short_seconds) ||
                            !positive_finite(p->windows[i].factor) ||
                            p->windows[i].short_seconds > p->windows[i].long_seconds)
                                return -EINVAL;
                break;
        case DETECTOR_TYPE_TREND:
                if (!isfinite(p->limit) || !positive_finite(p->horizon_seconds) ||
                    !positive_finite(p->window_seconds))
                        return -EINVAL;
                break;
        default:
                return -EINVAL;
        }
        return 0;
}

/* The identity of a parameter set: every input field, doubles by bit pattern. Two params with the same
 * hash make the same detector, so a state saved under one is valid under the other. */
static uint64_t params_hash(const DetectorParams *p) {
        uint8_t buf[512];
        size_t n = 0;
#define PUT(v)                                    \
        do {                                      \
                __typeof__(v) _v = (v);           \
                memcpy(buf + n, &_v, sizeof(_v)); \
                n += sizeof(_v);                  \
        } while (0)
        PUT((uint32_t) p->type);
        PUT(p->threshold);
        PUT((uint32_t) p->direction);
        PUT((uint32_t) p->has_warmup);
        PUT(p->has_warmup ? p->warmup_seconds : 0.0);
        PUT(p->has_warmup ? p->warmup_samples : (uint64_t) 0);
        switch (p->type) {
        case DETECTOR_TYPE_EWMA:
                PUT(p->halflife_seconds);
                break;
        case DETECTOR_TYPE_CUSUM:
                PUT(p->halflife_seconds);
                PUT(p->drift);
                break;
        case DETECTOR_TYPE_SEASONAL:
                PUT((uint64_t) p->n_periods);
                for (size_t i = 0; i < p->n_periods; i++)
                        PUT(p->periods_seconds[i]);
                PUT(p->resolution_seconds);
                break;
        case DETECTOR_TYPE_THRESHOLD:
                PUT((uint32_t) p->has_above);
                PUT(p->has_above ? p->above : 0.0);
                PUT((uint32_t) p->has_below);
                PUT(p->has_below ? p->below : 0.0);
                break;
        case DETECTOR_TYPE_BURNRATE:
                PUT(p->objective);
                PUT((uint64_t) p->n_windows);
                for (size_t i = 0; i < p->n_windows; i++) {
                        PUT(p->windows[i].long_seconds);
                        PUT(p->windows[i].short_seconds);
                        PUT(p->windows[i].factor);
                }
                break;
        case DETECTOR_TYPE_TREND:
                PUT(p->limit);
                PUT(p->horizon_seconds);
                PUT(p->window_seconds);
                break;
        default:
                break;
        }
#undef PUT
        return hash_bytes(buf, n);
}

int detector_params_prepare(DetectorParams *p) {
        int r = detector_params_validate(p);
        if (r < 0)
                return r;
        memset(&p->derived, 0, sizeof(p->derived));
        r = kinds[p->type]->prepare(p);
        if (r < 0)
                return r;
        if (p->has_warmup) {
                p->derived.warmup_seconds = p->warmup_seconds;
                p->derived.warmup_samples = p->warmup_samples;
        }
        int e;
        if (feq(frexp(p->threshold, &e), 0.5)) /* a power of two: 1/threshold is exact */
                p->derived.threshold_inv_exact = 1 / p->threshold;
        p->derived.state_size = (p->derived.state_size + 7) & ~(size_t) 7;
        p->derived.hash = params_hash(p);
        p->derived.prepared = true;
        return 0;
}

size_t detector_state_size(const DetectorParams *p) {
        return p->derived.prepared ? p->derived.state_size : 0;
}

void detector_state_init(const DetectorParams *p, void *state) {
        if (!p->derived.prepared)
                return;
        memset(state, 0, p->derived.state_size);
        kinds[p->type]->init(p, state);
}

/* The per-sample entry points in one flat table: one load and one indirect call per sample. */
static int (*const update_of[_DETECTOR_TYPE_MAX])(
        const DetectorParams *, void *, const DetectorSample *, Verdict *) = {
        [DETECTOR_TYPE_EWMA] = detector_ewma_update,
        [DETECTOR_TYPE_SEASONAL] = detector_seasonal_update,
        [DETECTOR_TYPE_THRESHOLD] = detector_threshold_update,
        [DETECTOR_TYPE_CUSUM] = detector_cusum_update,
        [DETECTOR_TYPE_BURNRATE] = detector_burnrate_update,
        [DETECTOR_TYPE_TREND] = detector_trend_update,
};

int detector_update(const DetectorParams *p, void *state, const DetectorSample *s, Verdict *ret) {
        if (_unlikely_(!p->derived.prepared || (unsigned) p->type >= _DETECTOR_TYPE_MAX))
                return -EINVAL;
        return update_of[p->type](p, state, s, ret);
}

/* ---- hot-path helpers, out of line ---- */

__attribute__((cold)) double decay_refresh(double dt, double rate, double *cache_dt, double *cache_factor) {
        double f = exp(-dt * rate);
        *cache_dt = dt;
        *cache_factor = f;
        return f;
}

/* ---- score ---- */

double detector_score_from_p(double p) {
        if (!(p < 1)) /* also NaN: treat as unremarkable */
                return 0;
        if (p < 1e-17) /* -log10(p) / 16 > 1: saturated, no log10() needed */
                return 1;
        double s = -log10(p) / 16;
        return s > 1 ? 1 : s;
}

/* The exact two-sided t(10) tail for large z, in log space: p = I_x(5, 1/2) = y * sum_{k>=5} c_k x^k with
 * x = 10/(10+z^2), y = z/sqrt(10+z^2) and c_k = (2k-1)!!/(2k)!!; the sum converges like x^k and x < 0.04
 * here, so 16 terms reach double precision. */
double detector_tail_neglog10_slow(double z) {
        if (isnan(z))
                return 0;
        if (z > 1e150 || isinf(z))
                return INFINITY;
        double z2 = z * z, x = DETECTOR_TAIL_DOF / (DETECTOR_TAIL_DOF + z2),
               y = z / sqrt(DETECTOR_TAIL_DOF + z2);
        double c = 63.0 / 256, term = 1, sum = 0;
        for (int k = 5; k < 40; k++) {
                double t = c * term;
                sum += t;
                if (t < sum * 1e-17)
                        break;
                term *= x;
                c *= (2.0 * k + 1) / (2.0 * k + 2);
        }
        return -(log10(y) + 5 * log10(x) + log10(sum));
}

double detector_tail_p(double z, double *ret_score) {
        double p, f;
        z = fabs(z);
        if (isnan(z)) {
                if (ret_score)
                        *ret_score = 0;
                return 1;
        }
        f = tail_neglog10(z, &p);
        if (ret_score)
                *ret_score = f >= 16 ? 1 : f / 16;
        return p;
}

/* ---- tail calibration (see detector-internal.h) ---- */

#define TAIL_FADE_SECONDS (7 * 86400.0)
#define TAIL_RELIABLE 20.0
#define TAIL_REF_INTERVAL 300.0
#define TAIL_PRIOR_WEIGHT 32.0
#define TAIL_MIN_SLOPE 2.0
#define TAIL_SEEN 3.0 /* exceedances of a level that prove it is inside the normal range */
#define TAIL_NU_MIN 1.2
#define TAIL_NU_MAX 400.0
/* Samples below which the tail's shape is the prior's, not fitted: from a few dozen samples the fit rests on
 * the share of them within 2 core sigmas and on one or two exceedances (often the first samples of the very
 * fault under way), and its extrapolation to a 1 s interval's rarity put the boundary at hundreds of core
 * sigmas -- every later fault then went unseen (the demo, half a minute after start). */
#define TAIL_MIN_FIT 128.0

static double tail_level(int j) {
        return 2 * pow(1.5, j);
}

/* E|T| of Student's t with nu > 1 degrees of freedom. */
static double t_abs_mean(double nu) {
        return 2 * sqrt(nu) * exp(gsl_sf_lngamma((nu + 1) / 2) - gsl_sf_lngamma(nu / 2)) /
                (sqrt(M_PI) * (nu - 1));
}

/* The k (core sigmas) beyond which a t(nu), whose core sigma is one, has two-sided mass alpha: Newton on
 * log P(|T| > x) against log x, which is nearly linear in the tail; a few GSL CDF calls, no GSL error paths. */
static double t_quantile(double alpha, double nu) {
        double scale = MAD_TO_SIGMA * t_abs_mean(nu);
        double lognorm = gsl_sf_lngamma((nu + 1) / 2) - gsl_sf_lngamma(nu / 2) - 0.5 * log(nu * M_PI);
        double lo = 1e-3, hi = 1e12; /* bracket in t units */
        double lx = log(MAX(gsl_cdf_ugaussian_Qinv(alpha / 2), 0.1)), target = log(alpha);
        for (int i = 0; i < 40; i++) {
                double x = exp(lx), q = gsl_cdf_tdist_Q(x, nu);
                double f = log(2 * MAX(q, 1e-300)) - target;
                if (fabs(f) < 1e-9)
                        break;
                if (f > 0)
                        lo = MAX(lo, x);
                else
                        hi = MIN(hi, x);
                double logpdf = lognorm - (nu + 1) / 2 * log1p(x * x / nu);
                double slope = -x * exp(logpdf) / MAX(q, 1e-300); /* d log S / d log x */
                double next = slope < 0 ? lx - f / slope : NAN;
                if (!isfinite(next) || next <= log(lo) || next >= log(hi))
                        next = (log(lo) + log(hi)) / 2; /* bisect when Newton leaves the bracket */
                lx = next;
        }
        return exp(lx) / scale;
}

/* The prior's survival beyond level j (in core sigmas): the table row nearest t(4). */
static double tail_prior_survival_level(int j) {
        return j < TAIL_LEVELS ? tail_prior_sf[j] : 0;
}

/* The degrees of freedom that best explain the histogram (data plus prior): the binned log-likelihood is a
 * dot product with each precomputed row; the best row is refined by a parabola through it and its
 * neighbours in log nu. The first row means "this heavy or heavier", the last "as light as a Gaussian". */
static double tail_fit_nu(const TailCal *c, const double *above) {
        size_t pr = TAIL_FIT_PRIOR_ROW;
        double cnt[TAIL_LEVELS + 1];
        cnt[0] = MAX(c->total - above[0], 0.0);
        for (int j = 0; j < TAIL_LEVELS; j++)
                cnt[j + 1] = c->counts[j];
        for (int b = 0; b <= TAIL_LEVELS; b++)
                cnt[b] += TAIL_PRIOR_WEIGHT * exp(tail_fit_table[pr].logp[b]);

        double ll[TAIL_FIT_N];
        size_t best = 0;
        for (size_t i = 0; i < TAIL_FIT_N; i++) {
                double v = 0;
                for (int b = 0; b <= TAIL_LEVELS; b++)
                        v += cnt[b] * tail_fit_table[i].logp[b];
                ll[i] = v;
                if (v > ll[best])
                        best = i;
        }
        if (best == 0 || best == TAIL_FIT_N - 1)
                return tail_fit_table[best].nu;
        double x0 = log(tail_fit_table[best - 1].nu), x1 = log(tail_fit_table[best].nu),
               x2 = log(tail_fit_table[best + 1].nu);
        double d = (ll[best - 1] - 2 * ll[best] + ll[best + 1]);
        double x = d < 0 ? x1 + 0.5 * (x2 - x1) * (ll[best - 1] - ll[best + 1]) / d : x1;
        return exp(CLAMP(x, x0, x2));
}

/* Fold the samples since the last recalibration into the histogram (fading old counts) and return the
 * per-sample false-alarm budget alpha. */
static double tail_fold(TailCal *c, double t, double threshold, double share, uint32_t n_now) {
        uint32_t since = n_now - c->n_checkpoint;
        if (since > 0) {
                if (!isnan(c->checkpoint_t) && t > c->checkpoint_t) {
                        double dt = (t - c->checkpoint_t) / since;
                        c->dt_mean = c->dt_mean > 0
                                ? (float) (0.75 * c->dt_mean + 0.25 * MIN(dt, 4.0 * c->dt_mean))
                                : (float) dt;
                }
                /* Counts fade with time (a half-life of a week): the boundary is about rarity in time, and a
                 * rare recurring event (a nightly job, a GC pause a day) must stay in memory whatever the
                 * sampling rate. */
                double fade = isnan(c->checkpoint_t) || !(t > c->checkpoint_t)
                        ? 1
                        : exp2(-(t - c->checkpoint_t) / TAIL_FADE_SECONDS);
                for (int j = 0; j < TAIL_LEVELS; j++)
                        c->counts[j] = (float) (c->counts[j] * fade);
                c->total = (float) (c->total * fade + since);
        }
        c->n_checkpoint = n_now;
        c->checkpoint_t = t;

        double interval = c->dt_mean > 0 ? c->dt_mean : TAIL_REF_INTERVAL;
        double alpha = share * erfc(threshold / M_SQRT2) *
                CLAMP(interval / TAIL_REF_INTERVAL, 1.0 / 3600, 12.0);
        return CLAMP(alpha, 1e-300, 0.5);
}

float tail_empirical(TailCal *c, double t, double threshold, double share, uint32_t n_now) {
        double alpha = tail_fold(c, t, threshold, share, n_now), n = c->total + TAIL_PRIOR_WEIGHT, above = 0;
        for (int j = TAIL_LEVELS - 1; j >= 0; j--) {
                above += c->counts[j];
                if (above >= TAIL_SEEN && above / n > alpha)
                        return (float) (j + 1 < TAIL_LEVELS ? tail_level(j + 1) : 1.5 * tail_level(j));
        }
        return 0;
}

/* blips: see tail_recalibrate_blips(). */
static float recalibrate(TailCal *c, double t, double threshold, double share, uint32_t n_now, bool blips) {
        double alpha = tail_fold(c, t, threshold, share, n_now);
        double k_min = gsl_cdf_ugaussian_Qinv(alpha / 2); /* the boundary is never tighter than Gaussian */

        /* Survival at each level, data plus prior. */
        double n = c->total + TAIL_PRIOR_WEIGHT, above[TAIL_LEVELS + 1], S[TAIL_LEVELS + 1];
        above[TAIL_LEVELS] = 0;
        for (int j = TAIL_LEVELS - 1; j >= 0; j--)
                above[j] = above[j + 1] + c->counts[j];
        for (int j = 0; j <= TAIL_LEVELS; j++)
                S[j] = (above[j] + TAIL_PRIOR_WEIGHT * tail_prior_survival_level(j)) / n;
        int top = 0;
        for (int j = 0; j < TAIL_LEVELS; j++)
                if (above[j] >= TAIL_RELIABLE)
                        top = j;
        double lt = tail_level(top);

        double k;
        if (S[top] <= alpha) {
                /* The quantile is inside the observed range: log-log interpolation between the levels. */
                int j = 0;
                while (j < top && S[j] > alpha)
                        j++;
                if (j == 0)
                        k = tail_level(0);
                else {
                        double slope = log(S[j - 1] / S[j]) / log(1.5);
                        k = tail_level(j - 1) * pow(S[j - 1] / alpha, 1 / MAX(slope, TAIL_MIN_SLOPE));
                }
        } else {
                /* Beyond the data: the Student-t (core scale fixed to the detector's) that best explains the
                 * whole histogram (binned maximum likelihood over nu), and its quantile at alpha. */
                double nu = c->total >= TAIL_MIN_FIT ? tail_fit_nu(c, above)
                                                     : tail_fit_table[TAIL_FIT_PRIOR_ROW].nu;
                if (nu > TAIL_NU_MIN) {
                        k = t_quantile(alpha, nu);
                } else {
                        /* Heavier than any t (a far cluster of recurring blips): a local power law from the
                         * top reliable level, the slope from the next level's count plus one half and from
                         * the level below. */
                        double s_next = (top + 1 < TAIL_LEVELS ? above[top + 1] : 0) + 0.5;
                        s_next = (s_next +
                                  TAIL_PRIOR_WEIGHT *
                                          (top + 1 < TAIL_LEVELS ? tail_prior_survival_level(top + 1) : 0)) /
                                n;
                        double slope = S[top] > s_next ? log(S[top] / s_next) / log(1.5) : 0;
                        if (top > 0 && S[top - 1] > S[top])
                                slope = MAX(slope, log(S[top - 1] / S[top]) / log(1.5));
                        k = lt * pow(S[top] / alpha, 1 / MAX(slope, TAIL_MIN_SLOPE));
                }
        }
        /* Never inside levels that the data shows (TAIL_SEEN times) to be exceeded more often than alpha; a
         * lone far exceedance -- an anomaly -- does not move the boundary past itself. With blips, past the
         * top of the level's bin, where the exceedances themselves are. */
        for (int j = top + 1; j < TAIL_LEVELS; j++)
                if (above[j] >= TAIL_SEEN && above[j] / n > alpha)
                        k = MAX(k, blips ? tail_level(j + 1) : tail_level(j));
        return (float) MAX(k, k_min);
}

float tail_recalibrate(TailCal *c, double t, double threshold, double share, uint32_t n_now) {
        return recalibrate(c, t, threshold, share, n_now, false);
}

float tail_recalibrate_blips(TailCal *c, double t, double threshold, double share, uint32_t n_now) {
        return recalibrate(c, t, threshold, share, n_now, true);
}

/* ---- serialization ---- */

static size_t field_bytes(FieldType t) {
        return t == FIELD_F64 || t == FIELD_U64 ? 8 : 4;
}

static size_t payload_size(const FieldDesc *f, size_t n, uint8_t version) {
        size_t s = 0;
        for (size_t i = 0; i < n; i++)
                if (f[i].since <= version)
                        s += field_bytes(f[i].type) * f[i].count;
        return s;
}

static void put_le(uint8_t *out, uint64_t v, size_t bytes) {
        for (size_t i = 0; i < bytes; i++)
                out[i] = (uint8_t) (v >> (8 * i));
}

static uint64_t get_le(const uint8_t *in, size_t bytes) {
        uint64_t v = 0;
        for (size_t i = 0; i < bytes; i++)
                v |= (uint64_t) in[i] << (8 * i);
        return v;
}

static uint64_t load_field(const void *src, FieldType t) {
        uint64_t v64;
        uint32_t v32;
        if (field_bytes(t) == 8) {
                memcpy(&v64, src, 8);
                return v64;
        }
        memcpy(&v32, src, 4);
        return v32;
}

size_t detector_state_save_version(
        const DetectorParams *p, const void *state, void *buf, size_t buf_size, uint8_t version) {
        FieldDesc f[FIELDS_MAX];
        if (!p->derived.prepared || version < STATE_VERSION_MIN || version > STATE_VERSION)
                return 0;
        size_t n = kinds[p->type]->describe(p, f);
        size_t plen = payload_size(f, n, version), total = STATE_HEADER_SIZE + plen;
        if (buf_size < total)
                return total;

        uint8_t *out = buf, *q = out + STATE_HEADER_SIZE;
        const uint8_t *st = state;
        for (size_t i = 0; i < n; i++) {
                if (f[i].since > version)
                        continue;
                size_t b = field_bytes(f[i].type);
                for (size_t j = 0; j < f[i].count; j++) {
                        put_le(q, load_field(st + f[i].offset + j * b, f[i].type), b);
                        q += b;
                }
        }
        memcpy(out, STATE_MAGIC, 3);
        out[3] = version;
        out[4] = (uint8_t) p->type;
        out[5] = out[6] = out[7] = 0;
        put_le(out + 8, p->derived.hash, 8);
        put_le(out + 16, plen, 4);
        put_le(out + 20, (uint32_t) hash_bytes(out + STATE_HEADER_SIZE, plen), 4);
        return total;
}

size_t detector_state_save(const DetectorParams *p, const void *state, void *buf, size_t buf_size) {
        return detector_state_save_version(p, state, buf, buf_size, STATE_VERSION);
}

int detector_state_load(const DetectorParams *p, void *state, const void *buf, size_t size) {
        FieldDesc f[FIELDS_MAX];
        const uint8_t *in = buf;

        if (!p->derived.prepared)
                return -EINVAL;
        if (size < STATE_HEADER_SIZE || memcmp(in, STATE_MAGIC, 3) != 0)
                return -EBADMSG;
        uint8_t version = in[3];
        if (version < STATE_VERSION_MIN || version > STATE_VERSION)
                return -EPROTONOSUPPORT;
        if (in[4] != (uint8_t) p->type || get_le(in + 8, 8) != p->derived.hash)
                return -ESTALE;
        size_t n = kinds[p->type]->describe(p, f);
        size_t plen = payload_size(f, n, version);
        if (get_le(in + 16, 4) != plen || size != STATE_HEADER_SIZE + plen)
                return -EBADMSG;
        if (get_le(in + 20, 4) != (uint32_t) hash_bytes(in + STATE_HEADER_SIZE, plen))
                return -EBADMSG;

        _cleanup_free_ uint8_t *tmp = calloc(1, p->derived.state_size), *fresh = NULL;
        if (!tmp)
                return -ENOMEM;
        if (version < STATE_VERSION) {
                /* The fields the blob's version lacks start as in a new state. */
                fresh = calloc(1, p->derived.state_size);
                if (!fresh)
                        return -ENOMEM;
                kinds[p->type]->init(p, fresh);
        }
        const uint8_t *q = in + STATE_HEADER_SIZE;
        for (size_t i = 0; i < n; i++) {
                size_t b = field_bytes(f[i].type);
                if (f[i].since > version) {
                        memcpy(tmp + f[i].offset, fresh + f[i].offset, b * f[i].count);
                        continue;
                }
                for (size_t j = 0; j < f[i].count; j++) {
                        uint64_t v = get_le(q, b);
                        if (b == 8)
                                memcpy(tmp + f[i].offset + j * 8, &v, 8);
                        else {
                                uint32_t v32 = (uint32_t) v;
                                memcpy(tmp + f[i].offset + j * 4, &v32, 4);
                        }
                        q += b;
                }
        }
        if (version < STATE_VERSION && kinds[p->type]->migrate)
                kinds[p->type]->migrate(p, tmp, version);
        int r = kinds[p->type]->check(p, tmp);
        if (r < 0)
                return r;
        memcpy(state, tmp, p->derived.state_size);
        return 0;
}

static void dump_number(StrBuf *b, double v) {
        char num[FMT_DOUBLE_MAX];
        if (isnan(v))
                strbuf_puts(b, "\"NaN\"");
        else if (isinf(v))
                strbuf_puts(b, v > 0 ? "\"Inf\"" : "\"-Inf\"");
        else
                strbuf_append(b, num, fmt_double(num, v));
}

static void dump_value(StrBuf *b, const uint8_t *src, FieldType t) {
        switch (t) {
        case FIELD_F64: {
                double d;
                memcpy(&d, src, 8);
                dump_number(b, d);
                break;
        }
        case FIELD_F32: {
                float d;
                memcpy(&d, src, 4);
                dump_number(b, d);
                break;
        }
        case FIELD_U64: {
                uint64_t u;
                memcpy(&u, src, 8);
                strbuf_printf(b, "%" PRIu64, u);
                break;
        }
        case FIELD_U32: {
                uint32_t u;
                memcpy(&u, src, 4);
                strbuf_printf(b, "%" PRIu32, u);
                break;
        }
        case FIELD_I32: {
                int32_t i;
                memcpy(&i, src, 4);
                strbuf_printf(b, "%" PRIi32, i);
                break;
        }
        }
}

char *detector_state_dump(const DetectorParams *p, const void *state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        FieldDesc f[FIELDS_MAX];
        const uint8_t *st = state;

        if (!p->derived.prepared)
                return NULL;
        size_t n = kinds[p->type]->describe(p, f);
        strbuf_printf(&b, "{\"kind\":\"%s\",\"state_bytes\":%zu", kinds[p->type]->name, p->derived.state_size);
        for (size_t i = 0; i < n; i++) {
                strbuf_printf(&b, ",\"%s\":", f[i].name);
                size_t fb = field_bytes(f[i].type);
                if (f[i].count == 1)
                        dump_value(&b, st + f[i].offset, f[i].type);
                else {
                        strbuf_putc(&b, '[');
                        for (size_t j = 0; j < f[i].count; j++) {
                                if (j > 0)
                                        strbuf_putc(&b, ',');
                                dump_value(&b, st + f[i].offset + j * fb, f[i].type);
                        }
                        strbuf_putc(&b, ']');
                }
        }
        strbuf_putc(&b, '}');
        if (strbuf_failed(&b))
                return NULL;
        return strbuf_steal(&b);
}
