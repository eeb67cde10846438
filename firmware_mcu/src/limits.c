/* Limit clamping: every target, speed and acceleration passes through here before the planner. */
#include "limits.h"
#include "config.h"

/*@ requires lo <= hi;
    assigns \nothing;
    ensures lo <= \result <= hi;
    ensures lo <= v <= hi ==> \result == v;
    ensures v < lo ==> \result == lo;
    ensures v > hi ==> \result == hi;
*/
static int32_t clamp_i32(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/*@ requires \valid(l);
    assigns l->obstacle_min, l->obstacle_max;
    ensures l->obstacle_min == INT32_MIN && l->obstacle_max == INT32_MAX;
*/
void limits_clear_obstacles(limits_t *l)
{
    l->obstacle_min = INT32_MIN;
    l->obstacle_max = INT32_MAX;
}

/*@ requires \valid(l);
    assigns *l;
    ensures valid_limits(l);
*/
void limits_default(limits_t *l)
{
    l->min_cdeg = HW_MIN_CDEG;
    l->max_cdeg = HW_MAX_CDEG;
    l->vmax_cdeg_s = DEFAULT_VMAX_CDEG_S;
    l->amax_cdeg_s2 = DEFAULT_AMAX_CDEG_S2;
    limits_clear_obstacles(l);
}

/* Whatever the host sends, the limits stay inside the hardware's; learned obstacles are left alone. */
/*@ requires \valid(l);
    assigns l->min_cdeg, l->max_cdeg, l->vmax_cdeg_s, l->amax_cdeg_s2;
    ensures valid_limits(l);
*/
bool limits_set(limits_t *l, int32_t min_cdeg, int32_t max_cdeg, uint16_t vmax, uint16_t amax)
{
    bool clamped = false;
    if (min_cdeg > max_cdeg) {          /* a reversed range is treated as its mirror */
        int32_t t = min_cdeg;
        min_cdeg = max_cdeg;
        max_cdeg = t;
        clamped = true;
    }
    int32_t lo = clamp_i32(min_cdeg, HW_MIN_CDEG, HW_MAX_CDEG);
    int32_t hi = clamp_i32(max_cdeg, HW_MIN_CDEG, HW_MAX_CDEG);
    int32_t v = clamp_i32(vmax, HW_VMIN_CDEG_S, HW_VMAX_CDEG_S);
    int32_t a = clamp_i32(amax, HW_AMIN_CDEG_S2, HW_AMAX_CDEG_S2);
    clamped |= lo != min_cdeg || hi != max_cdeg || v != vmax || a != amax;
    l->min_cdeg = lo;
    l->max_cdeg = hi;
    l->vmax_cdeg_s = (uint16_t)v;
    l->amax_cdeg_s2 = (uint16_t)a;
    return clamped;
}

/* The clamp every move goes through: the target inside the range of motion (and so the hardware's),
 * the learned obstacles respected whenever they lie inside the range, speed and acceleration inside
 * both the host's limits and the hardware's. */
/*@ requires \valid_read(l) && valid_limits(l);
    assigns \nothing;
    ensures l->min_cdeg <= \result.target_cdeg <= l->max_cdeg;
    ensures HW_MIN_CDEG <= \result.target_cdeg <= HW_MAX_CDEG;
    ensures l->min_cdeg <= l->obstacle_min <= l->obstacle_max <= l->max_cdeg ==>
            l->obstacle_min <= \result.target_cdeg <= l->obstacle_max;
    ensures l->min_cdeg <= target_cdeg <= l->max_cdeg && l->obstacle_min <= target_cdeg <= l->obstacle_max ==>
            \result.target_cdeg == target_cdeg;
    ensures HW_VMIN_CDEG_S <= \result.vmax_cdeg_s <= l->vmax_cdeg_s <= HW_VMAX_CDEG_S;
    ensures HW_AMIN_CDEG_S2 <= \result.amax_cdeg_s2 <= l->amax_cdeg_s2 <= HW_AMAX_CDEG_S2;
*/
move_request_t limits_clamp_move(const limits_t *l, int32_t target_cdeg, uint16_t vmax, uint16_t amax)
{
    move_request_t r;
    int32_t olo = l->obstacle_min, ohi = l->obstacle_max;
    if (olo > ohi) {                    /* obstacles on both sides closed in: stay at the lower one */
        ohi = olo;
    }
    /* The range of motion always wins over learned obstacles. */
    r.target_cdeg = clamp_i32(clamp_i32(target_cdeg, olo, ohi), l->min_cdeg, l->max_cdeg);
    r.clamped = r.target_cdeg != target_cdeg;
    if (vmax == 0) {
        vmax = l->vmax_cdeg_s;
    }
    if (amax == 0) {
        amax = l->amax_cdeg_s2;
    }
    r.vmax_cdeg_s = (uint16_t)clamp_i32(vmax, HW_VMIN_CDEG_S, l->vmax_cdeg_s);
    r.amax_cdeg_s2 = (uint16_t)clamp_i32(amax, HW_AMIN_CDEG_S2, l->amax_cdeg_s2);
    r.clamped |= r.vmax_cdeg_s != vmax || r.amax_cdeg_s2 != amax;
    return r;
}

/*@ requires \valid_read(l);
    assigns \nothing;
*/
bool limits_at_edge(const limits_t *l, int32_t pos_cdeg)
{
    int32_t lo = l->min_cdeg > l->obstacle_min ? l->min_cdeg : l->obstacle_min;
    int32_t hi = l->max_cdeg < l->obstacle_max ? l->max_cdeg : l->obstacle_max;
    return pos_cdeg <= lo || pos_cdeg >= hi;
}
