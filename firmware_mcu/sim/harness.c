/* Hardware-in-the-loop harness: runs swivel.elf in libsimavr, bridges its UART to a pty, closes the plant loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <avr_adc.h>
#include <avr_extint.h>
#include <avr_ioport.h>
#include <avr_uart.h>
#include <sim_avr.h>
#include <sim_elf.h>

#include "plant.h"

#define STEPS_PER_REV 7200.0    /* must match firmware_mcu/src/config.h */
#define VDD_MV 5000u
#define POLL_US 250             /* plant/pty/stdin service period in simulated time */
#define PIN_STEP 2
#define PIN_DIR 3
#define PIN_EN 4
#define PIN_DIAG 5

typedef struct {
    const char *elf_path;
    const char *pty_link;
    const char *steplog_path;
    const char *isrlog_path;
    unsigned isr_addr, isr_size;     /* byte address/size of the step ISR, for cycle counting */
    double speed;                    /* 1.0 = real time, 0 = as fast as possible */
    unsigned report_ms;
    int fast_plant;
} options_t;

static options_t opt = {.speed = 1.0, .report_ms = 10};
static avr_t *avr;
static plant_t plant;
static int pty_master = -1, pty_slave = -1;
static FILE *steplog, *isrlog;
static int dir_high, en_high = 1;
static int uart_xon = 1;
static uint8_t in_buf[4096];
static size_t in_len;
static uint8_t out_buf[8192];
static size_t out_len;
static int quit_requested;
static int reset_requested;
static struct timespec wall_start;
static double pacing_slip;               /* seconds of lag forgiven so far */
static avr_cycle_count_t cycle_start;
static unsigned report_countdown;
static avr_irq_t *adc_irq, *diag_irq, *uart_in_irq;
static int last_diag = -1;
static unsigned last_mv = ~0u;
static long step_edges;
static long mcu_resets;                   /* resets seen (watchdog or command) */
static avr_cycle_count_t last_tick_cycle; /* when service_tick last ran */
static avr_cycle_count_t last_rx_cycle;   /* when the last host byte entered the UART */
static avr_cycle_count_t isr_entry;
static char stdin_line[512];
static size_t stdin_len;

static double sim_seconds(void) { return (double)avr->cycle / (double)avr->frequency; }

static double wall_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - wall_start.tv_sec) + (double)(now.tv_nsec - wall_start.tv_nsec) * 1e-9;
}

/* Feed the firmware's inputs from the plant: AS5600 voltage and DIAG level. */
static void update_inputs(void)
{
    unsigned mv = plant_sensor_mv(&plant, VDD_MV);
    if (mv != last_mv) {
        last_mv = mv;
        avr_raise_irq(adc_irq, mv);
    }
    int d = plant_diag(&plant, sim_seconds()) ? 1 : 0;
    if (d != last_diag) {
        last_diag = d;
        avr_raise_irq(diag_irq, d);
    }
}

static void flush_uart_out(void);

static void on_step(struct avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq; (void)param;
    if (!value) {
        return;                       /* rising edge = one step */
    }
    int dir = dir_high ? 1 : -1;
    step_edges++;
    if (steplog) {
        fprintf(steplog, "%llu %d %d\n", (unsigned long long)avr->cycle, dir, en_high ? 0 : 1);
    }
    plant_step(&plant, dir, !en_high, sim_seconds());
    if (!opt.fast_plant) {
        update_inputs();              /* the sensor follows every step, not only every millisecond */
    }
}

static void on_dir(struct avr_irq_t *irq, uint32_t value, void *param) { (void)irq; (void)param; dir_high = value != 0; }
static void on_en(struct avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq; (void)param;
    en_high = value != 0;
    plant_enable(&plant, !en_high, sim_seconds());
}

static void on_uart_out(struct avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq; (void)param;
    if (out_len < sizeof out_buf) {
        out_buf[out_len++] = (uint8_t)value;
    }
    if (value == 0) {
        flush_uart_out();             /* end of a frame: hand it to the host now, not at the next tick */
    }
}

static void on_xon(struct avr_irq_t *irq, uint32_t value, void *param) { (void)irq; (void)value; (void)param; uart_xon = 1; }
static void on_xoff(struct avr_irq_t *irq, uint32_t value, void *param) { (void)irq; (void)value; (void)param; uart_xon = 0; }

