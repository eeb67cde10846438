/* Swivel MCU configuration: pins, mechanics, hardware limits and timing constants in one place. */
#ifndef SWIVEL_CONFIG_H
#define SWIVEL_CONFIG_H

/* ---- Clock and timers ---- */
#ifndef F_CPU
#define F_CPU 16000000UL
#endif
#define STEP_TIMER_HZ 2000000UL   /* Timer1 at F_CPU/8: 0.5 us per tick */
#define STEP_MIN_TICKS 100u       /* never schedule steps closer than 50 us */

/* ---- Pins (Arduino Nano numbering in comments) ---- */
#define PIN_STEP_PORT PORTD
#define PIN_STEP_DDR DDRD
#define PIN_STEP_BIT 2            /* D2 -> TMC2209 STEP */
#define PIN_DIR_PORT PORTD
#define PIN_DIR_DDR DDRD
#define PIN_DIR_BIT 3             /* D3 -> TMC2209 DIR (high = CCW = positive) */
#define PIN_EN_PORT PORTD
#define PIN_EN_DDR DDRD
#define PIN_EN_BIT 4              /* D4 -> TMC2209 EN (active low) */
#define PIN_DIAG_PIN PIND
#define PIN_DIAG_PORT PORTD
#define PIN_DIAG_DDR DDRD
#define PIN_DIAG_BIT 5            /* D5 <- TMC2209 DIAG (high = StallGuard stall) */
#define PIN_LED_PORT PORTB
#define PIN_LED_DDR DDRB
#define PIN_LED_BIT 5             /* D13 on-board LED */
#define SENSOR_ADC_CHANNEL 0      /* A0 <- AS5600 OUT (analog, 0..VDD over one turn) */

/* ---- Mechanics ---- */
/* 200 full steps x 8 microsteps on the motor, 20T pulley to a 90T turntable ring (4.5:1):
 * 7200 microsteps per turntable turn = 20 steps per degree = 0.05 degree per step. */
#define STEPS_PER_REV 7200L
#define CDEG_PER_STEP 5L          /* centidegrees per step */
#define SENSOR_COUNTS 1024L       /* 10-bit ADC over one AS5600 turn (magnet on the turntable axis) */

/* ---- Hardware limits (the firmware never exceeds these, whatever the host asks) ----
 * Overridable only so the step-rate benchmark can build a variant that probes past them. */
#ifndef HW_VMAX_CDEG_S
#define HW_VMAX_CDEG_S 18000L     /* 180 deg/s */
#endif
#ifndef HW_AMAX_CDEG_S2
#define HW_AMAX_CDEG_S2 36000L    /* 360 deg/s^2 */
#endif
#define HW_AMIN_CDEG_S2 500L      /* 5 deg/s^2: below this the first step would take too long */
#define HW_VMIN_CDEG_S 100L       /* 1 deg/s */
#ifndef HW_MIN_CDEG
#define HW_MIN_CDEG (-18000L)     /* cable wrap: -180 .. +180 degrees */
#endif
#ifndef HW_MAX_CDEG
#define HW_MAX_CDEG 18000L
#endif
#define DEFAULT_VMAX_CDEG_S 9000L /* calm defaults until the host sets limits */
#define DEFAULT_AMAX_CDEG_S2 18000L

/* ---- Supervision ---- */
#define HOST_TIMEOUT_MS 250u      /* stop with controlled deceleration after this much host silence */
#define TELEMETRY_PERIOD_MS 20u   /* 50 Hz */
#define STALL_ERROR_CDEG 300L     /* commanded vs measured divergence that means lost steps */
#define MANUAL_ERROR_CDEG 300L    /* idle divergence that means a hand is turning the table */
#define MANUAL_STILL_MS 500u      /* hand gone once the angle is this still for this long */
#define MANUAL_STILL_CDEG 100L
#define OBSTACLE_BACKOFF_CDEG 100L /* learned obstacle limit sits this far short of the stall point */
#define DIAG_DEBOUNCE_MS 2u

/* ---- Serial ---- */
#define UART_BAUD 250000UL        /* exact at 16 MHz (UBRR 3, error 0 %); FT232/CH340 and the Pi UART support it */
#define UART_RX_BUF 64u           /* power of two */
#define UART_TX_BUF 128u          /* power of two */
#define STEP_QUEUE_LEN 16u        /* power of two */
#define STEP_QUEUE_HORIZON_TICKS 40000UL /* keep at most ~20 ms of steps queued so new goals act fast */

#endif
