/* Motion supervisor: owns planner, limits and sensor; handles stall, hand turns and host silence. */
#ifndef SWIVEL_MOTION_H
#define SWIVEL_MOTION_H
#include <stdbool.h>
#include <stdint.h>
#include "limits.h"

typedef struct {
    uint16_t host_timeouts;
    uint16_t stalls;
    uint16_t manual_turns;
    uint16_t sensor_glitches;
    uint16_t step_underruns;    /* the step queue ran dry mid-move: the planner fell behind */
} motion_counters_t;

void motion_init(uint16_t zero_counts, bool homed, bool after_watchdog);
/* Commands (return an ACK_* code). */
uint8_t motion_move(int32_t target_cdeg, uint16_t vmax, uint16_t amax);
uint8_t motion_stop(void);
uint8_t motion_hold(void);
uint8_t motion_release(void);
uint8_t motion_set_limits(int32_t min_cdeg, int32_t max_cdeg, uint16_t vmax, uint16_t amax);
uint8_t motion_set_zero(uint16_t *zero_out);
uint8_t motion_home(void);
uint8_t motion_clear_fault(void);

/* A valid frame arrived from the host (resets the silence timer). */
void motion_host_seen(uint32_t now_ms);
/* Keep the step queue fed; call as often as possible. Returns true if it planned steps. */
bool motion_fill(void);
/* 1 kHz supervision: new sensor reading (if any), DIAG line, host silence. */
void motion_tick(uint32_t now_ms, bool have_raw, uint16_t raw, bool diag);
/* Telemetry payload (TELEMETRY_LEN bytes). */
void motion_telemetry(uint8_t *p, uint8_t last_seq, uint32_t now_ms);
const limits_t *motion_limits(void);
const motion_counters_t *motion_counters(void);
bool motion_moving(void);
bool motion_fault(void);

#endif
