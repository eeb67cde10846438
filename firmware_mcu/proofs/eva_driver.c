/* EVA driver: the firmware's receive path fed any byte sequence, interleaved with ticks, telemetry and step interrupts. */
#include "__fc_builtin.h"
#include "commands.h"
#include "hal.h"
#include "motion.h"
#include "stepper.h"
/* The dispatch code itself, so the loop's widening hint can name its decoder state. */
#include "../src/commands.c"

/* The loop runs any number of times, each pass taking any byte: EVA's fixpoint over it covers every
 * finite byte sequence, not a sample of them. The other events happen in any order between bytes. */
int main(void)
{
    uint16_t zero;
    bool homed = hal_load_zero(&zero);
    motion_init(zero, homed, hal_reset_by_watchdog());
    commands_init();
    /* The decoder's buffer fill never passes its size: tell the widening where to look first. */
    /*@ loop widen_hints decoder.len, 46; */
    while (Frama_C_nondet(0, 1)) {
        uint8_t byte = (uint8_t)Frama_C_interval(0, 255);
        uint32_t now = hal_millis();
        commands_rx_byte(byte, now);
#ifdef PROOF_WHOLE_LOOP
        if (Frama_C_nondet(0, 1)) {
            uint16_t raw;
            bool have = hal_adc_poll(&raw);
            motion_tick(now, have, raw, hal_diag_active());
        }
        if (Frama_C_nondet(0, 1)) motion_fill();
        if (Frama_C_nondet(0, 1)) stepper_isr();
        if (Frama_C_nondet(0, 1)) commands_send_telemetry(now);
#endif
    }
    return 0;
}
