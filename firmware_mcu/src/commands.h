/* Command dispatch: decoded frames in, replies out; duplicate detection and protocol counters. */
#ifndef SWIVEL_COMMANDS_H
#define SWIVEL_COMMANDS_H
#include <stdint.h>
#include "protocol.h"

typedef struct {
    uint16_t rx_ok;
    uint16_t rx_crc_errors;
    uint16_t rx_format_errors;
    uint16_t rx_bad_length;
    uint16_t rx_unknown;
    uint16_t rx_duplicates;
    uint16_t tx_frames;
    uint16_t tx_dropped;
} link_counters_t;

void commands_init(void);
/* Feed one received byte; acts on complete, valid frames. */
void commands_rx_byte(uint8_t byte, uint32_t now_ms);
/* Send a telemetry frame (dropped if the transmit buffer is full). */
void commands_send_telemetry(uint32_t now_ms);
const link_counters_t *commands_counters(void);

#endif
