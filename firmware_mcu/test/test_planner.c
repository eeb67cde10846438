/* Unit tests of the planner: no profile exceeds its speed or acceleration and every move ends exactly on target. */
#include "check.h"
#include "config.h"
#include "planner.h"
#include <math.h>
#include <stdbool.h>

typedef struct { long steps; double time_s; float peak_v; bool switched; } run_result_t;

/* Run the planner until rest, checking each step; goals may change at step `switch_at`. */
static run_result_t run(planner_t *p, int32_t target, float vmax, float amax,
                        long switch_at, int32_t target2, float vmax2, float amax2)
{
    run_result_t r = {0, 0.0, 0.0f, false};
    planner_set_goal(p, target, vmax, amax);
    step_cmd_t c;
    double ideal = 0.0, ticks_sum = 0.0;
    float cur_vmax = vmax, cur_amax = amax;
    bool slowing = false;   /* after a lower vmax, speed may exceed it while braking at amax */
    while (true) {
        if (r.steps == switch_at) {
            r.switched = true;
            slowing = vmax2 < cur_vmax;
            planner_set_goal(p, target2, vmax2, amax2);
            cur_vmax = vmax2;
            cur_amax = amax2;
        }
        float v_before = fabsf(p->v), v2_before = p->v2;
        int32_t pos_before = p->pos;
        if (!planner_next(p, &c)) break;
        float v_after = fabsf(p->v);
        CHECK(c.dir == 1 || c.dir == -1);
        CHECK(p->pos == pos_before + c.dir);
        CHECK(c.ticks >= STEP_MIN_TICKS);
        /* Acceleration over the step: |v1^2 - v0^2| / 2 per unit distance must not exceed amax. */
        float dv2 = fabsf(p->v2 - v2_before) / 2.0f;
        CHECK_MSG(dv2 <= cur_amax * 1.0011f, "accel %.3f > %.3f at step %ld", dv2, cur_amax, r.steps);
        if (!slowing || v_after <= cur_vmax) {
            slowing = false;
            CHECK_MSG(v_after <= cur_vmax * 1.0001f, "speed %.3f > %.3f", v_after, cur_vmax);
        }
        if (v_after > r.peak_v) r.peak_v = v_after;
        /* The rounded tick stream tracks the exact time to within a tick. */
        if (v_before + v_after > 0) ideal += 2.0 / (v_before + v_after) * STEP_TIMER_HZ;
        else ideal += c.ticks;
        ticks_sum += c.ticks;
        CHECK_MSG(fabs(ideal - ticks_sum) <= 1.0 + ideal * 2e-6, "drift %.3f ticks", ideal - ticks_sum);
        r.steps++;
        CHECK(r.steps < 10000000);
    }
    r.time_s = ticks_sum / STEP_TIMER_HZ;
    CHECK(p->v == 0.0f);
    return r;
}

int main(void)
{
    planner_t p;
    /* 90 degrees at the hardware limits: 1800 steps, 3600 steps/s, 7200 steps/s^2 -> 1.0 s minimum. */
    planner_init(&p, 0);
    run_result_t r = run(&p, 1800, 3600.0f, 7200.0f, -1, 0, 0, 0);
    CHECK(p.pos == 1800 && r.steps == 1800);
    CHECK_MSG(fabs(r.time_s - 1.0) < 0.002, "90 deg took %.4f s", r.time_s);
    CHECK(r.peak_v <= 3600.0f * 1.0001f && r.peak_v > 3500.0f);

    /* Short moves never reach vmax (triangular profile) and still stop exactly. */
    for (int32_t d = 1; d < 60; d++) {
        planner_init(&p, 100);
        run(&p, 100 - d, 3600.0f, 7200.0f, -1, 0, 0, 0);
        CHECK(p.pos == 100 - d);
    }

    /* Stop mid-move brakes within amax and ends at rest. */
    planner_init(&p, 0);
    planner_set_goal(&p, 5000, 3000.0f, 4000.0f);
    step_cmd_t c;
    for (int i = 0; i < 900; i++) planner_next(&p, &c);
    float v0 = p.v;
    planner_stop(&p, 4000.0f);
    int32_t stop_at = p.target;
    CHECK(stop_at > p.pos && stop_at < 5000);
    CHECK(fabsf((float)(stop_at - p.pos) - v0 * v0 / 8000.0f) <= 1.0f);
    run(&p, stop_at, 3000.0f, 4000.0f, -1, 0, 0, 0);
    CHECK(p.pos == stop_at);

    /* Random moves with random retargets mid-move (including reversals and lower speeds). */
    for (int trial = 0; trial < 3000; trial++) {
        planner_init(&p, (int32_t)(rnd() % 7200) - 3600);
        int32_t t1 = (int32_t)(rnd() % 7200) - 3600, t2 = (int32_t)(rnd() % 7200) - 3600;
        float v1 = 20.0f + (float)(rnd() % 3580), a1 = 100.0f + (float)(rnd() % 7100);
        float v2 = 20.0f + (float)(rnd() % 3580), a2 = a1;     /* accel stays: only goal and speed change */
        long sw = (rnd() % 2) ? (long)(rnd() % 400) : -1;
        r = run(&p, t1, v1, a1, sw, t2, v2, a2);
        CHECK_MSG(p.pos == (r.switched ? t2 : t1), "ended at %ld", (long)p.pos);
    }
    DONE("planner");
}
