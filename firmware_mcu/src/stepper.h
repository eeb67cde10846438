/* Step generation: a queue of planned step intervals consumed by the step-timer interrupt. */
#ifndef SWIVEL_STEPPER_H
#define SWIVEL_STEPPER_H
#include <stdbool.h>
#include <stdint.h>
#include "planner.h"

void stepper_init(int32_t pos);
/* Append a planned step; returns false when the queue is full. Starts the timer when idle. */
bool stepper_push(const step_cmd_t *cmd);
/* True when more steps should be planned now (queue short in count or in time). */
bool stepper_wants_more(void);
bool stepper_running(void);
int32_t stepper_position(void);
/* Only while not running (e.g. to follow a hand turn or after homing). */
void stepper_set_position(int32_t pos);
/* Signed speed (steps/s) of the step being timed now; 0 when idle. */
float stepper_speed(void);
/* Emergency stop: drop every queued step at once (used on stall). Returns the position reached. */
int32_t stepper_flush(void);
/* Body of the step-timer compare interrupt. */
void stepper_isr(void);

#endif
