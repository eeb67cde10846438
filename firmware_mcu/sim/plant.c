/* Plant model: a stepper through a compliant belt to a turntable with inertia and friction; faults; obstacles. */
#include "plant.h"
#include <math.h>

/* The healthy drive train. Loads are fractions of the motor's holding torque.
 * - WINDUP_DEG: belt stretch plus rotor lag at the holding torque; the table lags the rotor by
 *   load x WINDUP_DEG (under 0.1 degree when healthy: below one sensor count).
 * - INERTIA: load per deg/s^2 of table acceleration (5 % of the holding torque at 360 deg/s^2).
 * - DRAG: the bearing's running friction. Together: a 13.5 Hz, critically damped drive train. */
#define WINDUP_DEG 1.0
#define INERTIA (0.05 / 360.0)
#define DRAG 0.05       /* >= the inertial load of braking at 360 deg/s^2: the table never coasts ahead */
#define DAMPING (2.0 * 1.0 * 0.011785)   /* 2 zeta sqrt(J / WINDUP_DEG), zeta = 1 */
#define DT_S 50e-6                       /* integration step */
#define SLIP_REF_LOAD 0.05               /* belt_slip severity is the travel lost at this load */
#define DIAG_LOST_STEPS 8   /* StallGuard needs a few lost steps before it flags */
#define DEFAULT_FRICTION_WIDTH 90.0
#define DEFAULT_SNAG_WIDTH 6.0

void plant_init(plant_t *p, double deg_per_step)
{
    p->table_deg = 0.0;
    p->table_vel = 0.0;
    p->drive_deg = 0.0;
    p->last_stretch = 0.0;
    p->dyn_s = 0.0;
    p->deg_per_step = deg_per_step;
    p->sensor_offset_deg = 0.0;
    p->noise_now_deg = 0.0;
    p->rng = 0x9E3779B97F4A7C15ull;
    p->motor_steps = 0;
    p->lost_steps = 0;
    p->lost_run = 0;
    p->n_obstacles = 0;
    p->push_rate = 0.0;
    p->push_until_s = 0.0;
    p->last_s = 0.0;
    p->last_step_s = -1.0;
    p->diag_enabled = true;
    p->enabled = false;
    plant_clear_faults(p);
}

static double wrap180(double d)
{
    d = fmod(d + 180.0, 360.0);
    return d < 0.0 ? d + 180.0 : d - 180.0;
}

/* Raised cosine: 1 at the centre, 0 beyond half the width on either side. */
static double bump(double at_deg, double centre_deg, double width_deg)
{
    double d = wrap180(at_deg - centre_deg);
    double half = width_deg / 2.0;
    return fabs(d) >= half ? 0.0 : 0.5 * (1.0 + cos(M_PI * d / half));
}

/* Friction load where the table is now (drag, a stiff bearing, a snag). */
static double friction_load(const plant_t *p)
{
    double f = DRAG;
    const plant_fault_param_t *fr = &p->fault[PLANT_FRICTION];
    if (fr->on) {
        f += fr->severity * (fr->local ? bump(p->table_deg, fr->angle_deg, fr->width_deg) : 1.0);
    }
    const plant_fault_param_t *sn = &p->fault[PLANT_SNAG];
    if (sn->on) {
        f += sn->severity * bump(p->table_deg, sn->angle_deg, sn->width_deg);
    }
    return f;
}

static double backlash_half(const plant_t *p)
{
    return p->fault[PLANT_BACKLASH].on ? p->fault[PLANT_BACKLASH].severity / 2.0 : 0.0;
}

