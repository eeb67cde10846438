/* Turntable plant model for the simulator: a stepper through a compliant belt to the table, faults, obstacles, DIAG. */
#ifndef SWIVEL_PLANT_H
#define SWIVEL_PLANT_H
#include <stdbool.h>
#include <stdint.h>

#define PLANT_MAX_OBSTACLES 8

/* Injected faults (plant_set_fault); each kind at most once, set again to change it. */
typedef enum {
    PLANT_FRICTION = 0,   /* severity: extra load, fraction of the holding torque; angle/width: a stiff sector */
    PLANT_SNAG,           /* severity: load at its centre, fraction of the holding torque (>= 1 stalls there) */
    PLANT_BELT_SLIP,      /* severity: fraction of the motor's travel lost at the normal running load */
    PLANT_BACKLASH,       /* severity: dead band on reversal, degrees */
    PLANT_SENSOR_OFFSET,  /* severity: degrees added to the sensor (the magnet shifted) */
    PLANT_SENSOR_NOISE,   /* severity: degrees RMS of noise on each sensor reading */
    PLANT_FAULT_KINDS
} plant_fault_t;

typedef struct {
    double severity;
    double angle_deg;           /* friction (optional), snag: centre, world degrees */
    double width_deg;           /* full width of the raised-cosine profile */
    bool on;
    bool local;                 /* friction: only around angle_deg */
} plant_fault_param_t;

typedef struct {
    double table_deg;           /* true turntable heading (world degrees) */
    double table_vel;           /* deg/s */
    double drive_deg;           /* the belt's drive end (rotor through the ratio), table degrees */
    double last_stretch;        /* spring stretch at the previous integration step (for damping) */
    double dyn_s;               /* dynamics integrated up to here */
    double deg_per_step;        /* through the belt ratio */
    double sensor_offset_deg;   /* where the AS5600 magnet reads 0 */
    double noise_now_deg;       /* this reading's sensor noise (plant_sample_noise) */
    uint64_t rng;
    long motor_steps;           /* steps the driver executed (enabled) */
    long lost_steps;            /* steps eaten by an obstacle or by a load over the holding torque */
    int lost_run;               /* consecutive lost steps (StallGuard's view) */
    int n_obstacles;
    double obstacles[PLANT_MAX_OBSTACLES];
    double push_rate;           /* deg/s while a hand pushes */
    double push_until_s;
    double last_s;
    double last_step_s;         /* time of the last STEP edge */
    bool diag_enabled;          /* StallGuard configured (off: only the angle sensor can tell) */
    bool enabled;               /* driver energised (holding torque on the rotor) */
    plant_fault_param_t fault[PLANT_FAULT_KINDS];
} plant_t;

void plant_init(plant_t *p, double deg_per_step);
/* One STEP edge from the firmware. */
void plant_step(plant_t *p, int dir, bool enabled, double now_s);
/* The driver's EN line changed (off: the rotor turns freely with the belt). */
void plant_enable(plant_t *p, bool enabled, double now_s);
/* Integrate the drive train and hand pushes up to now_s. */
void plant_advance(plant_t *p, double now_s);
bool plant_add_obstacle(plant_t *p, double world_deg);
void plant_clear_obstacles(plant_t *p);
void plant_hand_push(plant_t *p, double delta_deg, double duration_s, double now_s);
/* Place the turntable (drive train relaxed) at an angle. */
void plant_place(plant_t *p, double world_deg);
/* Faults: angle_deg/width_deg < 0 or NaN = not given (defaults: friction everywhere, snag 6 degrees wide). */
bool plant_set_fault(plant_t *p, plant_fault_t kind, double severity, double angle_deg, double width_deg);
void plant_clear_faults(plant_t *p);
/* Draw the next sensor reading's noise (called once per harness tick). */
void plant_sample_noise(plant_t *p);
/* AS5600 analog output in millivolts (0..VDD over one turn). */
unsigned plant_sensor_mv(const plant_t *p, unsigned vdd_mv);
/* TMC2209 DIAG: high while steps keep getting lost (StallGuard only sees a turning motor). */
bool plant_diag(const plant_t *p, double now_s);

#endif
