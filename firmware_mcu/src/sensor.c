/* Sensor unwrapping: the analog AS5600 wraps every turn, the turntable may not, so we track turns. */
#include "sensor.h"
#include "config.h"

#define HALF_TURN (SENSOR_COUNTS / 2)
#define MAX_JUMP_COUNTS 100     /* 35 degrees between 1 ms samples is not a real motion */

static int16_t wrap_counts(int32_t c)
{
    while (c >= HALF_TURN) {
        c -= SENSOR_COUNTS;
    }
    while (c < -HALF_TURN) {
        c += SENSOR_COUNTS;
    }
    return (int16_t)c;
}

void sensor_init(sensor_t *s, uint16_t zero)
{
    s->counts = 0;
    s->last_raw = zero;
    s->zero = zero;
    s->primed = false;
}

bool sensor_update(sensor_t *s, uint16_t raw)
{
    raw &= (uint16_t)(SENSOR_COUNTS - 1);
    if (!s->primed) {
        s->counts = wrap_counts((int32_t)raw - (int32_t)s->zero);
        s->last_raw = raw;
        s->primed = true;
        return true;
    }
    int16_t delta = wrap_counts((int32_t)raw - (int32_t)s->last_raw);
    if (delta > MAX_JUMP_COUNTS || delta < -MAX_JUMP_COUNTS) {
        return false;
    }
    s->counts += delta;
    s->last_raw = raw;
    return true;
}

int32_t sensor_cdeg(const sensor_t *s)
{
    /* 36000 cdeg / 1024 counts = 1125/32 */
    return (s->counts * 1125L) / 32L;
}

void sensor_set_zero(sensor_t *s)
{
    s->zero = s->last_raw;
    s->counts = 0;
}

void sensor_rehome(sensor_t *s)
{
    s->counts = wrap_counts((int32_t)s->last_raw - (int32_t)s->zero);
}
