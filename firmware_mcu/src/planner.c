/* Planner: step-by-step trapezoid with |v_next^2 - v^2| <= 2a, v <= vmax and v^2 <= 2a*(distance left). */
#include "planner.h"
#include "config.h"
#include <math.h>

void planner_init(planner_t *p, int32_t pos)
{
    p->pos = pos;
    p->v = 0.0f;
    p->v2 = 0.0f;
    p->target = pos;
    p->vmax = 1.0f;
    p->amax = 1.0f;
    p->carry = 0.0f;
    p->vmax2 = 1.0f;
    p->cruise_ticks = (float)STEP_TIMER_HZ;
    p->brake_steps = 1;
    p->a2 = 2.0f;
}

/* Constants of the cruise fast path: per goal, not per step (float division costs ~500 cycles on AVR). */
static void prepare_cruise(planner_t *p)
{
    p->a2 = 2.0f * p->amax;
    p->vmax2 = p->vmax * p->vmax;
    p->cruise_ticks = (float)STEP_TIMER_HZ / p->vmax;
    p->brake_steps = (int32_t)ceilf(p->vmax2 / (2.0f * p->amax));
}

void planner_set_goal(planner_t *p, int32_t target, float vmax, float amax)
{
    p->target = target;
    p->vmax = vmax;
    p->amax = amax;
    prepare_cruise(p);
}

void planner_stop(planner_t *p, float amax)
{
    float speed = fabsf(p->v);
    if (amax < p->amax) {
        amax = p->amax;     /* never brake more gently than the move was planned for */
    }
    p->amax = amax;
    prepare_cruise(p);
    /* Steps needed to brake: v^2/2a, rounded up so the decel never exceeds amax. */
    int32_t n = (int32_t)ceilf(speed * speed / (2.0f * amax) - 1e-4f);
    if (n < 0) {
        n = 0;
    }
    p->target = p->pos + (p->v > 0 ? n : -n);
}

bool planner_busy(const planner_t *p)
{
    return p->pos != p->target || p->v != 0.0f;
}

bool planner_next(planner_t *p, step_cmd_t *out)
{
    float speed = fabsf(p->v);
    int32_t d = p->target - p->pos;
    if (d == 0 && speed == 0.0f) {
        return false;
    }
    int8_t s = speed > 0.0f ? (p->v > 0 ? 1 : -1) : (d > 0 ? 1 : -1);
    int32_t rem = d * s;                 /* steps left along the present direction */
    if (rem > 0 && p->v2 == p->vmax2 && rem - 1 >= p->brake_steps) {
        /* Cruise: same speed as the last step and far from the braking point; no float division. */
        float t = p->cruise_ticks + p->carry;
        uint32_t ticks = (uint32_t)(t + 0.5f);
        p->carry = t - (float)ticks;
        p->pos += s;
        out->ticks = ticks;
        out->dir = s;
        return true;
    }
    float a2 = p->a2;
    float v2 = p->v2;
    float brake2 = v2 - a2;              /* slowest allowed after one step */
    float vn2;
    if (rem <= 0) {
        vn2 = brake2;                    /* going the wrong way or past the goal: brake, then turn */
    } else {
        vn2 = v2 + a2;
        if (vn2 > p->vmax2) {
            vn2 = p->vmax2;
        }
        /* Far from the goal (more steps left than braking from vmax needs) the braking cap cannot
         * bind: skip its multiplication. */
        if (rem - 1 < p->brake_steps || v2 > p->vmax2) {
            float stop = a2 * (float)(rem - 1);
            if (vn2 > stop) {
                vn2 = stop;
            }
        }
        /* Cannot brake harder than amax, even if that overshoots; float rounding of a few ulps
         * (far below 0.1 % of the acceleration) is not a reason to overshoot a step. */
        if (vn2 < brake2 - a2 * 1e-3f) {
            vn2 = brake2;
        }
    }
    if (vn2 < 0.0f) {
        vn2 = 0.0f;
    }
    float vn = (vn2 == v2) ? speed : sqrtf(vn2);
    float t;
    if (speed + vn > 0.0f) {
        t = (2.0f * (float)STEP_TIMER_HZ) / (speed + vn);   /* uniform acceleration over one step */
    } else {
        /* A single step from rest: accelerate half a step, brake half a step. */
        t = (2.0f * (float)STEP_TIMER_HZ) / sqrtf(p->amax);
        float slow = (2.0f * (float)STEP_TIMER_HZ) / p->vmax;
        if (slow > t) {
            t = slow;
        }
    }
    t += p->carry;
    uint32_t ticks = (uint32_t)(t + 0.5f);
    p->carry = t - (float)ticks;
    if (ticks < STEP_MIN_TICKS) {
        ticks = STEP_MIN_TICKS;
        p->carry = 0.0f;
    }
    p->pos += s;
    p->v = s > 0 ? vn : -vn;
    p->v2 = vn2;
    if (vn == 0.0f) {
        p->carry = 0.0f;                 /* at rest the next move starts its own clock */
    }
    out->ticks = ticks;
    out->dir = s;
    return true;
}
