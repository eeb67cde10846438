/* Motion supervisor: every command and safety reaction that changes where the turntable goes. */
#include "motion.h"
#include "config.h"
#include "hal.h"
#include "health.h"
#include "planner.h"
#include "protocol.h"
#include "sensor.h"
#include "stepper.h"

static planner_t planner;
static limits_t limits;
static sensor_t sensor;
static motion_counters_t counters;

static bool enabled;            /* driver energised */
static bool hold_wanted;        /* re-energise after a hand turn */
static bool release_at_rest;    /* RELEASE: de-energise once stopped */
static bool stalled;
static bool manual;
static bool host_timeout;
static bool homed;
static bool clamped;
static uint8_t fault;
static uint32_t last_host_ms;
static uint32_t still_since_ms;
static int32_t still_ref_cdeg;
static uint8_t diag_ms;
static bool synced;             /* commanded position taken from the sensor at boot */
static uint8_t glitch_run;      /* consecutive implausible sensor readings */

static int32_t cdeg_to_steps(int32_t cdeg)
{
    return (cdeg + (cdeg >= 0 ? CDEG_PER_STEP / 2 : -(CDEG_PER_STEP / 2))) / CDEG_PER_STEP;
}

static float cdeg_to_steps_f(uint16_t cdeg) { return (float)cdeg / (float)CDEG_PER_STEP; }

static void set_enabled(bool on)
{
    enabled = on;
    hal_driver_enable(on);
}

/* Make the commanded position equal the measured one (after lost steps or a hand turn). */
static void sync_to_sensor(void)
{
    int32_t steps = cdeg_to_steps(sensor_cdeg(&sensor));
    stepper_set_position(steps);
    planner_init(&planner, steps);
    health_resync(steps);
}

void motion_init(uint16_t zero_counts, bool is_homed, bool after_watchdog)
{
    limits_default(&limits);
    sensor_init(&sensor, zero_counts);
    health_init();
    stepper_init(0);
    planner_init(&planner, 0);
    homed = is_homed;
    enabled = hold_wanted = release_at_rest = false;
    stalled = manual = host_timeout = clamped = false;
    fault = after_watchdog ? FAULT_WATCHDOG : FAULT_NONE;
    last_host_ms = 0;
    diag_ms = 0;
    synced = false;
    hal_driver_enable(false);
}

bool motion_moving(void) { return stepper_running() || planner_busy(&planner); }
bool motion_fault(void) { return fault != FAULT_NONE; }
const limits_t *motion_limits(void) { return &limits; }
const motion_counters_t *motion_counters(void) { return &counters; }

uint8_t motion_move(int32_t target_cdeg, uint16_t vmax, uint16_t amax)
{
    if (fault == FAULT_SENSOR) {
        return ACK_REJECTED;        /* blind: no moves until the sensor reads sanely and the host clears it */
    }
    move_request_t r = limits_clamp_move(&limits, target_cdeg, vmax, amax);
    if (manual) {
        manual = false;             /* the host takes over again from where the hand left it */
        sync_to_sensor();
    }
    if (stalled) {
        stalled = false;            /* a new goal clears the stall; the learned obstacle limit stays */
        if (fault == FAULT_STALL_SENSOR || fault == FAULT_STALL_DIAG) {
            fault = FAULT_NONE;
        }
    }
    hold_wanted = true;
    release_at_rest = false;
    host_timeout = false;
    clamped = r.clamped;
    set_enabled(true);
    planner_set_goal(&planner, cdeg_to_steps(r.target_cdeg), cdeg_to_steps_f(r.vmax_cdeg_s),
                     cdeg_to_steps_f(r.amax_cdeg_s2));
    return r.clamped ? ACK_CLAMPED : ACK_OK;
}

uint8_t motion_stop(void)
{
    planner_stop(&planner, planner.amax);
    return ACK_OK;
}

uint8_t motion_hold(void)
{
    planner_stop(&planner, planner.amax);
    hold_wanted = true;
    release_at_rest = false;
    if (manual) {
        manual = false;
        sync_to_sensor();
    }
    set_enabled(true);
    return ACK_OK;
}

