/* Stepper: the ISR only pops a precomputed interval and pulses STEP, so its time per step stays small. */
#include "stepper.h"
#include "config.h"
#include "hal.h"

#define QMASK (STEP_QUEUE_LEN - 1u)

static volatile step_cmd_t queue[STEP_QUEUE_LEN];
static volatile uint8_t q_head;          /* written by the main loop */
static volatile uint8_t q_tail;          /* written by the ISR */
static volatile uint32_t queued_ticks;   /* total time of the queued steps */
static volatile int32_t position;
static volatile int8_t cur_dir;          /* direction of the step being timed */
static volatile uint32_t cur_ticks;      /* its interval, for the speed estimate */
static volatile uint32_t long_wait;      /* ticks still to wait before the pending step (long intervals) */
static volatile bool running;

/* Load an interval into the timer, splitting those longer than the 16-bit compare register. */
static inline void load_interval(uint32_t ticks)
{
    if (ticks > 65535u) {
        long_wait = ticks - 32768u;
        hal_step_timer_set(32768u);
    } else {
        long_wait = 0;
        hal_step_timer_set((uint16_t)ticks);
    }
}

void stepper_init(int32_t pos)
{
    hal_step_timer_stop();
    q_head = q_tail = 0;
    queued_ticks = 0;
    position = pos;
    cur_dir = 1;
    cur_ticks = 0;
    long_wait = 0;
    running = false;
}

bool stepper_push(const step_cmd_t *cmd)
{
    uint8_t st = hal_irq_save();
    bool ok = true;
    if (!running) {
        cur_dir = cmd->dir;
        cur_ticks = cmd->ticks;
        hal_set_dir(cmd->dir > 0);
        running = true;
        if (cmd->ticks > 65535u) {
            long_wait = cmd->ticks - 32768u;
            hal_step_timer_start(32768u);
        } else {
            long_wait = 0;
            hal_step_timer_start((uint16_t)cmd->ticks);
        }
    } else if (((q_head + 1u) & QMASK) == q_tail) {
        ok = false;
    } else {
        queue[q_head].ticks = cmd->ticks;
        queue[q_head].dir = cmd->dir;
        q_head = (q_head + 1u) & QMASK;
        queued_ticks += cmd->ticks;
    }
    hal_irq_restore(st);
    return ok;
}

bool stepper_wants_more(void)
{
    uint8_t st = hal_irq_save();
    uint8_t n = (uint8_t)((q_head - q_tail) & QMASK);
    uint32_t t = queued_ticks;
    hal_irq_restore(st);
    if (n >= STEP_QUEUE_LEN - 1u) {
        return false;
    }
    return n < 2u || t < STEP_QUEUE_HORIZON_TICKS;
}

bool stepper_running(void)
{
    return running;
}

int32_t stepper_position(void)
{
    uint8_t st = hal_irq_save();
    int32_t p = position;
    hal_irq_restore(st);
    return p;
}

void stepper_set_position(int32_t pos)
{
    uint8_t st = hal_irq_save();
    if (!running) {
        position = pos;
    }
    hal_irq_restore(st);
}

float stepper_speed(void)
{
    uint8_t st = hal_irq_save();
    bool r = running;
    int8_t d = cur_dir;
    uint32_t t = cur_ticks;
    hal_irq_restore(st);
    if (!r || t == 0) {
        return 0.0f;
    }
    float v = (float)STEP_TIMER_HZ / (float)t;
    return d > 0 ? v : -v;
}

int32_t stepper_flush(void)
{
    uint8_t st = hal_irq_save();
    hal_step_timer_stop();
    q_head = q_tail = 0;
    queued_ticks = 0;
    long_wait = 0;
    running = false;
    cur_ticks = 0;
    int32_t p = position;
    hal_irq_restore(st);
    return p;
}

void stepper_isr(void)
{
    if (long_wait) {
        uint32_t w = long_wait;
        if (w > 65535u) {
            long_wait = w - 32768u;
            hal_step_timer_set(32768u);
        } else {
            long_wait = 0;
            hal_step_timer_set((uint16_t)w);
        }
        return;
    }
    hal_step_pulse();
    position += cur_dir;
    uint8_t t = q_tail;
    if (t != q_head) {
        uint32_t ticks = queue[t].ticks;
        int8_t d = queue[t].dir;
        q_tail = (t + 1u) & QMASK;
        queued_ticks -= ticks;
        if (d != cur_dir) {
            cur_dir = d;
            hal_set_dir(d > 0);     /* after this step, well before the next one */
        }
        cur_ticks = ticks;
        load_interval(ticks);
    } else {
        hal_step_timer_stop();
        running = false;
        cur_ticks = 0;
    }
}