static void flush_uart_out(void)
{
    size_t done = 0;
    while (done < out_len) {
        ssize_t n = write(pty_master, out_buf + done, out_len - done);
        if (n <= 0) {
            break;                    /* nobody reading: drop, as a disconnected line would */
        }
        done += (size_t)n;
    }
    out_len = 0;
}

static void pump_uart_in(void)
{
    if (in_len < sizeof in_buf) {
        ssize_t n = read(pty_master, in_buf + in_len, sizeof in_buf - in_len);
        if (n > 0) {
            in_len += (size_t)n;
        }
    }
    size_t used = 0;
    while (used < in_len && uart_xon) {
        avr_raise_irq(uart_in_irq, in_buf[used++]);
        last_rx_cycle = avr->cycle;
    }
    if (used) {
        memmove(in_buf, in_buf + used, in_len - used);
        in_len -= used;
    }
}

static void report_state(void)
{
    printf("state %.6f %.4f %ld %d %d %ld %ld %ld\n", sim_seconds(), plant.table_deg, plant.motor_steps,
           en_high ? 0 : 1, plant_diag(&plant, sim_seconds()) ? 1 : 0, plant.lost_steps, step_edges, mcu_resets);
}

static avr_cycle_count_t service_tick(avr_t *a, avr_cycle_count_t when, void *param);

static const char *const fault_names[PLANT_FAULT_KINDS] = {
    "friction", "snag", "belt_slip", "backlash", "sensor_offset", "sensor_noise"};

/* `fault KIND SEVERITY [ANGLE_DEG [WIDTH_DEG]]` (plant.h says what each severity means). */
static void handle_fault(const char *line)
{
    char kind[32];
    double sev = 0, at = NAN, width = NAN;
    int n = sscanf(line, "%*s %31s %lf %lf %lf", kind, &sev, &at, &width);
    for (int k = 0; n >= 2 && k < PLANT_FAULT_KINDS; k++) {
        if (!strcmp(kind, fault_names[k])) {
            if (plant_set_fault(&plant, (plant_fault_t)k, sev, n >= 3 ? at : NAN, n >= 4 ? width : NAN)) {
                printf("ok fault\n");
            } else {
                printf("error bad fault: %s\n", line);
            }
            return;
        }
    }
    printf("error unknown fault: %s\n", line);
}

static void handle_command(char *line)
{
    char cmd[32];
    double a = 0, b = 0;
    int n = sscanf(line, "%31s %lf %lf", cmd, &a, &b);
    if (n < 1) {
        return;
    }
    if (!strcmp(cmd, "fault")) {
        handle_fault(line);
    } else if (!strcmp(cmd, "clear_faults")) {
        plant_clear_faults(&plant);
        printf("ok clear_faults\n");
    } else if (!strcmp(cmd, "obstacle") && n == 2) {
        printf(plant_add_obstacle(&plant, a) ? "ok obstacle\n" : "error too many obstacles\n");
    } else if (!strcmp(cmd, "diag") && n == 2) {
        plant.diag_enabled = a != 0;
        printf("ok diag\n");
    } else if (!strcmp(cmd, "clear")) {
        plant_clear_obstacles(&plant);
        printf("ok clear\n");
    } else if (!strcmp(cmd, "push") && n == 3) {
        plant_hand_push(&plant, a, b, sim_seconds());
        printf("ok push\n");
    } else if (!strcmp(cmd, "set_angle") && n == 2) {
        plant_place(&plant, a);       /* place the turntable (e.g. before power-up) */
        update_inputs();
        printf("ok set_angle\n");
    } else if (!strcmp(cmd, "reset")) {
        reset_requested = 1;            /* not from inside a cycle timer: avr_reset clears their list */
        printf("ok reset\n");
    } else if (!strcmp(cmd, "sync")) {
        if (steplog) fflush(steplog);
        if (isrlog) fflush(isrlog);
        report_state();
        printf("ok sync %llu %llu\n", (unsigned long long)avr->cycle, (unsigned long long)last_rx_cycle);
    } else if (!strcmp(cmd, "quit")) {
        quit_requested = 1;
        printf("ok quit\n");
    } else {
        printf("error unknown command: %s\n", line);
    }
}