uint8_t motion_release(void)
{
    planner_stop(&planner, planner.amax);
    hold_wanted = false;
    release_at_rest = true;
    return ACK_OK;
}

uint8_t motion_set_limits(int32_t min_cdeg, int32_t max_cdeg, uint16_t vmax, uint16_t amax)
{
    bool c = limits_set(&limits, min_cdeg, max_cdeg, vmax, amax);
    /* A running move is re-clamped at once so a narrowed range holds immediately. */
    if (planner_busy(&planner)) {
        move_request_t r = limits_clamp_move(&limits, planner.target * CDEG_PER_STEP, 0, 0);
        float a = cdeg_to_steps_f(r.amax_cdeg_s2);
        planner_set_goal(&planner, cdeg_to_steps(r.target_cdeg), cdeg_to_steps_f(r.vmax_cdeg_s),
                         a > planner.amax ? planner.amax : a);
    }
    return c ? ACK_CLAMPED : ACK_OK;
}

uint8_t motion_set_zero(uint16_t *zero_out)
{
    if (motion_moving() || !sensor.primed) {
        return ACK_REJECTED;
    }
    sensor_set_zero(&sensor);
    *zero_out = sensor.zero;
    sync_to_sensor();
    homed = true;
    return ACK_OK;
}

uint8_t motion_home(void)
{
    if (motion_moving() || !sensor.primed) {
        return ACK_REJECTED;
    }
    sensor_rehome(&sensor);
    sync_to_sensor();
    homed = true;
    return ACK_OK;
}

uint8_t motion_clear_fault(void)
{
    if (glitch_run >= 20) {
        return ACK_REJECTED;        /* the sensor is still unreadable */
    }
    stalled = false;
    fault = FAULT_NONE;
    limits_clear_obstacles(&limits);
    return ACK_OK;
}

void motion_host_seen(uint32_t now_ms)
{
    last_host_ms = now_ms;
    host_timeout = false;
}

bool motion_fill(void)
{
    bool planned = false;
    step_cmd_t cmd;
    if (!stepper_running() && planner.v != 0.0f) {
        counters.step_underruns++;      /* planned speed but no step timed: a late step is coming */
    }
    /* A few steps per call: if the planner cannot keep up with the requested rate, steps come late
     * (the queue runs dry) but serial, supervision and the watchdog keep being served. */
    for (uint8_t n = 0; n < 4 && stepper_wants_more() && planner_next(&planner, &cmd); n++) {
        stepper_push(&cmd);
        planned = true;
    }
    return planned;
}

/* Lost steps or StallGuard: stop dead (braking into an obstacle is pointless), remember where. */
static void on_stall(uint8_t reason, int32_t meas_cdeg)
{
    float v = stepper_running() ? stepper_speed() : planner.v;
    stepper_flush();
    if (v > 0) {
        limits.obstacle_max = meas_cdeg - OBSTACLE_BACKOFF_CDEG;
    } else if (v < 0) {
        limits.obstacle_min = meas_cdeg + OBSTACLE_BACKOFF_CDEG;
    }
    sync_to_sensor();
    stalled = true;
    fault = reason;
    counters.stalls++;
}

static void supervise_manual(uint32_t now_ms, int32_t meas_cdeg, int32_t cmd_cdeg)
{
    int32_t err = meas_cdeg - cmd_cdeg;
    if (!manual) {
        if (err > MANUAL_ERROR_CDEG || err < -MANUAL_ERROR_CDEG) {
            manual = true;              /* someone is turning it: let go rather than fight the hand */
            counters.manual_turns++;
            set_enabled(false);
            still_since_ms = now_ms;
            still_ref_cdeg = meas_cdeg;
        } else {
            return;
        }
    }
    sync_to_sensor();
    int32_t moved = meas_cdeg - still_ref_cdeg;
    if (moved > MANUAL_STILL_CDEG || moved < -MANUAL_STILL_CDEG) {
        still_ref_cdeg = meas_cdeg;
        still_since_ms = now_ms;
    } else if ((uint32_t)(now_ms - still_since_ms) >= MANUAL_STILL_MS) {
        manual = false;                 /* hand gone: hold the new position if we were holding */
        if (hold_wanted) {
            set_enabled(true);
        }
    }
}

