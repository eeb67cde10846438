/* Host hardware layer: plain variables instead of registers, so motion logic runs in unit tests. */
#include "hal.h"
#include "hal_host.h"
#include <string.h>

uint32_t host_millis;
uint16_t host_adc;
bool host_adc_fresh;
bool host_diag;
bool host_driver_on;
bool host_dir_positive;
long host_step_count;
bool host_timer_running;
uint16_t host_timer_compare;
uint8_t host_tx[4096];
uint16_t host_tx_len;

static uint8_t rx[4096];
static uint16_t rx_len, rx_pos;
static bool zero_stored;
static uint16_t zero_value;

void host_uart_inject(const uint8_t *data, uint16_t len)
{
    if (rx_pos == rx_len) {
        rx_pos = rx_len = 0;
    }
    if (len > sizeof rx - rx_len) {
        len = (uint16_t)(sizeof rx - rx_len);
    }
    memcpy(&rx[rx_len], data, len);
    rx_len = (uint16_t)(rx_len + len);
}

void hal_init(void) {}
bool hal_reset_by_watchdog(void) { return false; }
void hal_step_pulse(void) { host_step_count += host_dir_positive ? 1 : -1; }
void hal_set_dir(bool positive) { host_dir_positive = positive; }
void hal_driver_enable(bool on) { host_driver_on = on; }
bool hal_diag_active(void) { return host_diag; }
void hal_led(bool on) { (void)on; }
void hal_step_timer_start(uint16_t ticks) { host_timer_running = true; host_timer_compare = ticks; }
void hal_step_timer_set(uint16_t ticks) { host_timer_compare = ticks; }
void hal_step_timer_stop(void) { host_timer_running = false; }
uint32_t hal_millis(void) { return host_millis; }

bool hal_adc_poll(uint16_t *value)
{
    bool fresh = host_adc_fresh;
    *value = host_adc;
    host_adc_fresh = false;
    return fresh;
}

int hal_uart_getc(void) { return rx_pos < rx_len ? rx[rx_pos++] : -1; }
uint16_t hal_uart_tx_free(void) { return (uint16_t)(sizeof host_tx - host_tx_len); }

void hal_uart_write(const uint8_t *data, uint16_t len)
{
    if (len > sizeof host_tx - host_tx_len) {
        len = (uint16_t)(sizeof host_tx - host_tx_len);
    }
    memcpy(&host_tx[host_tx_len], data, len);
    host_tx_len = (uint16_t)(host_tx_len + len);
}

bool hal_load_zero(uint16_t *counts)
{
    *counts = zero_value;
    return zero_stored;
}

void hal_store_zero(uint16_t counts)
{
    zero_value = counts;
    zero_stored = true;
}

uint8_t hal_irq_save(void) { return 0; }
void hal_irq_restore(uint8_t state) { (void)state; }
void hal_watchdog_feed(void) {}
void hal_idle(void) {}
