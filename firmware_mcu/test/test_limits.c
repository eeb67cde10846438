/* Unit tests of limit clamping: range, learned obstacles, speed/accel caps and the hardware ceiling. */
#include "check.h"
#include "config.h"
#include "limits.h"

int main(void)
{
    limits_t l;
    limits_default(&l);
    CHECK(!limits_set(&l, -9000, 9000, 12000, 24000));
    move_request_t r = limits_clamp_move(&l, 12000, 0, 0);
    CHECK(r.target_cdeg == 9000 && r.clamped && r.vmax_cdeg_s == 12000 && r.amax_cdeg_s2 == 24000);
    r = limits_clamp_move(&l, -50000, 5000, 6000);
    CHECK(r.target_cdeg == -9000 && r.clamped && r.vmax_cdeg_s == 5000 && r.amax_cdeg_s2 == 6000);
    r = limits_clamp_move(&l, 100, 60000, 60000);
    CHECK(r.target_cdeg == 100 && r.clamped && r.vmax_cdeg_s == 12000 && r.amax_cdeg_s2 == 24000);
    r = limits_clamp_move(&l, 100, 3000, 3000);
    CHECK(!r.clamped);

    /* The host cannot raise limits past the hardware. */
    CHECK(limits_set(&l, -99999, 99999, 65535, 65535));
    CHECK(l.min_cdeg == HW_MIN_CDEG && l.max_cdeg == HW_MAX_CDEG);
    CHECK(l.vmax_cdeg_s == HW_VMAX_CDEG_S && l.amax_cdeg_s2 == HW_AMAX_CDEG_S2);
    /* A reversed range is mirrored, a zero speed floored. */
    CHECK(limits_set(&l, 5000, -5000, 0, 0));
    CHECK(l.min_cdeg == -5000 && l.max_cdeg == 5000 && l.vmax_cdeg_s == HW_VMIN_CDEG_S);

    /* Learned obstacles narrow the range on their side only. */
    limits_set(&l, -9000, 9000, 9000, 9000);
    l.obstacle_max = 3000;
    CHECK(limits_clamp_move(&l, 8000, 0, 0).target_cdeg == 3000);
    CHECK(limits_clamp_move(&l, -8000, 0, 0).target_cdeg == -8000);
    CHECK(limits_at_edge(&l, 3000) && !limits_at_edge(&l, 2000));
    limits_clear_obstacles(&l);
    CHECK(limits_clamp_move(&l, 8000, 0, 0).target_cdeg == 8000);

    /* Property: whatever is asked, the result lies inside every limit. */
    for (int i = 0; i < 100000; i++) {
        int32_t lo = (int32_t)(rnd() % 40000) - 20000, hi = (int32_t)(rnd() % 40000) - 20000;
        limits_set(&l, lo, hi, (uint16_t)rnd() * 2, (uint16_t)rnd() * 2);
        if (rnd() % 3 == 0) l.obstacle_max = (int32_t)(rnd() % 40000) - 20000;
        if (rnd() % 3 == 0) l.obstacle_min = (int32_t)(rnd() % 40000) - 20000;
        int32_t t = (int32_t)(rnd() * 10) - 160000;
        r = limits_clamp_move(&l, t, (uint16_t)rnd() * 2, (uint16_t)rnd() * 2);
        CHECK(r.target_cdeg >= HW_MIN_CDEG && r.target_cdeg <= HW_MAX_CDEG);
        CHECK(r.target_cdeg >= l.min_cdeg && r.target_cdeg <= l.max_cdeg);
        CHECK(r.vmax_cdeg_s <= l.vmax_cdeg_s && r.vmax_cdeg_s <= HW_VMAX_CDEG_S && r.vmax_cdeg_s > 0);
        CHECK(r.amax_cdeg_s2 <= l.amax_cdeg_s2 && r.amax_cdeg_s2 <= HW_AMAX_CDEG_S2 && r.amax_cdeg_s2 > 0);
        limits_clear_obstacles(&l);
    }
    DONE("limits");
}
