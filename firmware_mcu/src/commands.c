/* Command dispatch: validates payload lengths, executes each new command once, acknowledges everything. */
#include "commands.h"
#include "crc16.h"
#include "hal.h"
#include "health.h"
#include "motion.h"

static frame_decoder_t decoder;
static link_counters_t counters;
static uint8_t last_seq;
static uint8_t last_type;
static uint16_t last_crc;       /* of the last executed frame: a retransmission is byte-identical */
static uint8_t last_result;
static uint16_t last_timeouts;  /* host_timeouts when it was executed */
static uint8_t telemetry_seq;

void commands_init(void)
{
    frame_decoder_init(&decoder);
    last_type = 0;      /* no command type is 0, so the first frame is never a duplicate */
}

/* Checksum of a frame's whole content. Seq and type alone are not enough: the host's 8-bit seq wraps
 * (pings use it too), so a new command can meet the seq of the last one; only a byte-identical frame
 * is a retransmission. */
static uint16_t frame_crc(const frame_t *f)
{
    uint16_t crc = crc16_update(crc16_update(crc16_update(CRC16_INIT, f->type), f->seq), f->len);
    for (uint8_t i = 0; i < f->len; i++) {
        crc = crc16_update(crc, f->payload[i]);
    }
    return crc;
}

const link_counters_t *commands_counters(void) { return &counters; }

static void send(const frame_t *f)
{
    uint8_t buf[FRAME_MAX_ENCODED];
    uint8_t n = frame_encode(f, buf, sizeof buf);
    if (n == 0 || hal_uart_tx_free() < n) {
        counters.tx_dropped++;      /* never block the loop on a full line; the host retransmits */
        return;
    }
    hal_uart_write(buf, n);
    counters.tx_frames++;
}

static void send_ack(uint8_t seq, uint8_t type, uint8_t result)
{
    frame_t f = {.type = MSG_ACK, .seq = seq, .len = 2};
    f.payload[0] = type;
    f.payload[1] = result;
    send(&f);
}

static void send_status(uint8_t seq)
{
    frame_t f = {.type = MSG_STATUS, .seq = seq, .len = STATUS_LEN};
    const motion_counters_t *m = motion_counters();
    const limits_t *l = motion_limits();
    uint16_t c[12] = {counters.rx_ok, counters.rx_crc_errors, counters.rx_format_errors,
                      counters.rx_bad_length, counters.rx_unknown, counters.rx_duplicates,
                      counters.tx_frames, counters.tx_dropped, m->host_timeouts, m->stalls,
                      m->manual_turns, m->step_underruns};
    for (uint8_t i = 0; i < 12; i++) {
        put_u16(&f.payload[2 * i], c[i]);
    }
    put_u32(&f.payload[24], (uint32_t)l->min_cdeg);
    put_u32(&f.payload[28], (uint32_t)l->max_cdeg);
    put_u16(&f.payload[32], l->vmax_cdeg_s);
    put_u16(&f.payload[34], l->amax_cdeg_s2);
    send(&f);
}

/* Expected payload length per command; -1 for unknown types. */
static int8_t expected_len(uint8_t type)
{
    switch (type) {
    case MSG_MOVE: return 8;
    case MSG_SET_LIMITS: return 12;
    case MSG_STOP: case MSG_HOLD: case MSG_RELEASE: case MSG_SET_ZERO:
    case MSG_HOME: case MSG_GET_STATUS: case MSG_CLEAR_FAULT: return 0;
    case MSG_SET_REPORTS: return 1;
    default: return -1;
    }
}

static uint8_t execute(const frame_t *f)
{
    const uint8_t *p = f->payload;
    switch (f->type) {
    case MSG_MOVE:
        return motion_move((int32_t)get_u32(p), get_u16(p + 4), get_u16(p + 6));
    case MSG_STOP: return motion_stop();
    case MSG_HOLD: return motion_hold();
    case MSG_RELEASE: return motion_release();
    case MSG_SET_LIMITS:
        return motion_set_limits((int32_t)get_u32(p), (int32_t)get_u32(p + 4), get_u16(p + 8),
                                 get_u16(p + 10));
    case MSG_SET_ZERO: {
        uint16_t zero;
        uint8_t r = motion_set_zero(&zero);
        if (r == ACK_OK) {
            hal_store_zero(zero);
        }
        return r;
    }
    case MSG_HOME: return motion_home();
    case MSG_CLEAR_FAULT: return motion_clear_fault();
    case MSG_SET_REPORTS: return health_set_reports(p[0]);
    default: return ACK_UNKNOWN;
    }
}

static void handle(const frame_t *f, uint32_t now_ms)
{
    if (f->type == MSG_PING) {
        if (f->len > 8) {
            counters.rx_bad_length++;
            send_ack(f->seq, f->type, ACK_BAD_LENGTH);
            return;
        }
        counters.rx_ok++;
        motion_host_seen(now_ms);
        frame_t r = {.type = MSG_PONG, .seq = f->seq, .len = f->len};
        for (uint8_t i = 0; i < f->len; i++) {
            r.payload[i] = f->payload[i];
        }
        send(&r);
        return;
    }
    int8_t want = expected_len(f->type);
    if (want < 0) {
        counters.rx_unknown++;
        send_ack(f->seq, f->type, ACK_UNKNOWN);
        return;
    }
    if (f->len != (uint8_t)want) {
        counters.rx_bad_length++;
        send_ack(f->seq, f->type, ACK_BAD_LENGTH);
        return;
    }
    counters.rx_ok++;
    motion_host_seen(now_ms);
    if (f->type == MSG_GET_STATUS) {
        send_status(f->seq);
        return;
    }
    uint16_t crc = frame_crc(f);
    /* A retransmission comes within the host's retries (4 x 50 ms), before host silence (250 ms) can
     * brake. After a brake the same frame is the host resending its goal (a resync after a LinkError or
     * a reconnect, seq matching by chance): run it, or the move it asked for stays cut short. */
    uint16_t timeouts = motion_counters()->host_timeouts;
    if (f->seq == last_seq && f->type == last_type && crc == last_crc && timeouts == last_timeouts) {
        counters.rx_duplicates++;   /* a retransmission: our ACK was lost, do not act twice */
        send_ack(f->seq, f->type, last_result);
        return;
    }
    last_result = execute(f);
    last_seq = f->seq;
    last_type = f->type;
    last_crc = crc;
    last_timeouts = timeouts;
    send_ack(f->seq, f->type, last_result);
}

void commands_rx_byte(uint8_t byte, uint32_t now_ms)
{
    /* Static, not on the stack: the same bytes either way (handle reads only what the decoder wrote for
     * this frame), but the proof (firmware_mcu/proofs) can then see that no byte is read uninitialised. */
    static frame_t f;
    switch (frame_decoder_feed(&decoder, byte, &f)) {
    case FRAME_OK: handle(&f, now_ms); break;
    case FRAME_ERR_CRC: counters.rx_crc_errors++; break;
    case FRAME_ERR_FORMAT: counters.rx_format_errors++; break;
    default: break;
    }
}

void commands_send_telemetry(uint32_t now_ms)
{
    frame_t f = {.type = MSG_TELEMETRY, .seq = telemetry_seq++, .len = TELEMETRY_LEN};
    motion_telemetry(f.payload, last_seq, now_ms);
    send(&f);
    /* The window always restarts here, so it is the 20 ms since the last TELEMETRY whenever reports begin. */
    frame_t h = {.type = MSG_HEALTH, .seq = f.seq, .len = HEALTH_LEN};
    health_report(h.payload);
    if (health_reports_on()) {
        send(&h);
    }
}
