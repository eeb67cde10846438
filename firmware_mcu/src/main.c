/* Swivel turntable firmware entry point: the main loop that ties serial, planner and supervision together. */
#include "commands.h"
#include "config.h"
#include "hal.h"
#include "motion.h"

int main(void)
{
    hal_init();
    uint16_t zero = 0;
    bool homed = hal_load_zero(&zero);
    motion_init(zero, homed, hal_reset_by_watchdog());
    commands_init();

    uint32_t last_tick = hal_millis();
    uint32_t last_telemetry = last_tick;
    for (;;) {
        hal_watchdog_feed();
        bool busy = false;
        int c;
        uint8_t budget = 16;            /* bound the bytes per pass so the step queue stays fed */
        while (budget-- && (c = hal_uart_getc()) >= 0) {
            commands_rx_byte((uint8_t)c, hal_millis());
            busy = true;
        }
        busy |= motion_fill();
        uint32_t now = hal_millis();
        if (now != last_tick) {
            last_tick = now;
            uint16_t raw;
            bool have = hal_adc_poll(&raw);
            motion_tick(now, have, raw, hal_diag_active());
            motion_fill();
            hal_led(motion_moving() || ((now >> 9) & 1u && motion_fault()));
            busy = true;
        }
        if ((uint32_t)(now - last_telemetry) >= TELEMETRY_PERIOD_MS) {
            last_telemetry = now;
            commands_send_telemetry(now);
        }
        if (!busy) {
            hal_idle();
        }
    }
}
