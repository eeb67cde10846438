/* Trapezoidal motion planner: turns (target, vmax, amax) into exact per-step intervals for the step ISR. */
#ifndef SWIVEL_PLANNER_H
#define SWIVEL_PLANNER_H
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint32_t ticks;     /* timer ticks from the previous step (or from start) to this step */
    int8_t dir;         /* +1 or -1 */
} step_cmd_t;

typedef struct {
    int32_t pos;        /* position (steps) after the last planned step */
    float v;            /* signed speed (steps/s) at that step */
    float v2;           /* its square, kept exactly as planned (no sqrt round trip) */
    int32_t target;
    float vmax;         /* steps/s */
    float amax;         /* steps/s^2 */
    float carry;        /* rounding remainder (ticks) so step times never drift */
    float vmax2;        /* vmax^2, exactly as the step loop computes it */
    float cruise_ticks; /* interval at vmax */
    int32_t brake_steps; /* steps needed to stop from vmax, rounded up */
    float a2;           /* 2 * amax */
} planner_t;

void planner_init(planner_t *p, int32_t pos);
/* New goal; may arrive mid-move: the profile continues from the current speed without a jump. */
void planner_set_goal(planner_t *p, int32_t target, float vmax, float amax);
/* Controlled stop: decelerate at amax to rest as soon as possible. */
void planner_stop(planner_t *p, float amax);
bool planner_busy(const planner_t *p);
/* Plan one more step; returns false when at rest on target. */
bool planner_next(planner_t *p, step_cmd_t *out);

#endif