static void pump_stdin(void)
{
    struct pollfd pfd = {.fd = 0, .events = POLLIN};
    while (poll(&pfd, 1, 0) > 0) {
        if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) {
            if (!(pfd.revents & POLLIN)) {
                quit_requested = 1;   /* parent went away */
                return;
            }
        }
        char c;
        ssize_t n = read(0, &c, 1);
        if (n <= 0) {
            quit_requested = 1;
            return;
        }
        if (c == '\n') {
            stdin_line[stdin_len] = 0;
            handle_command(stdin_line);
            stdin_len = 0;
        } else if (stdin_len + 1 < sizeof stdin_line) {
            stdin_line[stdin_len++] = c;
        }
    }
}

/* Every POLL_US of simulated time: plant, serial, commands, reports, and pacing against the wall clock. */
static avr_cycle_count_t service_tick(avr_t *a, avr_cycle_count_t when, void *param)
{
    (void)param;
    last_tick_cycle = a->cycle;
    plant_advance(&plant, sim_seconds());
    plant_sample_noise(&plant);
    update_inputs();
    flush_uart_out();
    pump_uart_in();
    pump_stdin();
    if (report_countdown-- == 0) {
        report_countdown = opt.report_ms * (1000 / POLL_US) - 1;
        report_state();
        fflush(stdout);
    }
    if (opt.speed > 0) {
        /* Ahead of the wall clock: wait, but wake at once for serial input so replies stay prompt. */
        double ahead = (double)(a->cycle - cycle_start) / a->frequency / opt.speed - wall_seconds() + pacing_slip;
        if (ahead < -0.02) {
            /* Fell behind (the machine was busy): let the lag go instead of racing to catch up, which
             * would stretch the host's real-time gaps into long simulated silences. */
            pacing_slip -= ahead;
            ahead = 0.0;
        }
        if (ahead > 0.0002) {
            struct pollfd pfd = {.fd = pty_master, .events = POLLIN};
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(ahead * 1e9)};
            if (ts.tv_nsec > 999999999L) ts.tv_nsec = 999999999L;
            if (ppoll(&pfd, 1, &ts, NULL) > 0) {
                pump_uart_in();
            }
        }
    }
    return when + (avr_cycle_count_t)a->frequency / (1000000 / POLL_US);
}

static void no_sleep(avr_t *a, avr_cycle_count_t how_long) { (void)a; (void)how_long; }

static int open_pty(void)
{
    char name[256];
    if (openpty(&pty_master, &pty_slave, name, NULL, NULL) < 0) {
        perror("openpty");
        return -1;
    }
    struct termios t;
    tcgetattr(pty_slave, &t);
    cfmakeraw(&t);
    tcsetattr(pty_slave, TCSANOW, &t);
    fcntl(pty_master, F_SETFL, fcntl(pty_master, F_GETFL) | O_NONBLOCK);
    /* pty_slave stays open so the master never sees EIO when a client disconnects. */
    if (opt.pty_link) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp%d", opt.pty_link, (int)getpid());
        unlink(tmp);
        if (symlink(name, tmp) < 0 || rename(tmp, opt.pty_link) < 0) {
            perror("pty link");
            return -1;
        }
    }
    printf("pty %s\n", name);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: swivel-sim --elf FILE [--pty-link PATH] [--steplog FILE] [--isrlog FILE --isr ADDR:SIZE]\n"
                    "                  [--speed X (1=real time, 0=unpaced)] [--report-ms N] [--fast-plant]\n");
}

