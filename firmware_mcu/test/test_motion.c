/* Unit tests of the supervisor on the host HAL: frames in, steps out, host silence, stall and hand turn. */
#include "check.h"
#include "commands.h"
#include "config.h"
#include "hal.h"
#include "hal_host.h"
#include "motion.h"
#include "protocol.h"
#include "stepper.h"
#include <string.h>

static uint32_t ticks_left;     /* timer ticks until the step ISR fires */
static long table_offset;       /* steps the table is away from the motor (slip, hand) */
static bool blocked;            /* an obstacle eats every step */

static void send_cmd(uint8_t type, uint8_t seq, const uint8_t *payload, uint8_t len)
{
    frame_t f = {.type = type, .seq = seq, .len = len};
    if (len) memcpy(f.payload, payload, len);
    uint8_t enc[FRAME_MAX_ENCODED];
    uint8_t n = frame_encode(&f, enc, sizeof enc);
    for (uint8_t i = 0; i < n; i++) commands_rx_byte(enc[i], host_millis);
}

static void move(uint8_t seq, int32_t target, uint16_t v, uint16_t a)
{
    uint8_t p[8];
    put_u32(p, (uint32_t)target); put_u16(p + 4, v); put_u16(p + 6, a);
    send_cmd(MSG_MOVE, seq, p, 8);
}

static uint16_t adc_for_steps(long steps)
{
    long s = ((steps % STEPS_PER_REV) + STEPS_PER_REV) % STEPS_PER_REV;
    return (uint16_t)(s * SENSOR_COUNTS / STEPS_PER_REV);
}

/* Advance simulated time by ms milliseconds, firing the step ISR when its interval runs out. */
static void run_ms(int ms)
{
    for (int m = 0; m < ms; m++) {
        for (uint32_t t = 0; t < STEP_TIMER_HZ / 1000; t++) {
            motion_fill();
            if (!host_timer_running) { ticks_left = 0; continue; }
            if (ticks_left == 0) ticks_left = host_timer_compare;
            if (--ticks_left == 0) {
                long before = host_step_count;
                stepper_isr();
                if (blocked) table_offset -= host_step_count - before;
                ticks_left = host_timer_running ? host_timer_compare : 0;
            }
        }
        host_millis++;
        host_adc = adc_for_steps(host_step_count + table_offset);
        host_adc_fresh = true;
        uint16_t raw;
        bool have = hal_adc_poll(&raw);
        motion_tick(host_millis, have, raw, host_diag);
    }
}

static uint16_t flags_now(void)
{
    uint8_t t[TELEMETRY_LEN];
    motion_telemetry(t, 0, host_millis);
    return get_u16(&t[16]);
}

int main(void)
{
    host_adc = adc_for_steps(0);
    host_adc_fresh = true;
    motion_init(0, true, false);
    commands_init();
    run_ms(5);

    /* A move runs to the exact step count and is acknowledged. */
    move(1, 4500, 9000, 18000);          /* 45 degrees */
    CHECK(host_tx_len > 0);
    for (int i = 0; i < 20; i++) { run_ms(50); send_cmd(MSG_PING, 2, NULL, 0); }
    run_ms(600);
    send_cmd(MSG_PING, 3, NULL, 0);
    CHECK_MSG(host_step_count == 900, "steps %ld", host_step_count);
    CHECK(stepper_position() == 900 && !motion_moving());

    /* A bad-length MOVE is counted and not acted on. */
    uint8_t junk[5] = {1, 2, 3, 4, 5};
    send_cmd(MSG_MOVE, 4, junk, 5);
    run_ms(50);
    CHECK(commands_counters()->rx_bad_length == 1 && host_step_count == 900);
    /* An unknown type likewise. */
    send_cmd(0x55, 5, junk, 2);
    CHECK(commands_counters()->rx_unknown == 1);

    /* Host silence: the motor stops without reaching a far target. */
    move(6, -9000, 9000, 18000);
    run_ms(1500);
    CHECK(!motion_moving());
    CHECK(flags_now() & FLAG_HOST_TIMEOUT);
    CHECK(host_step_count > -1800 && host_step_count < 900);
    /* The host resyncs and sends that goal again, byte for byte and (by chance) with the same seq: after
     * the brake it is not a retransmission, so it runs to the target. */
    move(6, -9000, 9000, 18000);
    CHECK(commands_counters()->rx_duplicates == 0);
    for (int i = 0; i < 40; i++) { run_ms(50); send_cmd(MSG_PING, 7, NULL, 0); }
    CHECK_MSG(host_step_count == -1800, "steps %ld", host_step_count);

    /* Retransmitted command (same seq) is not executed twice. */
    move(7, 0, 9000, 18000);
    run_ms(200);
    long at = host_step_count;
    move(7, 0, 9000, 18000);
    CHECK(commands_counters()->rx_duplicates == 1);
    (void)at;
    for (int i = 0; i < 40; i++) { run_ms(50); send_cmd(MSG_PING, 8, NULL, 0); }
    CHECK(host_step_count == 0);

    /* The host's seq wraps: a new MOVE that happens to carry the last MOVE's seq is still executed. */
    move(7, 4500, 9000, 18000);
    CHECK(commands_counters()->rx_duplicates == 1);
    for (int i = 0; i < 20; i++) { run_ms(50); send_cmd(MSG_PING, 8, NULL, 0); }
    CHECK(host_step_count == 900);
    move(7, 0, 9000, 18000);
    for (int i = 0; i < 20; i++) { run_ms(50); send_cmd(MSG_PING, 8, NULL, 0); }
    CHECK(host_step_count == 0);

    /* Obstacle: steps are lost, the supervisor detects the stall and stops. */
    move(9, 9000, 9000, 18000);
    run_ms(100);
    blocked = true;
    for (int i = 0; i < 10; i++) { run_ms(50); send_cmd(MSG_PING, 10, NULL, 0); }
    CHECK(flags_now() & FLAG_STALLED);
    CHECK(!motion_moving());
    CHECK(motion_counters()->stalls == 1);
    blocked = false;

    /* Hand turn while idle: driver released and manual reported. */
    move(11, stepper_position() * CDEG_PER_STEP - 1000, 9000, 18000);   /* away from the obstacle */
    for (int i = 0; i < 10; i++) { run_ms(50); send_cmd(MSG_PING, 12, NULL, 0); }
    CHECK(!motion_moving() && host_driver_on);
    for (int i = 0; i < 100; i++) { table_offset += 2; run_ms(2); }
    CHECK(flags_now() & FLAG_MANUAL);
    CHECK(!host_driver_on);
    run_ms(700);
    CHECK(!(flags_now() & FLAG_MANUAL) && host_driver_on);
    /* A sensor that reads garbage: fault, and moves are refused until it reads sanely again. */
    for (int i = 0; i < 40; i++) {
        host_millis++;
        motion_tick(host_millis, true, (uint16_t)((host_adc + 300 + (i % 2) * 300) & 1023), false);
    }
    CHECK(motion_fault() && (flags_now() & FLAG_FAULT));
    CHECK(motion_move(0, 0, 0) == ACK_REJECTED);
    CHECK(motion_clear_fault() == ACK_REJECTED);
    run_ms(30);                                   /* sane readings again */
    CHECK(motion_clear_fault() == ACK_OK && !motion_fault());
    DONE("motion");
}
