/* Unit tests of the health window: err statistics, stall margin, steps, DIAG time, settling, backlash, reports. */
#include "check.h"
#include "config.h"
#include "health.h"
#include "protocol.h"
#include <stdint.h>

typedef struct {
    int16_t mean, lo, hi;
    uint16_t margin;
    int16_t steps;
    uint16_t diag, settle;
    int16_t backlash;
} report_t;

static report_t report(void)
{
    uint8_t p[HEALTH_LEN];
    health_report(p);
    report_t r = {(int16_t)get_u16(p), (int16_t)get_u16(p + 2), (int16_t)get_u16(p + 4), get_u16(p + 6),
                  (int16_t)get_u16(p + 8), get_u16(p + 10), get_u16(p + 12), (int16_t)get_u16(p + 14)};
    return r;
}

static uint32_t now;

/* One millisecond: commanded position in steps, measured angle in cdeg. */
static void tick(int32_t pos, bool moving, bool diag, int32_t meas)
{
    health_tick(++now, pos, moving, diag, true, meas);
}

static void test_reports_mask(void)
{
    health_init();
    CHECK(!health_reports_on());                              /* off after reset: the old protocol */
    CHECK(health_set_reports(REPORT_HEALTH) == ACK_OK && health_reports_on());
    CHECK(health_set_reports(0x03) == ACK_CLAMPED && health_reports_on());   /* unknown bit ignored */
    CHECK(health_set_reports(0x80) == ACK_CLAMPED && !health_reports_on());
    CHECK(health_set_reports(0) == ACK_OK && !health_reports_on());
}

static void test_window_statistics(void)
{
    health_init();
    report_t r = report();
    CHECK(r.mean == 0 && r.margin == 0 && r.settle == HEALTH_NONE_U16 && r.backlash == HEALTH_NONE_I16);
    /* 20 samples, err = -10 .. +9 cdeg: mean -0.5 rounds away from zero to -1. */
    for (int i = 0; i < 20; i++) {
        tick(100, false, i < 3, 500 + (i - 10));
    }
    r = report();
    CHECK_MSG(r.mean == -1 && r.lo == -10 && r.hi == 9, "mean %d lo %d hi %d", r.mean, r.lo, r.hi);
    CHECK(r.margin == STALL_ERROR_CDEG - 10 && r.diag == 3 && r.steps == 0);
    /* The window restarts at each report. */
    tick(100, false, false, 480);
    r = report();
    CHECK(r.mean == -20 && r.lo == -20 && r.hi == -20 && r.diag == 0);
    /* Sub-count resolution: readings one count apart average to a fraction of a count. */
    for (int i = 0; i < 20; i++) {
        tick(100, false, false, i < 5 ? 535 : 500);
    }
    CHECK(report().mean == 9);                                /* 5 x 35 / 20 = 8.75 */
    /* At or past the stall threshold the margin is 0, never negative. */
    tick(100, true, false, 500 - STALL_ERROR_CDEG - 40);
    CHECK(report().margin == 0);
    /* No reading in the window: err fields and margin 0. */
    health_tick(++now, 100, false, false, false, 0);
    r = report();
    CHECK(r.mean == 0 && r.lo == 0 && r.hi == 0 && r.margin == 0);
}

static void test_steps_and_resync(void)
{
    health_init();
    tick(0, false, false, 0);
    report();
    for (int i = 1; i <= 20; i++) {
        tick(i * 2, true, false, i * 2 * CDEG_PER_STEP);
    }
    CHECK(report().steps == 40);
    health_resync(-500);                                      /* a stall re-synced to the sensor */
    tick(-503, true, false, -503 * CDEG_PER_STEP);
    CHECK(report().steps == -3);
}

static void test_settling(void)
{
    health_init();
    for (int i = 0; i < 10; i++) {
        tick(i, true, false, i * CDEG_PER_STEP);
    }
    /* Stopped; the table creeps 3 counts on over 30 ms, then stays (one-count flicker allowed). */
    for (int i = 0; i < 300; i++) {
        int32_t meas = 45 + (i < 30 ? (i / 10) * 36 : 108) + (i % 2 ? 35 : 0);
        tick(9, false, false, meas);
    }
    report_t r = report();
    CHECK_MSG(r.settle >= 18 && r.settle <= 31, "settle %u", r.settle);
    /* A move that starts before the next one settles leaves the older figure. */
    tick(20, true, false, 100);
    tick(20, false, false, 100);
    tick(20, false, false, 400);
    tick(30, true, false, 500);
    CHECK(report().settle == r.settle);
    /* A reading that never quiets down reports 1000 ms. */
    health_init();
    tick(1, true, false, 0);
    for (int i = 0; i < 1200; i++) {
        tick(1, false, false, (i % 2) * 100);
    }
    CHECK(report().settle == 1000);
}

static void test_backlash(void)
{
    health_init();
    int32_t pos = 0;
    for (int i = 0; i < 100; i++) {                           /* forward, the sensor follows */
        pos += 2;
        tick(pos, true, false, pos * CDEG_PER_STEP - 20);
    }
    CHECK(report().backlash == HEALTH_NONE_I16);              /* no reversal yet */
    int32_t top = pos, meas_top = pos * CDEG_PER_STEP - 20;
    /* Back: a 1-degree dead band, then the table follows. */
    for (int i = 0; i < 60; i++) {
        pos -= 1;
        int32_t travel = (top - pos) * CDEG_PER_STEP;
        int32_t meas = travel <= 100 ? meas_top : meas_top - (travel - 100);
        tick(pos, true, false, meas - (meas % 35));          /* quantised to whole counts */
    }
    report_t r = report();
    CHECK_MSG(r.backlash >= 100 && r.backlash <= 100 + 2 * 35, "backlash %d", r.backlash);
    /* A resync in the middle of a reversal voids it. */
    pos += 1;
    tick(pos, true, false, 0);
    health_resync(pos);
    for (int i = 0; i < 30; i++) {
        pos += 1;
        tick(pos, true, false, pos * CDEG_PER_STEP);
    }
    CHECK(report().backlash == r.backlash);
}

int main(void)
{
    test_reports_mask();
    test_window_statistics();
    test_steps_and_resync();
    test_settling();
    test_backlash();
    DONE("health");
}