int main(int argc, char **argv)
{
    static struct option longopts[] = {
        {"elf", required_argument, 0, 'e'}, {"pty-link", required_argument, 0, 'p'},
        {"steplog", required_argument, 0, 's'}, {"isrlog", required_argument, 0, 'l'},
        {"isr", required_argument, 0, 'i'}, {"speed", required_argument, 0, 'x'},
        {"report-ms", required_argument, 0, 'r'}, {"fast-plant", no_argument, 0, 'f'},
        {"angle", required_argument, 0, 'a'}, {0, 0, 0, 0}};
    double start_angle = 0.0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': opt.elf_path = optarg; break;
        case 'p': opt.pty_link = optarg; break;
        case 's': opt.steplog_path = optarg; break;
        case 'l': opt.isrlog_path = optarg; break;
        case 'i': if (sscanf(optarg, "%x:%u", &opt.isr_addr, &opt.isr_size) != 2) { usage(); return 2; } break;
        case 'x': opt.speed = atof(optarg); break;
        case 'r': opt.report_ms = (unsigned)atoi(optarg); if (!opt.report_ms) opt.report_ms = 1; break;
        case 'f': opt.fast_plant = 1; break;
        case 'a': start_angle = atof(optarg); break;
        default: usage(); return 2;
        }
    }
    if (!opt.elf_path) {
        usage();
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);

    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(opt.elf_path, &fw) != 0) {
        fprintf(stderr, "swivel-sim: cannot read firmware %s\n", opt.elf_path);
        return 1;
    }
    avr = avr_make_mcu_by_name("atmega328p");
    if (!avr) {
        fprintf(stderr, "swivel-sim: atmega328p not supported by this simavr\n");
        return 1;
    }
    avr_init(avr);
    avr->log = LOG_ERROR;
    avr_load_firmware(avr, &fw);
    avr->frequency = 16000000;
    avr->vcc = avr->avcc = avr->aref = VDD_MV;
    avr->sleep = no_sleep;            /* pacing is ours, not simavr's usleep */

    /* STEP and DIR sit on INT0/INT1; simavr would poll their "low level" trigger every cycle. */
    avr_extint_set_strict_lvl_trig(avr, 0, 0);
    avr_extint_set_strict_lvl_trig(avr, 1, 0);
    uint32_t flags = 0;
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);   /* no stdio echo, no poll-sleep */

    plant_init(&plant, 360.0 / STEPS_PER_REV);
    plant_place(&plant, start_angle);

    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), PIN_STEP), on_step, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), PIN_DIR), on_dir, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), PIN_EN), on_en, NULL);
    diag_irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), PIN_DIAG);
    adc_irq = avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0);
    uart_in_irq = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), on_uart_out, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON), on_xon, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), on_xoff, NULL);

    if (opt.steplog_path && !(steplog = fopen(opt.steplog_path, "w"))) {
        perror(opt.steplog_path);
        return 1;
    }
    if (opt.isrlog_path && !(isrlog = fopen(opt.isrlog_path, "w"))) {
        perror(opt.isrlog_path);
        return 1;
    }
    if (open_pty() < 0) {
        return 1;
    }
    update_inputs();
    clock_gettime(CLOCK_MONOTONIC, &wall_start);
    cycle_start = avr->cycle;
    avr_cycle_timer_register_usec(avr, POLL_US, service_tick, NULL);

    /* ISR probe: entry at the vector's first word, exit at its last (reti). Word addresses in simavr are bytes. */
    avr_flashaddr_t isr_first = opt.isr_addr, isr_last = opt.isr_addr + opt.isr_size - 2;
    int state = cpu_Running;
    unsigned long runs = 0;
    while (!quit_requested) {
        state = avr_run(avr);
        if (reset_requested) {
            reset_requested = 0;
            avr_cycle_count_t now = avr->cycle;
            avr_reset(avr);
            if (avr->cycle < now) {
                avr->cycle = now;       /* simulated time keeps running through a reset */
            }
            mcu_resets++;
            last_mv = ~0u;
            last_diag = -1;
            update_inputs();
            last_tick_cycle = avr->cycle;
            avr_cycle_timer_register_usec(avr, POLL_US, service_tick, NULL);
        }
        /* A reset of the MCU (watchdog, or the `reset` command) clears every cycle timer, ours too. */
        if ((++runs & 0xFFF) == 0 && avr->cycle - last_tick_cycle > 8ull * avr->frequency / (1000000 / POLL_US)) {
            mcu_resets++;
            last_tick_cycle = avr->cycle;
            avr_cycle_timer_register_usec(avr, POLL_US, service_tick, NULL);
        }
        if (state == cpu_Done || state == cpu_Crashed) {
            break;
        }
        if (isrlog) {
            if (avr->pc == isr_first) {
                isr_entry = avr->cycle;
            } else if (avr->pc == isr_last && isr_entry) {
                fprintf(isrlog, "%llu %llu\n", (unsigned long long)isr_entry,
                        (unsigned long long)(avr->cycle + 4 - isr_entry));   /* reti takes 4 cycles */
                isr_entry = 0;
            }
        }
    }
    if (steplog) fclose(steplog);
    if (isrlog) fclose(isrlog);
    if (state == cpu_Crashed) {
        printf("crashed pc=0x%x\n", avr->pc);
        return 3;
    }
    return 0;
}