void motion_tick(uint32_t now_ms, bool have_raw, uint16_t raw, bool diag)
{
    bool moving = motion_moving();
    if (have_raw && !sensor_update(&sensor, raw)) {
        counters.sensor_glitches++;
        have_raw = false;
        /* One wild reading is noise; 20 ms of them is a missing magnet or a broken wire. Without the
         * sensor there is no stall detection, so brake and report rather than keep going blind. */
        if (++glitch_run >= 20 && fault != FAULT_SENSOR) {
            fault = FAULT_SENSOR;
            if (moving) {
                planner_stop(&planner, planner.amax);
            }
        }
    } else if (have_raw) {
        glitch_run = 0;
    }

    if ((uint32_t)(now_ms - last_host_ms) > HOST_TIMEOUT_MS && !host_timeout) {
        host_timeout = true;            /* the Pi went quiet: brake to rest with the move's decel */
        counters.host_timeouts++;
        if (moving) {
            planner_stop(&planner, planner.amax);
        }
    }

    diag_ms = (diag && moving && enabled) ? (uint8_t)(diag_ms < 255 ? diag_ms + 1 : 255) : 0;

    /* Health sees the same sample the stall check below judges (PROTOCOL.md, HEALTH). */
    bool sample = have_raw && sensor.primed && synced;
    health_tick(now_ms, stepper_position(), moving, diag, sample, sample ? sensor_cdeg(&sensor) : 0);

    if (!have_raw || !sensor.primed) {
        return;
    }
    if (!synced) {
        sync_to_sensor();           /* boot: the absolute sensor says where we are */
        synced = true;
        return;
    }
    int32_t meas = sensor_cdeg(&sensor);
    int32_t cmd = stepper_position() * CDEG_PER_STEP;
    if (moving && enabled) {
        int32_t err = cmd - meas;
        if (err > STALL_ERROR_CDEG || err < -STALL_ERROR_CDEG) {
            on_stall(FAULT_STALL_SENSOR, meas);
        } else if (diag_ms >= DIAG_DEBOUNCE_MS) {
            on_stall(FAULT_STALL_DIAG, meas);
        }
    } else if (!moving) {
        supervise_manual(now_ms, meas, cmd);
        if (release_at_rest && enabled) {
            set_enabled(false);
            release_at_rest = false;
        }
    }
}

void motion_telemetry(uint8_t *p, uint8_t last_seq, uint32_t now_ms)
{
    int32_t pos = stepper_position() * CDEG_PER_STEP;
    uint16_t flags = 0;
    if (motion_moving()) flags |= FLAG_MOVING;
    if (stalled) flags |= FLAG_STALLED;
    if (manual) flags |= FLAG_MANUAL;
    if (limits_at_edge(&limits, pos)) flags |= FLAG_AT_LIMIT;
    if (fault != FAULT_NONE) flags |= FLAG_FAULT;
    if (host_timeout) flags |= FLAG_HOST_TIMEOUT;
    if (homed) flags |= FLAG_HOMED;
    if (enabled) flags |= FLAG_ENABLED;
    if (hal_diag_active()) flags |= FLAG_DIAG;
    if (clamped) flags |= FLAG_CLAMPED;
    put_u32(&p[0], (uint32_t)pos);
    put_u32(&p[4], (uint32_t)sensor_cdeg(&sensor));
    put_u32(&p[8], (uint32_t)(planner.target * CDEG_PER_STEP));
    put_u32(&p[12], (uint32_t)(int32_t)(stepper_speed() * (float)CDEG_PER_STEP));
    put_u16(&p[16], flags);
    p[18] = fault;
    p[19] = last_seq;
    put_u32(&p[20], now_ms);
}
