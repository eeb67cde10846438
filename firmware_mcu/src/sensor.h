/* AS5600 angle sensor (analog output through the ADC): unwrapping into a continuous turntable angle. */
#ifndef SWIVEL_SENSOR_H
#define SWIVEL_SENSOR_H
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int32_t counts;     /* unwrapped angle in ADC counts relative to the zero */
    uint16_t last_raw;
    uint16_t zero;      /* raw reading at the turntable's 0 degrees */
    bool primed;
} sensor_t;

void sensor_init(sensor_t *s, uint16_t zero);
/* Add one raw reading (0..1023); returns false (and ignores it) when it jumped implausibly far. */
bool sensor_update(sensor_t *s, uint16_t raw);
int32_t sensor_cdeg(const sensor_t *s);
/* The present angle becomes zero. */
void sensor_set_zero(sensor_t *s);
/* Forget the multi-turn history: the next reading is taken within -180..180 degrees of zero. */
void sensor_rehome(sensor_t *s);

#endif
