/* Range-of-motion, speed and acceleration limits: pure clamping functions shared by firmware and tests. */
#ifndef SWIVEL_LIMITS_H
#define SWIVEL_LIMITS_H
#include <stdbool.h>
#include <stdint.h>
#include "config.h"

typedef struct {
    int32_t min_cdeg;       /* soft range of motion set by the host (within the hardware range) */
    int32_t max_cdeg;
    int32_t obstacle_min;   /* learned from stalls: do not push past these again until cleared */
    int32_t obstacle_max;
    uint16_t vmax_cdeg_s;
    uint16_t amax_cdeg_s2;
} limits_t;

typedef struct {
    int32_t target_cdeg;
    uint16_t vmax_cdeg_s;
    uint16_t amax_cdeg_s2;
    bool clamped;           /* something the host asked for was limited */
} move_request_t;

/* What every limits_t the firmware uses satisfies (ACSL, proved with Frama-C WP: firmware_mcu/proofs). */
/*@ predicate valid_limits(limits_t *l) =
        HW_MIN_CDEG <= l->min_cdeg <= l->max_cdeg <= HW_MAX_CDEG &&
        HW_VMIN_CDEG_S <= l->vmax_cdeg_s <= HW_VMAX_CDEG_S &&
        HW_AMIN_CDEG_S2 <= l->amax_cdeg_s2 <= HW_AMAX_CDEG_S2;
*/

void limits_default(limits_t *l);
/* Store new host limits, each clamped to the hardware's; returns true if any was clamped. */
bool limits_set(limits_t *l, int32_t min_cdeg, int32_t max_cdeg, uint16_t vmax, uint16_t amax);
/* Clamp a requested move to the range, the learned obstacles and the speed/accel limits.
 * vmax/amax of 0 mean "as fast as the limits allow". */
move_request_t limits_clamp_move(const limits_t *l, int32_t target_cdeg, uint16_t vmax, uint16_t amax);
/* True when pos is at or beyond either edge of the allowed range. */
bool limits_at_edge(const limits_t *l, int32_t pos_cdeg);
void limits_clear_obstacles(limits_t *l);

#endif
