/* Plant model: a stepper through a belt; obstacles eat steps, a hand overpowers the holding torque. */
#include "plant.h"
#include <math.h>

#define DIAG_LOST_STEPS 8   /* StallGuard needs a few lost steps before it flags */

void plant_init(plant_t *p, double deg_per_step)
{
    p->table_deg = 0.0;
    p->deg_per_step = deg_per_step;
    p->sensor_offset_deg = 0.0;
    p->motor_steps = 0;
    p->lost_steps = 0;
    p->lost_run = 0;
    p->n_obstacles = 0;
    p->push_rate = 0.0;
    p->push_until_s = 0.0;
    p->last_s = 0.0;
    p->last_step_s = -1.0;
    p->diag_enabled = true;
}

/* Would moving from a to b cross (or push into) an obstacle? Returns it through *at. */
static bool blocked(const plant_t *p, double a, double b, double *at)
{
    for (int i = 0; i < p->n_obstacles; i++) {
        double o = p->obstacles[i];
        if ((b > a && a <= o && b > o) || (b < a && a >= o && b < o)) {
            *at = o;
            return true;
        }
    }
    return false;
}

void plant_step(plant_t *p, int dir, bool enabled, double now_s)
{
    plant_advance(p, now_s);
    if (!enabled) {
        return;     /* TMC2209 ignores STEP while EN is high */
    }
    p->motor_steps += dir;
    p->last_step_s = now_s;
    double next = p->table_deg + dir * p->deg_per_step;
    double at;
    if (blocked(p, p->table_deg, next, &at)) {
        /* Rest against the obstacle on the side we came from, so moving away is free. */
        p->table_deg = at - dir * 1e-9;
        p->lost_steps++;
        p->lost_run++;
    } else {
        p->table_deg = next;
        p->lost_run = 0;
    }
}

void plant_advance(plant_t *p, double now_s)
{
    if (now_s > p->last_s && p->push_until_s > p->last_s) {
        double end = now_s < p->push_until_s ? now_s : p->push_until_s;
        p->table_deg += p->push_rate * (end - p->last_s);
    }
    if (now_s > p->last_s) {
        p->last_s = now_s;
    }
}

bool plant_add_obstacle(plant_t *p, double world_deg)
{
    if (p->n_obstacles >= PLANT_MAX_OBSTACLES) {
        return false;
    }
    p->obstacles[p->n_obstacles++] = world_deg;
    return true;
}

void plant_clear_obstacles(plant_t *p)
{
    p->n_obstacles = 0;
    p->lost_run = 0;
}

void plant_hand_push(plant_t *p, double delta_deg, double duration_s, double now_s)
{
    plant_advance(p, now_s);
    if (duration_s <= 0.0) {
        p->table_deg += delta_deg;
        return;
    }
    p->push_rate = delta_deg / duration_s;
    p->push_until_s = now_s + duration_s;
}

unsigned plant_sensor_mv(const plant_t *p, unsigned vdd_mv)
{
    double a = fmod(p->table_deg + p->sensor_offset_deg, 360.0);
    if (a < 0.0) {
        a += 360.0;
    }
    /* Half a count of offset centres the 10-bit reading on the true angle. */
    return (unsigned)((a + 180.0 / 1024.0) / 360.0 * vdd_mv);
}

bool plant_diag(const plant_t *p, double now_s)
{
    return p->diag_enabled && p->lost_run >= DIAG_LOST_STEPS && now_s - p->last_step_s < 0.005;
}
