/* Hardware abstraction: the few AVR specifics the portable motion logic needs (AVR and host builds). */
#ifndef SWIVEL_HAL_H
#define SWIVEL_HAL_H
#include <stdbool.h>
#include <stdint.h>

void hal_init(void);
/* True when the last reset was caused by the watchdog (a hung main loop). */
bool hal_reset_by_watchdog(void);

/* Step/dir/enable outputs of the TMC2209 and its DIAG input. */
void hal_step_pulse(void);
void hal_set_dir(bool positive);
void hal_driver_enable(bool on);
bool hal_diag_active(void);
void hal_led(bool on);

/* Step timer (STEP_TIMER_HZ ticks). start: begin counting from zero; set: next compare value. */
void hal_step_timer_start(uint16_t ticks);
void hal_step_timer_set(uint16_t ticks);
void hal_step_timer_stop(void);

/* Milliseconds since boot (1 kHz tick). */
uint32_t hal_millis(void);

/* Latest AS5600 reading (0..1023); returns false when no new conversion finished since the last call. */
bool hal_adc_poll(uint16_t *value);

/* Serial: non-blocking. getc returns -1 when empty; tx_free is the space left in the transmit buffer. */
int hal_uart_getc(void);
uint16_t hal_uart_tx_free(void);
void hal_uart_write(const uint8_t *data, uint16_t len);

/* Persistent zero offset of the angle sensor; returns false when never stored. */
bool hal_load_zero(uint16_t *counts);
void hal_store_zero(uint16_t counts);

/* Critical sections around data shared with the step interrupt. */
uint8_t hal_irq_save(void);
void hal_irq_restore(uint8_t state);

/* Main loop housekeeping: feed the watchdog; sleep until the next interrupt when there is no work. */
void hal_watchdog_feed(void);
void hal_idle(void);

#endif
