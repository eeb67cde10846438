/* Turntable plant model for the simulator: steps through the belt to an angle, obstacles, hand pushes, DIAG. */
#ifndef SWIVEL_PLANT_H
#define SWIVEL_PLANT_H
#include <stdbool.h>

#define PLANT_MAX_OBSTACLES 8

typedef struct {
    double table_deg;           /* true turntable heading (world degrees) */
    double deg_per_step;        /* through the belt ratio */
    double sensor_offset_deg;   /* where the AS5600 magnet reads 0 */
    long motor_steps;           /* steps the driver executed (enabled) */
    long lost_steps;            /* steps eaten by an obstacle */
    int lost_run;               /* consecutive lost steps (StallGuard's view) */
    int n_obstacles;
    double obstacles[PLANT_MAX_OBSTACLES];
    double push_rate;           /* deg/s while a hand pushes */
    double push_until_s;
    double last_s;
    double last_step_s;         /* time of the last STEP edge */
    bool diag_enabled;          /* StallGuard configured (off: only the angle sensor can tell) */
} plant_t;

void plant_init(plant_t *p, double deg_per_step);
/* One STEP edge from the firmware. */
void plant_step(plant_t *p, int dir, bool enabled, double now_s);
/* Integrate hand pushes up to now_s. */
void plant_advance(plant_t *p, double now_s);
bool plant_add_obstacle(plant_t *p, double world_deg);
void plant_clear_obstacles(plant_t *p);
void plant_hand_push(plant_t *p, double delta_deg, double duration_s, double now_s);
/* AS5600 analog output in millivolts (0..VDD over one turn). */
unsigned plant_sensor_mv(const plant_t *p, unsigned vdd_mv);
/* TMC2209 DIAG: high while steps keep getting lost (StallGuard only sees a turning motor). */
bool plant_diag(const plant_t *p, double now_s);

#endif
