/* Turntable health: what a window of 1 ms samples says about the drive train (PROTOCOL.md, HEALTH). */
#include "health.h"
#include "config.h"
#include "protocol.h"

#define WINDOW_MAX_SAMPLES 250u     /* a window is 20 ms; this only bounds the sum if reports stop coming */
#define SETTLE_QUIET_MS 100u        /* settled = the reading stayed within one count this long */
#define SETTLE_MAX_MS 1000u         /* still moving after this long: report it as this (>= 1 s) */

static uint8_t reports;

/* The window (reset by each report). */
static uint8_t n;
static int32_t err_sum;
static int16_t err_min, err_max;
static uint16_t err_abs_max;
static uint16_t diag_count;
static int32_t steps;

/* Between ticks. */
static bool have_pos;
static int32_t last_pos;
static bool have_meas;
static int32_t last_meas;
static int8_t dir;                  /* direction of the last step: +1, -1, 0 none yet */
static bool was_moving;

/* Settling of the last move. */
static bool settling;
static bool settle_ref_ok;
static uint32_t stop_ms, change_ms;
static int32_t settle_ref;
static uint16_t settle_ms;

/* Backlash at the last reversal. */
static bool rev_pending;
static int32_t rev_pos;
static int32_t rev_meas;
static int16_t backlash_cdeg;

static int16_t clamp_i16(int32_t v)
{
    return v > 32767 ? 32767 : (v < -32767 ? -32767 : (int16_t)v);
}

static void window_reset(void)
{
    n = 0;
    err_sum = 0;
    err_min = 32767;
    err_max = -32767;
    err_abs_max = 0;
    diag_count = 0;
    steps = 0;
}

void health_init(void)
{
    reports = 0;                    /* a host that never asks sees the old protocol */
    window_reset();
    have_pos = have_meas = false;
    dir = 0;
    was_moving = settling = settle_ref_ok = rev_pending = false;
    settle_ms = HEALTH_NONE_U16;
    backlash_cdeg = HEALTH_NONE_I16;
}

uint8_t health_set_reports(uint8_t mask)
{
    reports = mask & REPORT_HEALTH;
    return (mask & (uint8_t)~REPORT_HEALTH) ? ACK_CLAMPED : ACK_OK;
}

bool health_reports_on(void) { return (reports & REPORT_HEALTH) != 0; }

void health_resync(int32_t pos_steps)
{
    last_pos = pos_steps;
    have_pos = true;
    rev_pending = false;
}

static void track_steps(int32_t pos)
{
    if (!have_pos) {
        last_pos = pos;
        have_pos = true;
        return;
    }
    int32_t d = pos - last_pos;
    if (d != 0) {
        int8_t s = d > 0 ? 1 : -1;
        if (dir != 0 && s != dir && have_meas) {
            /* The steps turned round: from here, count commanded travel until the sensor follows. */
            rev_pending = true;
            rev_pos = last_pos;
            rev_meas = last_meas;
        }
        dir = s;
        if (steps > -30000 && steps < 30000) {
            steps += d;
        }
    }
    last_pos = pos;
}

static void track_backlash(int32_t pos, int32_t meas)
{
    if (!rev_pending) {
        return;
    }
    /* One count is 36000/1024 = 35.2 cdeg; sensor_cdeg truncates, so a one-count change reads 35 or 36. */
    if ((meas - rev_meas) * dir >= 35) {
        backlash_cdeg = clamp_i16((pos - rev_pos) * dir * CDEG_PER_STEP);
        rev_pending = false;
    }
}

static void track_settle(uint32_t now_ms, bool moving, bool sample, int32_t meas)
{
    if (moving) {
        settling = false;           /* a new move before the last one settled: keep the older figure */
    } else if (was_moving) {
        settling = true;            /* the last step was within this millisecond */
        settle_ref_ok = false;
        stop_ms = change_ms = now_ms;
    }
    was_moving = moving;
    if (!settling || !sample) {
        return;
    }
    int32_t moved = meas - settle_ref;
    if (!settle_ref_ok || moved > 36 || moved < -36) {
        settle_ref = meas;          /* more than one count from where it was: still moving */
        if (settle_ref_ok) {
            change_ms = now_ms;
        }
        settle_ref_ok = true;
    }
    uint32_t since_stop = now_ms - stop_ms;
    if ((uint32_t)(now_ms - change_ms) >= SETTLE_QUIET_MS) {
        uint32_t s = change_ms - stop_ms;
        settle_ms = (uint16_t)(s > SETTLE_MAX_MS ? SETTLE_MAX_MS : s);
        settling = false;
    } else if (since_stop >= SETTLE_MAX_MS + SETTLE_QUIET_MS) {
        settle_ms = SETTLE_MAX_MS;  /* never quiet (a noisy sensor, a table that keeps creeping) */
        settling = false;
    }
}

void health_tick(uint32_t now_ms, int32_t pos_steps, bool moving, bool diag, bool sample, int32_t meas_cdeg)
{
    if (diag && diag_count < 0xFFFFu) {
        diag_count++;
    }
    track_steps(pos_steps);
    track_settle(now_ms, moving, sample, meas_cdeg);
    if (!sample) {
        return;
    }
    track_backlash(pos_steps, meas_cdeg);
    last_meas = meas_cdeg;
    have_meas = true;
    if (n >= WINDOW_MAX_SAMPLES) {
        return;
    }
    int16_t err = clamp_i16(meas_cdeg - pos_steps * CDEG_PER_STEP);
    n++;
    err_sum += err;
    if (err < err_min) err_min = err;
    if (err > err_max) err_max = err;
    uint16_t a = (uint16_t)(err < 0 ? -err : err);
    if (a > err_abs_max) err_abs_max = a;
}

void health_report(uint8_t *p)
{
    int16_t mean = 0, lo = 0, hi = 0;
    uint16_t margin = 0;
    if (n > 0) {
        /* Rounded to the nearest centidegree: the mean resolves far below one sensor count. */
        int32_t half = (int32_t)(n / 2u);
        mean = clamp_i16((err_sum + (err_sum >= 0 ? half : -half)) / (int32_t)n);
        lo = err_min;
        hi = err_max;
        margin = err_abs_max >= STALL_ERROR_CDEG ? 0 : (uint16_t)(STALL_ERROR_CDEG - err_abs_max);
    }
    put_u16(&p[0], (uint16_t)mean);
    put_u16(&p[2], (uint16_t)lo);
    put_u16(&p[4], (uint16_t)hi);
    put_u16(&p[6], margin);
    put_u16(&p[8], (uint16_t)clamp_i16(steps));
    put_u16(&p[10], diag_count);
    put_u16(&p[12], settle_ms);
    put_u16(&p[14], (uint16_t)backlash_cdeg);
    window_reset();
}
