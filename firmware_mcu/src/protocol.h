/* Serial frame codec and message layouts: COBS-framed [type, seq, payload, crc16] with a 0x00 delimiter. */
#ifndef SWIVEL_PROTOCOL_H
#define SWIVEL_PROTOCOL_H
#include <stdbool.h>
#include <stdint.h>

#define FRAME_MAX_PAYLOAD 40u
#define FRAME_MAX_RAW (2u + FRAME_MAX_PAYLOAD + 2u)       /* type, seq, payload, crc */
#define FRAME_MAX_ENCODED (FRAME_MAX_RAW + 2u)           /* one COBS code byte per 254, plus delimiter */

/* Host -> MCU commands. */
enum {
    MSG_PING = 0x01,        /* payload: 0..8 opaque bytes, echoed in PONG */
    MSG_MOVE = 0x02,        /* i32 target_cdeg, u16 vmax_cdeg_s (0 = limit), u16 amax_cdeg_s2 (0 = limit) */
    MSG_STOP = 0x03,        /* decelerate to rest, keep holding torque */
    MSG_HOLD = 0x04,        /* energise the driver and hold the current position */
    MSG_RELEASE = 0x05,     /* decelerate, then de-energise the driver (free to turn by hand) */
    MSG_SET_LIMITS = 0x06,  /* i32 min_cdeg, i32 max_cdeg, u16 vmax_cdeg_s, u16 amax_cdeg_s2 */
    MSG_SET_ZERO = 0x07,    /* the present angle becomes 0 (stored); only at rest */
    MSG_HOME = 0x08,        /* take the position from the absolute sensor and its stored zero */
    MSG_GET_STATUS = 0x09,  /* reply: STATUS */
    MSG_CLEAR_FAULT = 0x0A, /* clear stall/fault latches and learned obstacle limits */
    MSG_SET_REPORTS = 0x0B, /* u8 mask: bit 0 = HEALTH after each TELEMETRY; unknown bits ACK CLAMPED */
};

/* MCU -> host messages. */
enum {
    MSG_ACK = 0x80,         /* seq = acknowledged seq; u8 acked type, u8 result */
    MSG_TELEMETRY = 0x81,   /* seq = running counter; see telemetry layout below */
    MSG_STATUS = 0x82,      /* seq = request seq; counters and limits */
    MSG_PONG = 0x83,        /* seq = request seq; echoed payload */
    MSG_HEALTH = 0x84,      /* seq = the TELEMETRY it follows; the 20 ms window's health (health.h) */
};

/* ACK result codes. */
enum {
    ACK_OK = 0,
    ACK_CLAMPED = 1,        /* done, but target/speed/accel were limited */
    ACK_REJECTED = 2,       /* not possible now (e.g. SET_ZERO while moving) */
    ACK_BAD_LENGTH = 3,     /* truncated or oversized payload; not acted on */
    ACK_UNKNOWN = 4,        /* unknown type; not acted on */
};

/* Telemetry flag bits. */
enum {
    FLAG_MOVING = 1u << 0,
    FLAG_STALLED = 1u << 1,
    FLAG_MANUAL = 1u << 2,
    FLAG_AT_LIMIT = 1u << 3,
    FLAG_FAULT = 1u << 4,
    FLAG_HOST_TIMEOUT = 1u << 5,
    FLAG_HOMED = 1u << 6,
    FLAG_ENABLED = 1u << 7,
    FLAG_DIAG = 1u << 8,
    FLAG_CLAMPED = 1u << 9,
};

/* Fault reasons. */
enum {
    FAULT_NONE = 0,
    FAULT_STALL_SENSOR = 1, /* commanded and measured angle diverged: lost steps */
    FAULT_STALL_DIAG = 2,   /* the driver's StallGuard raised DIAG */
    FAULT_SENSOR = 3,       /* the angle sensor jumped implausibly */
    FAULT_WATCHDOG = 4,     /* the MCU restarted after a watchdog reset */
};

#define TELEMETRY_LEN 24u   /* i32 pos, i32 meas, i32 target, i32 vel, u16 flags, u8 fault, u8 last_seq, u32 ms */
#define STATUS_LEN 36u      /* 12 x u16 counters, i32 min, i32 max, u16 vmax, u16 amax */

typedef struct {
    uint8_t type;
    uint8_t seq;
    uint8_t len;
    uint8_t payload[FRAME_MAX_PAYLOAD];
} frame_t;

typedef enum {
    FRAME_NONE = 0,     /* need more bytes */
    FRAME_OK,           /* *out holds a frame whose CRC matched */
    FRAME_ERR_CRC,      /* well-formed COBS, wrong CRC */
    FRAME_ERR_FORMAT,   /* bad COBS, too short or too long */
} frame_status_t;

typedef struct {
    uint8_t buf[FRAME_MAX_ENCODED];
    uint8_t len;
    bool overflow;
} frame_decoder_t;

void frame_decoder_init(frame_decoder_t *d);
/* Feed one received byte; a complete frame is reported when the 0x00 delimiter arrives. */
frame_status_t frame_decoder_feed(frame_decoder_t *d, uint8_t byte, frame_t *out);
/* Encode a frame (with delimiter) into out; returns its length, or 0 if cap is too small. */
uint8_t frame_encode(const frame_t *f, uint8_t *out, uint8_t cap);

/* Little-endian field helpers. */
static inline void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | ((uint16_t)p[1] << 8)); }
static inline uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

#endif
