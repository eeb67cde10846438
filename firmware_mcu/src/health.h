/* Turntable health window: err = measured - commanded sampled every 1 ms, settling and backlash, for HEALTH. */
#ifndef SWIVEL_HEALTH_H
#define SWIVEL_HEALTH_H
#include <stdbool.h>
#include <stdint.h>

#define HEALTH_LEN 16u              /* HEALTH payload, see PROTOCOL.md */
#define REPORT_HEALTH 0x01u         /* SET_REPORTS bit 0: send HEALTH after each TELEMETRY */
#define HEALTH_NONE_U16 0xFFFFu     /* settle_ms: no finished move yet */
#define HEALTH_NONE_I16 0x7FFF      /* backlash_cdeg: no reversal measured yet */

void health_init(void);
/* SET_REPORTS: keeps the known bits; returns ACK_CLAMPED when unknown bits were set, else ACK_OK. */
uint8_t health_set_reports(uint8_t mask);
bool health_reports_on(void);
/* 1 kHz: the step count now, whether a move is under way, the DIAG line, and (when `sample`) the
 * sensor's angle. Only the main loop calls it: the step interrupt knows nothing of health. */
void health_tick(uint32_t now_ms, int32_t pos_steps, bool moving, bool diag, bool sample, int32_t meas_cdeg);
/* The position was re-synced to the sensor: the jump is not steps, and a reversal in progress is void. */
void health_resync(int32_t pos_steps);
/* Write the window since the last call (HEALTH_LEN bytes) and start a new one. */
void health_report(uint8_t *p);

#endif