/* Belt stretch beyond the dead band, in degrees (its load is stretch / WINDUP_DEG). */
static double stretch(const plant_t *p)
{
    double x = p->drive_deg - p->table_deg, h = backlash_half(p);
    return x > h ? x - h : (x < -h ? x + h : 0.0);
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

/* An unpowered rotor turns with the belt; a powered one skips when the belt pulls harder than it holds. */
static void relax_drive(plant_t *p)
{
    double x = p->drive_deg - p->table_deg, h = backlash_half(p);
    if (!p->enabled) {
        p->drive_deg = p->table_deg + (x > h ? h : (x < -h ? -h : x));
    } else if (x > h + WINDUP_DEG) {
        p->drive_deg = p->table_deg + h + WINDUP_DEG;
    } else if (x < -h - WINDUP_DEG) {
        p->drive_deg = p->table_deg - h - WINDUP_DEG;
    }
}

static void integrate(plant_t *p, double dt, bool pushed)
{
    double e = stretch(p);
    double de = e - p->last_stretch;
    p->last_stretch = e;
    double before = p->table_deg;
    if (pushed) {
        p->table_vel = p->push_rate;        /* a hand overpowers everything else */
        p->table_deg += p->push_rate * dt;
    } else {
        double drive = e / WINDUP_DEG + DAMPING * de / dt;
        double f = friction_load(p);
        double v = p->table_vel;
        if (v == 0.0 && fabs(drive) <= f) {
            /* held by static friction */
        } else {
            double dir = v != 0.0 ? (v > 0.0 ? 1.0 : -1.0) : (drive > 0.0 ? 1.0 : -1.0);
            double nv = v + (drive - f * dir) / INERTIA * dt;
            if (v != 0.0 && nv * v < 0.0 && fabs(drive) <= f) {
                nv = 0.0;                   /* friction stops it; it does not push it back */
            }
            p->table_vel = nv;
            p->table_deg += nv * dt;
        }
    }
    double at;
    if (blocked(p, before, p->table_deg, &at)) {
        double d = p->table_deg > before ? 1.0 : -1.0;
        p->table_deg = at - d * 1e-9;       /* rest against it on the side we came from */
        p->table_vel = 0.0;
    }
    relax_drive(p);
}

void plant_advance(plant_t *p, double now_s)
{
    /* The drive train and any hand push, in small steps. */
    while (p->dyn_s < now_s) {
        double dt = now_s - p->dyn_s < DT_S ? now_s - p->dyn_s : DT_S;
        bool pushed = p->push_until_s > p->dyn_s;
        if (pushed && p->dyn_s + dt > p->push_until_s) {
            dt = p->push_until_s - p->dyn_s;
        }
        if (dt <= 0.0) {
            p->dyn_s = now_s;
            break;
        }
        integrate(p, dt, pushed);
        p->dyn_s += dt;
        if (pushed && p->dyn_s >= p->push_until_s) {
            p->table_vel = 0.0;             /* the hand stops the table where it lets go */
        }
    }
    if (now_s > p->last_s) {
        p->last_s = now_s;
    }
}

void plant_enable(plant_t *p, bool enabled, double now_s)
{
    plant_advance(p, now_s);
    p->enabled = enabled;
    relax_drive(p);
}

/* The table rests against an obstacle on this side: the contact is rigid, a step into it is lost at once. */
static bool at_obstacle(const plant_t *p, int dir)
{
    double at;
    return blocked(p, p->table_deg, p->table_deg + dir * 1e-6, &at);
}

void plant_step(plant_t *p, int dir, bool enabled, double now_s)
{
    plant_advance(p, now_s);
    if (!enabled) {
        return;     /* TMC2209 ignores STEP while EN is high */
    }
    p->enabled = true;
    p->motor_steps += dir;
    p->last_step_s = now_s;
    double was = p->drive_deg;
    p->drive_deg += dir * p->deg_per_step;
    /* Against an obstacle, or pulling harder than the holding torque: the rotor skips, the step is lost. */
    if (at_obstacle(p, dir) || stretch(p) * dir > WINDUP_DEG) {
        p->drive_deg = was;
        p->lost_steps++;
        p->lost_run++;
        return;
    }
    p->lost_run = 0;
    const plant_fault_param_t *slip = &p->fault[PLANT_BELT_SLIP];
    if (slip->on) {
        /* A worn belt creeps in proportion to the load it carries: travel lost pulling, gained braking. */
        double before = stretch(p);
        double load = before * dir / WINDUP_DEG;
        p->drive_deg -= dir * p->deg_per_step * slip->severity * load / SLIP_REF_LOAD;
        p->last_stretch += stretch(p) - before;   /* creep is not motion the damper resists */
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
        p->table_vel = 0.0;
        relax_drive(p);
        p->last_stretch = stretch(p);
        return;
    }
    p->push_rate = delta_deg / duration_s;
    p->push_until_s = now_s + duration_s;
}

void plant_place(plant_t *p, double world_deg)
{
    p->table_deg = p->drive_deg = world_deg;
    p->table_vel = 0.0;
    p->last_stretch = 0.0;
}

bool plant_set_fault(plant_t *p, plant_fault_t kind, double severity, double angle_deg, double width_deg)
{
    if ((int)kind < 0 || kind >= PLANT_FAULT_KINDS || !isfinite(severity)) {
        return false;
    }
    if (severity < 0.0 && kind != PLANT_SENSOR_OFFSET) {
        return false;               /* only an offset has a sign */
    }
    bool have_angle = isfinite(angle_deg) && angle_deg > -1e8;
    bool have_width = isfinite(width_deg) && width_deg > 0.0;
    if (kind == PLANT_SNAG && !have_angle) {
        return false;               /* a snag is somewhere */
    }
    plant_fault_param_t *f = &p->fault[kind];
    f->on = severity != 0.0;
    f->severity = severity;
    f->local = have_angle;
    f->angle_deg = have_angle ? angle_deg : 0.0;
    f->width_deg = have_width ? width_deg : (kind == PLANT_SNAG ? DEFAULT_SNAG_WIDTH : DEFAULT_FRICTION_WIDTH);
    if (kind == PLANT_SENSOR_NOISE && !f->on) {
        p->noise_now_deg = 0.0;
    }
    return true;
}

void plant_clear_faults(plant_t *p)
{
    for (int k = 0; k < PLANT_FAULT_KINDS; k++) {
        p->fault[k].on = false;
        p->fault[k].severity = 0.0;
    }
    p->noise_now_deg = 0.0;
}

/* xorshift64* and Box-Muller: repeatable Gaussian noise without libc's global state. */
static double uniform01(plant_t *p)
{
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return ((double)((p->rng * 2685821657736338717ull) >> 11) + 0.5) / 9007199254740992.0;
}

void plant_sample_noise(plant_t *p)
{
    const plant_fault_param_t *n = &p->fault[PLANT_SENSOR_NOISE];
    if (!n->on) {
        return;
    }
    double u1 = uniform01(p), u2 = uniform01(p);
    p->noise_now_deg = n->severity * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

unsigned plant_sensor_mv(const plant_t *p, unsigned vdd_mv)
{
    double offset = p->sensor_offset_deg + p->noise_now_deg;
    if (p->fault[PLANT_SENSOR_OFFSET].on) {
        offset += p->fault[PLANT_SENSOR_OFFSET].severity;
    }
    /* Half a count of offset centres the 10-bit reading on the true angle (wrapped with it, so an angle
     * a hair below 0 reads 0, not the top of the turn). */
    double a = fmod(p->table_deg + offset + 180.0 / 1024.0, 360.0);
    if (a < 0.0) {
        a += 360.0;
    }
    return (unsigned)(a / 360.0 * vdd_mv);
}

bool plant_diag(const plant_t *p, double now_s)
{
    return p->diag_enabled && p->lost_run >= DIAG_LOST_STEPS && now_s - p->last_step_s < 0.005;
}
