/* Hardware layer for the proofs: every input the MCU reads from the outside world is nondeterministic (Frama-C). */
#include "__fc_builtin.h"
#include "hal.h"
#include "config.h"

/* Whatever the registers say: EVA explores every value in these ranges. */
void hal_init(void) {}
bool hal_reset_by_watchdog(void) { return Frama_C_nondet(0, 1); }
void hal_step_pulse(void) {}
void hal_set_dir(bool positive) { (void)positive; }
void hal_driver_enable(bool on) { (void)on; }
bool hal_diag_active(void) { return Frama_C_nondet(0, 1); }
void hal_led(bool on) { (void)on; }
void hal_step_timer_start(uint16_t ticks) { (void)ticks; }
void hal_step_timer_set(uint16_t ticks) { (void)ticks; }
void hal_step_timer_stop(void) {}
uint32_t hal_millis(void) { return Frama_C_unsigned_int_interval(0, 0xFFFFFFFFu); }

bool hal_adc_poll(uint16_t *value)
{
    *value = (uint16_t)Frama_C_interval(0, 0xFFFF);     /* the ADC is 10-bit; the code masks it */
    return Frama_C_nondet(0, 1);
}

int hal_uart_getc(void) { return Frama_C_interval(-1, 255); }
uint16_t hal_uart_tx_free(void) { return (uint16_t)Frama_C_interval(0, UART_TX_BUF); }

/* The caller's buffer must really hold len bytes (EVA checks this assertion at every call). That each
 * byte was written is not checked: frame_encode writes all it returns, but this is not proved. */
void hal_uart_write(const uint8_t *data, uint16_t len)
{
    /*@ assert \valid_read(data + (0 .. len - 1)); */
    (void)data;
    (void)len;
}

bool hal_load_zero(uint16_t *counts)
{
    *counts = (uint16_t)Frama_C_interval(0, 0xFFFF);
    return Frama_C_nondet(0, 1);
}

void hal_store_zero(uint16_t counts) { (void)counts; }
uint8_t hal_irq_save(void) { return 0; }
void hal_irq_restore(uint8_t state) { (void)state; }
void hal_watchdog_feed(void) {}
void hal_idle(void) {}
