/* Host build of the hardware layer: state the unit tests can drive and inspect. */
#ifndef SWIVEL_HAL_HOST_H
#define SWIVEL_HAL_HOST_H
#include <stdbool.h>
#include <stdint.h>

extern uint32_t host_millis;
extern uint16_t host_adc;
extern bool host_adc_fresh;
extern bool host_diag;
extern bool host_driver_on;
extern bool host_dir_positive;
extern long host_step_count;
extern bool host_timer_running;
extern uint16_t host_timer_compare;
extern uint8_t host_tx[4096];
extern uint16_t host_tx_len;

/* Queue bytes for hal_uart_getc. */
void host_uart_inject(const uint8_t *data, uint16_t len);

#endif
